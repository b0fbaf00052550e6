// Servers under load and what each request costs, shared by `npm run bench` (bench/run.ts, sections
// 2 and 4) and the standalone serving check below:
//  - the API (src/main.ts) in a child process, on PostgreSQL or on the embedded database (DATA_DIR);
//  - closed-loop load with autocannon (keep-alive) or with fetch (for Werkzeug, which closes every
//    connection);
//  - CPU per request: the server process's user + system time (/proc; every thread: the event loop,
//    ONNX Runtime's threads and, on the embedded database, PGlite's thread), the PostgreSQL backends
//    serving the database (pg_stat_activity pids, /proc), and the load generator (this process).
//    Wall-clock figures on a shared 2-core machine move with the other load; CPU per request moves
//    far less, and says which side bounds the throughput.
//
// Standalone (a database that already holds the demo customers; nothing is seeded or dropped):
//   npx tsx bench/serving.ts --database-url postgresql://…/db [--clients 64] [--duration 10] [--cpu-prof DIR]
//   npx tsx bench/serving.ts --data-dir DIR …          (the embedded database in DIR)
//   … --root DIR                                       (run the server of another checkout, for before/after)
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import autocannon from 'autocannon';
import { processCpuSeconds, samplePostgresCpu, threadCpuSeconds, threadsCpuSeconds } from './cpu.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const sleep = (t: number) => new Promise((r) => setTimeout(r, t));

export function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------- child processes
export interface Child {
  proc: ChildProcess;
  url: string;
  output: () => string;
  stop(): Promise<void>;
}

export function startChild(cmd: string, args: string[], env: NodeJS.ProcessEnv, baseUrl: string, ready: () => Promise<boolean>, cwd = ROOT): Promise<Child> {
  const proc = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (b: Buffer) => {
    out = (out + b.toString()).slice(-20_000);
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  const child: Child = {
    proc,
    url: baseUrl,
    output: () => out,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(t);
    },
  };
  return (async () => {
    const deadline = Date.now() + 90_000;
    let lastError = '';
    while (Date.now() < deadline) {
      if (proc.exitCode !== null) throw new Error(`${cmd} ${args.join(' ')} exited with ${proc.exitCode}:\n${out}`);
      if (await ready().catch((e: Error) => ((lastError = e.message), false))) return child;
      await sleep(250);
    }
    await child.stop();
    throw new Error(`${cmd} ${args.join(' ')} not ready after 90 s (${lastError}):\n${out}`);
  })();
}

export async function gql(url: string, query: string, variables: object = {}): Promise<any> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }), signal: AbortSignal.timeout(60_000) });
  const json = (await res.json()) as { errors?: unknown[]; data?: any };
  if (json.errors || !res.ok) throw new Error(`HTTP ${res.status}: ${JSON.stringify(json.errors ?? json).slice(0, 500)}`);
  return json.data;
}

/** Where the API under test keeps its data: a PostgreSQL database, or an embedded data directory. */
export type ApiDatabase = { databaseUrl: string } | { dataDir: string };

export interface ApiOptions {
  asOf: string;
  batching?: 'on' | 'off';
  /** Environment over the defaults below; `undefined` unsets a variable (the service's own default). */
  env?: Record<string, string | undefined>;
  /** Write a V8 CPU profile of the server into this directory when it stops. */
  cpuProfDir?: string;
  /** Another checkout to run the server from (before/after comparisons); default this one. */
  root?: string;
  /** Node flags before `--import tsx src/main.ts` (default: those of the `start` script, as shipped). */
  nodeArgs?: string[];
}

/**
 * The node flags and environment of the product's `npm start` (package.json), so the server under
 * test runs as shipped: e.g. `MALLOC_MMAP_THRESHOLD_=… node --import tsx src/main.ts`.
 */
export function startCommand(root = ROOT): { nodeArgs: string[]; env: Record<string, string> } {
  const script: string = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).scripts?.start ?? '';
  const words = script.split(/\s+/);
  const node = words.indexOf('node');
  const env: Record<string, string> = {};
  for (const w of words.slice(0, Math.max(0, node))) {
    const m = /^([A-Z_][A-Z0-9_]*)=(?:\$\{\1:-([^}]*)\}|(.*))$/.exec(w);
    if (m) env[m[1]] = process.env[m[1]] ?? m[2] ?? m[3];
  }
  const nodeArgs: string[] = [];
  for (const w of words.slice(node + 1)) {
    if (w === '--import' || !w.startsWith('--')) break;
    nodeArgs.push(w);
  }
  return { nodeArgs, env };
}

