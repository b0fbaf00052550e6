// Process-wide dynamic batching in the manner of Triton's dynamic batcher: concurrent requests
// (each carrying one or more rows) are merged into one model execution. A batch is flushed when it
// holds `maxBatchSize` rows or when its oldest request has waited `maxQueueDelayMs`. The queue is
// bounded in rows and refuses new work when full. Each request gets its own rows back, in order;
// a failed execution fails exactly the requests of that batch.

export interface BatcherOptions {
  /** Rows per execution; a single request larger than this runs alone, unsplit. */
  maxBatchSize: number;
  /** Longest a request waits for companions before its batch is flushed. */
  maxQueueDelayMs: number;
  /** Rows waiting (not yet executing) beyond which new requests are refused. */
  maxQueueRows: number;
  /** Executions allowed to run at once. */
  maxConcurrentBatches: number;
}

export class QueueFullError extends Error {
  override name = 'QueueFullError';
  constructor(readonly queuedRows: number, readonly limit: number) {
    super(`Inference queue is full (${queuedRows} rows waiting, limit ${limit})`);
  }
}

export interface BatchStats {
  rows: number;
  requests: number;
  /** Milliseconds the oldest request of the batch waited before execution started. */
  queueDelayMs: number;
}

interface Pending<I, O> {
  rows: I[];
  enqueuedAt: number;
  resolve(out: O[]): void;
  reject(err: unknown): void;
}

export class MicroBatcher<I, O> {
  private queue: Pending<I, O>[] = [];
  private queuedRows = 0;
  private running = 0;
  private timer: NodeJS.Timeout | undefined;
  private draining = false;

  constructor(
    private readonly execute: (rows: I[]) => Promise<O[]>,
    private readonly options: BatcherOptions,
    private readonly onBatch?: (stats: BatchStats) => void,
  ) {}

  get queueRows(): number {
    return this.queuedRows;
  }

  submit(rows: I[]): Promise<O[]> {
    if (rows.length === 0) return Promise.resolve([]);
    if (this.queuedRows > 0 && this.queuedRows + rows.length > this.options.maxQueueRows) {
      return Promise.reject(new QueueFullError(this.queuedRows, this.options.maxQueueRows));
    }
    return new Promise<O[]>((resolve, reject) => {
      this.queue.push({ rows, enqueuedAt: performance.now(), resolve, reject });
      this.queuedRows += rows.length;
      this.schedule();
    });
  }

  /**
   * From now on nothing waits for companions: queued requests leave at once, and so do later ones.
   * Called at shutdown so draining never waits out a queue delay.
   */
  drain(): void {
    this.draining = true;
    this.schedule();
  }

  private schedule(): void {
    while (this.queue.length > 0 && this.running < this.options.maxConcurrentBatches) {
      const full = this.queuedRows >= this.options.maxBatchSize;
      const waited = performance.now() - this.queue[0].enqueuedAt;
      if (!full && !this.draining && waited < this.options.maxQueueDelayMs) {
        this.timer ??= setTimeout(() => {
          this.timer = undefined;
          this.schedule();
        }, Math.max(0, this.options.maxQueueDelayMs - waited));
        return;
      }
      this.flush();
    }
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch: Pending<I, O>[] = [];
    let rows = 0;
    while (this.queue.length > 0) {
      const next = this.queue[0];
      if (batch.length > 0 && rows + next.rows.length > this.options.maxBatchSize) break;
      batch.push(next);
      rows += next.rows.length;
      this.queue.shift();
    }
    this.queuedRows -= rows;
    this.running += 1;
    const startedAt = performance.now();
    this.onBatch?.({ rows, requests: batch.length, queueDelayMs: startedAt - batch[0].enqueuedAt });
    const input = batch.length === 1 ? batch[0].rows : batch.flatMap((p) => p.rows);
    void this.run(batch, input);
  }

  private async run(batch: Pending<I, O>[], input: I[]): Promise<void> {
    try {
      const output = await this.execute(input);
      if (output.length !== input.length) throw new Error(`Execution returned ${output.length} results for ${input.length} rows`);
      let offset = 0;
      for (const p of batch) {
        p.resolve(output.slice(offset, offset + p.rows.length));
        offset += p.rows.length;
      }
    } catch (err) {
      for (const p of batch) p.reject(err);
    } finally {
      this.running -= 1;
      this.schedule();
    }
  }
}
