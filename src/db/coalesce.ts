// Cross-request statement coalescing. Each GraphQL request has its own DataLoaders, so one request
// asking for one customer sends its own statements; under load, many requests ask for one customer
// each at the same moment. A Coalescer merges such lookups — of one kind and one group (e.g. the
// features at one scoring time) — into one statement with all their keys: PostgreSQL's per-statement
// cost (parse, plan, executor start-up, a round trip) and the client's (Prisma, the driver, a turn of
// the event loop) are then paid once per batch instead of once per request.
//
// Adaptive, without a timer: lookups wait only for the end of the current turn of the event loop
// (setImmediate) while fewer than `maxInFlight` statements of this kind run; when they all run,
// lookups queue and go together in the next statement as soon as one returns. An idle server thus
// answers a lone request as before; a busy one sends fewer, larger statements.
//
// Consistency: a lookup only ever joins a statement that has not been sent yet, so it reads the
// database as of some moment after it was asked for — a request sees its own earlier writes, as it
// did with per-request statements. A statement that fails fails exactly the lookups it carried.

export interface CoalescerOptions {
  /** Keys per statement at most; a single lookup with more keys runs alone, unsplit. */
  maxKeys: number;
  /** Statements of this kind running at once (the others queue). */
  maxInFlight: number;
}

interface Lookup<K, V> {
  group: string;
  keys: readonly K[];
  resolve(values: (V | undefined)[]): void;
  reject(err: unknown): void;
}

export class Coalescer<K, V> {
  private queue: Lookup<K, V>[] = [];
  private inFlight = 0;
  private scheduled = false;
  /** Statements sent and lookups they carried (tests and benchmarks read them). */
  statements = 0;
  lookups = 0;

  constructor(
    /** One statement for the distinct keys of one group: values by key (absent = none). */
    private readonly fetch: (group: string, keys: K[]) => Promise<Map<K, V>>,
    private readonly options: CoalescerOptions = { maxKeys: 1000, maxInFlight: 2 },
  ) {}

  /** The values of `keys` in order (undefined = none), read by a statement sent after this call. */
  load(group: string, keys: readonly K[]): Promise<(V | undefined)[]> {
    if (keys.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      this.queue.push({ group, keys, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.options.maxInFlight || this.queue.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      while (this.inFlight < this.options.maxInFlight && this.queue.length > 0) this.send();
    });
  }

  /** Sends the oldest lookup's group: every queued lookup of that group, up to maxKeys keys. */
  private send(): void {
    const group = this.queue[0].group;
    const batch: Lookup<K, V>[] = [];
    const keys = new Set<K>();
    const rest: Lookup<K, V>[] = [];
    for (const lookup of this.queue) {
      const fits = batch.length === 0 || (lookup.group === group && keys.size + lookup.keys.length <= this.options.maxKeys);
      if (lookup.group === group && fits) {
        batch.push(lookup);
        for (const k of lookup.keys) keys.add(k);
      } else rest.push(lookup);
    }
    this.queue = rest;
    this.inFlight += 1;
    this.statements += 1;
    this.lookups += batch.length;
    this.fetch(group, [...keys]).then(
      (found) => {
        for (const lookup of batch) lookup.resolve(lookup.keys.map((k) => found.get(k)));
      },
      (err) => {
        for (const lookup of batch) lookup.reject(err);
      },
    ).finally(() => {
      this.inFlight -= 1;
      this.schedule();
    });
  }
}