/** The product's own start command (`npm start`'s node flags, src/main.ts) on a free port: no credentials, no rate limit, no prediction cache, no background scoring. */
export async function startApi(database: ApiDatabase, options: ApiOptions): Promise<Child> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOST: '127.0.0.1',
    PORT: String(port),
    NODE_ENV: 'development',
    LOG_LEVEL: 'warn',
    AUTH_MODE: 'off',
    RATE_LIMIT_POINTS: '0',
    SCORING_AS_OF: options.asOf,
    PREDICTION_CACHE_CUSTOMERS: '0',
    // A fresh database has no stored scores: the server would refresh all of them in the background
    // at start-up (BACKGROUND_SCORING) while the load runs. The load cells measure the steady state.
    BACKGROUND_SCORING: 'off',
    INFERENCE_BATCHING: options.batching ?? 'on',
  };
  if ('databaseUrl' in database) env.DATABASE_URL = database.databaseUrl;
  else {
    delete env.DATABASE_URL;
    env.DATA_DIR = database.dataDir;
    env.DEMO_CUSTOMERS = '0';
  }
  const prof = options.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`] : [];
  const shipped = startCommand(options.root);
  Object.assign(env, shipped.env, options.env);
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  return startChild(process.execPath, [...(options.nodeArgs ?? shipped.nodeArgs), ...prof, '--import', 'tsx', 'src/main.ts'], env, `${base}/graphql`, async () => {
    await gql(`${base}/graphql`, '{ customers(first: 1) { edges { node { id segment } } } }');
    return true;
  }, options.root);
}

/** Counters of the service so far, from its /metrics. */
export interface ServiceCounters {
  /** Rows inferred and session.run calls of the model. */
  rows: number;
  runs: number;
  /** Seconds inside session.run of the model (wall time on ONNX Runtime's threads). */
  computeSeconds: number;
  /** Statements of the cross-request coalescers and the per-request lookups they carried. */
  statements: number;
  lookups: number;
}

export async function serviceCounters(graphqlUrl: string, model: string): Promise<ServiceCounters> {
  const text = await (await fetch(graphqlUrl.replace(/\/graphql$/, '/metrics'))).text();
  const sum = (name: string, labels: RegExp) => {
    let total = 0;
    for (const m of text.matchAll(new RegExp(`^${name}\\{([^}]*)\\} ([0-9.e+-]+)$`, 'gm'))) if (labels.test(m[1])) total += Number(m[2]);
    return total;
  };
  const ofModel = new RegExp(`(^|,)model="${model}"(,|$)`);
  return {
    rows: sum('inference_count_total', ofModel),
    runs: sum('inference_exec_count_total', ofModel),
    computeSeconds: sum('inference_compute_duration_seconds_sum', ofModel),
    statements: sum('db_coalesced_statements_total', /./),
    lookups: sum('db_coalesced_lookups_total', /./),
  };
}

// ---------------------------------------------------------------- load
export interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  failed: number;
  meanBatch?: number;
  cpu?: CpuPerRequest;
  /** Seconds the load ran (for the busy fractions). */
  seconds?: number;
  /**
   * CPU µs per request of inference: session.run at the cell's mean batch size, timed alone (all
   * threads). The server runs it on its inference thread (INFERENCE_THREAD), so this is part of
   * the server's CPU but not of its main thread's.
   */
  inferenceUs?: number;
  /** Per-request lookups per statement of the cross-request coalescers (1 = no merging). */
  lookupsPerStatement?: number;
}

/** Closed-loop load with autocannon (keep-alive connections). */
export async function load(url: string, connections: number, seconds: number, body: () => string): Promise<LoadResult> {
  const r = await autocannon({
    url,
    connections,
    duration: seconds,
    method: 'POST',
    timeout: 30,
    headers: { 'content-type': 'application/json' },
    requests: [{ setupRequest: (req) => ({ ...req, body: body() }) }],
  });
  return { rps: r.requests.total / r.duration, p50: r.latency.p50, p99: r.latency.p99, requests: r.requests.total, failed: r.errors + r.timeouts + r.non2xx, seconds: r.duration };
}

/**
 * Closed-loop load with fetch (undici): `connections` loops, each sending the next request when the
 * previous one is answered, for `seconds`. Used for the Flask baseline: Werkzeug's dev server closes
 * the connection after every response, and autocannon then reports latencies that cannot be right
 * (mean latency × requests far above connections × duration); fetch reconnects per request and times each.
 */
export async function loadFetch(url: string, connections: number, seconds: number, body: () => string): Promise<LoadResult> {
  const latencies: number[] = [];
  let failed = 0;
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < end) {
        const s = performance.now();
        try {
          const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body(), signal: AbortSignal.timeout(30_000) });
          await res.arrayBuffer();
          if (!res.ok) failed++;
          else latencies.push(performance.now() - s);
        } catch {
          failed++;
        }
      }
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;
  return { rps: latencies.length / elapsed, p50: Math.round(pct(latencies, 50)), p99: Math.round(pct(latencies, 99)), requests: latencies.length, failed, seconds: elapsed };
}

// ---------------------------------------------------------------- CPU
// (the samplers live in cpu.ts, shared with run.ts and import.ts)

/** µs of CPU per answered request, by side. */
export interface CpuPerRequest {
  /** The server process (every thread: event loop, ONNX Runtime, PGlite's thread when embedded). */
  server: number;
  /** Of which its main thread (Node's event loop; Python's main thread for Flask). */
  mainThread: number;
  /** The PostgreSQL backends of the database (undefined on the embedded database). */
  postgres?: number;
  /** The load generator (this process). */
  loadgen: number;
}

/** Runs a load and measures the CPU each side spent on it, per answered request. */
export async function withCpu(serverPid: number | undefined, postgres: { adminUrl: string; database: string } | undefined, run: () => Promise<LoadResult>): Promise<LoadResult> {
  const sampler = postgres ? samplePostgresCpu(postgres.adminUrl, postgres.database) : undefined;
  await sampler?.ready; // its first look: the backends' CPU before the run
  const main = () => (serverPid ? threadCpuSeconds(serverPid, serverPid) : 0);
  const server0 = processCpuSeconds(serverPid);
  const main0 = main();
  const self0 = process.cpuUsage();
  const r = await run();
  const self = process.cpuUsage(self0);
  const server = processCpuSeconds(serverPid) - server0;
  const mainThread = main() - main0;
  const pgSeconds = sampler ? await sampler.stop() : undefined;
  const per = (s: number) => (s * 1e6) / Math.max(1, r.requests);
  r.cpu = { server: per(server), mainThread: per(mainThread), postgres: pgSeconds === undefined ? undefined : per(pgSeconds), loadgen: (self.user + self.system) / Math.max(1, r.requests) };
  return r;
}

/**
 * What bounds a load run's throughput, from its CPU per request: how busy the cores were with this
 * run (its server, PostgreSQL backends and load generator: CPU per request × req/s ÷ cores) and the
 * server's main thread (the event loop, which runs on one core at most; inference runs there too).
 * Whichever is near 100 % is the bound; when none is, the requests wait on something else — other
 * processes on the machine (see the load average), or round trips.
 */
export function boundOf(r: LoadResult, cores: number, serverLabel: string, oneCoreServer = false): { verdict: string; detail: string } {
  const c = r.cpu;
  if (!c) return { verdict: '–', detail: '–' };
  const busy = (us: number) => (us * r.rps) / 1e6;
  const total = c.server + (c.postgres ?? 0) + c.loadgen;
  const machine = busy(total) / cores;
  // Node's event loop is one thread; Python's threads share one core (the GIL).
  const single = busy(oneCoreServer ? c.server : c.mainThread);
  const singleName = oneCoreServer ? `${serverLabel} (one core: the GIL)` : `${serverLabel}'s main thread`;
  const share = (us: number) => `${Math.round((100 * us) / total)}`;
  const detail =
    `cores ${Math.round(100 * machine)} % busy (${serverLabel} ${share(c.server)}${c.postgres === undefined ? '' : ` / PostgreSQL ${share(c.postgres)}`} / load gen ${share(c.loadgen)} % of it); ` +
    `${oneCoreServer ? serverLabel : 'main thread'} ${Math.round(100 * single)} % of a core` +
    (r.inferenceUs === undefined ? '' : `; inference ≈ ${Math.round((100 * r.inferenceUs) / c.server)} % of the server's CPU`);
  const verdict = single >= 0.85 ? singleName : machine >= 0.85 ? `CPU (${cores} cores), mostly ${c.postgres !== undefined && c.postgres > c.server ? 'PostgreSQL' : serverLabel}` : 'none saturated (other load / round trips)';
  return { verdict, detail };
}

/** Every customer id the API serves, in its order (pages of 1,000). */
export async function customerIds(graphqlUrl: string): Promise<string[]> {
  const ids: string[] = [];
  let after: string | null = null;
  for (;;) {
    const d = await gql(graphqlUrl, 'query($after: String) { customers(first: 1000, after: $after) { edges { cursor node { id } } } }', { after });
    const edges = d.customers.edges as { cursor: string; node: { id: string } }[];
    ids.push(...edges.map((e) => e.node.id));
    if (edges.length < 1000) return ids;
    after = edges[edges.length - 1].cursor;
  }
}

// ---------------------------------------------------------------- standalone
async function standalone() {
  const { parseArgs } = await import('node:util');
  const os = await import('node:os');
  const { values } = parseArgs({
    options: {
      'database-url': { type: 'string' },
      'data-dir': { type: 'string' },
      'admin-url': { type: 'string', default: process.env.BENCH_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres' },
      clients: { type: 'string', default: '64' },
      duration: { type: 'string', default: '10' },
      batching: { type: 'string', default: 'on' },
      'cpu-prof': { type: 'string' },
      'as-of': { type: 'string', default: '2026-01-01T00:00:00.000Z' },
      root: { type: 'string' },
      'node-args': { type: 'string' },
    },
  });
  if (!values['database-url'] === !values['data-dir']) throw new Error('give --database-url or --data-dir');
  const database: ApiDatabase = values['database-url'] ? { databaseUrl: values['database-url'] } : { dataDir: path.resolve(values['data-dir']!) };
  const api = await startApi(database, { asOf: values['as-of']!, batching: values.batching as 'on' | 'off', cpuProfDir: values['cpu-prof'], root: values.root, nodeArgs: values['node-args']?.split(' ').filter(Boolean) });
  try {
    const ids = await customerIds(api.url);
    let s = 42;
    const next = () => ((s = (s * 1103515245 + 12345) % 2 ** 31), s / 2 ** 31);
    const one = 'query($id: ID!) { customer(id: $id) { segment probability } }';
    const body = () => JSON.stringify({ query: one, variables: { id: ids[Math.floor(next() * ids.length)] } });
    await load(api.url, 16, 2, body);
    const pgDb = values['database-url'] ? { adminUrl: values['admin-url']!, database: new URL(values['database-url']).pathname.slice(1) } : undefined;
    const loadBefore = os.loadavg()[0];
    const counters0 = await serviceCounters(api.url, 'xgboost-segment');
    const threads0 = threadsCpuSeconds(api.proc.pid);
    const r = await withCpu(api.proc.pid, pgDb, () => load(api.url, Number(values.clients), Number(values.duration), body));
    const threads = [...threadsCpuSeconds(api.proc.pid)].map(([name, cpu]) => [name, Math.round(((cpu - (threads0.get(name) ?? 0)) * 1e6) / r.requests)] as const);
    console.error('server threads, CPU µs per request:', Object.fromEntries(threads.filter(([, us]) => us > 0).sort((a, b) => b[1] - a[1])));
    console.log(
      JSON.stringify({
        customers: ids.length,
        clients: Number(values.clients),
        rps: Math.round(r.rps),
        p50: r.p50,
        p99: r.p99,
        failed: r.failed,
        cpuUsPerRequest: { server: Math.round(r.cpu!.server), mainThread: Math.round(r.cpu!.mainThread), postgres: r.cpu!.postgres === undefined ? null : Math.round(r.cpu!.postgres), loadgen: Math.round(r.cpu!.loadgen) },
        load: `${loadBefore.toFixed(1)} → ${os.loadavg()[0].toFixed(1)}`,
        ...(await (async () => {
          const c = await serviceCounters(api.url, 'xgboost-segment');
          return { meanBatch: +((c.rows - counters0.rows) / Math.max(1, c.runs - counters0.runs)).toFixed(1), lookupsPerStatement: +((c.lookups - counters0.lookups) / Math.max(1, c.statements - counters0.statements)).toFixed(1) };
        })()),
      }),
    );
  } finally {
    await api.stop();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) await standalone();
