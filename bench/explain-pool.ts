// Row 6 of `npm run bench` (bench/run.ts): explanations off the event loop (issue 12).
//  a) TreeSHAP per customer for the shipped XGBoost, before (the row-by-row leaf tables of commit
//     a941fe7, read from git into a temporary folder) and after (rows in blocks), on the same rows:
//     CPU µs (process.cpuUsage, the bench's thread only) and wall µs, with the load average.
//  b) While 8 clients pull `customers(first: 1000) { edges { node { explanation { summary } } } }`
//     in closed loops, one client sends a trivial query (`{ __typename }`) in a closed loop: its
//     p50 / p99 / max, with the explanation pool (EXPLAIN_WORKERS unset = cores − 1) and without it
//     (EXPLAIN_WORKERS=0: slices on the event loop).
import { spawnSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { threadSchedSeconds } from './cpu.js';
import { startApi } from './serving.js';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');
/** The last commit with row-by-row TreeSHAP (0.36 ms per customer in bench/RESULTS.md of 2026-11-28). */
const TREESHAP_BEFORE_COMMIT = 'a941fe7c6d626613b732812dcb669a2cb81a584d';

const load1 = () => os.loadavg()[0].toFixed(1);
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] : NaN;
};

export interface TreeShapTiming {
  variant: string;
  cpuUs: number;
  wallUs: number;
  load: string;
}

/** Median of 5 timed runs (after 2 warm-ups) per customer, in a fresh worker thread (bench/treeshap-thread.ts). */
async function timeInThread(variant: string, modules: { treeshap: string; ensemble: string }, onnxBytes: Uint8Array, rows: Float64Array, n: number, mode: 'batch' | 'rows'): Promise<TreeShapTiming> {
  // piscina, as the server's pool, so the TypeScript task loads the same way (through tsx).
  const withTsx = process.execArgv.some((a) => /(^|[\\/])tsx([\\/]|$)|tsx\/dist/.test(a));
  const thread = new Piscina({ filename: path.join(ROOT, 'bench', 'treeshap-thread.ts'), minThreads: 1, maxThreads: 1, execArgv: withTsx ? undefined : [...process.execArgv, '--import', 'tsx'] });
  try {
    const r = (await thread.run({ ...modules, onnxBytes, rows, n, mode })) as { cpuUs: number; wallUs: number };
    return { variant, ...r, load: load1() };
  } finally {
    await thread.destroy();
  }
}

/** TreeSHAP µs per customer before and after, on the same feature rows, each variant in a fresh thread. */
export async function treeShapBeforeAfter(onnxBytes: Uint8Array, rows: Float64Array[]): Promise<{ timings: TreeShapTiming[]; note: string }> {
  const nF = rows[0]?.length ?? 0;
  const flat = new Float64Array(rows.length * nF);
  rows.forEach((r, i) => flat.set(r, i * nF));
  const timings: TreeShapTiming[] = [];
  let note = '';
  // before: the three files of the old commit, run from a temporary folder that sees our node_modules
  // inside the checkout: the thread's TypeScript loader (tsx) handles files under the project
  const dir = mkdtempSync(path.join(ROOT, 'bench', '.treeshap-before-'));
  try {
    const files = ['treeshap', 'tree-ensemble', 'onnx-graph'];
    mkdirSync(path.join(dir, 'explain'));
    let ok = true;
    for (const f of files) {
      const r = spawnSync('git', ['show', `${TREESHAP_BEFORE_COMMIT}:src/inference/explain/${f}.ts`], { cwd: ROOT, encoding: 'utf8', maxBuffer: 16 * 2 ** 20 });
      if (r.status !== 0) {
        ok = false;
        note = `before: not measured (git show ${TREESHAP_BEFORE_COMMIT.slice(0, 7)} failed: ${r.stderr.trim().split('\n')[0]})`;
        break;
      }
      writeFileSync(path.join(dir, 'explain', `${f}.ts`), r.stdout);
    }
    if (ok) {
      symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
      const old = { treeshap: path.join(dir, 'explain', 'treeshap.ts'), ensemble: path.join(dir, 'explain', 'tree-ensemble.ts') };
      timings.push(await timeInThread(`before: leaf tables, row by row (${TREESHAP_BEFORE_COMMIT.slice(0, 7)})`, old, onnxBytes, flat, rows.length, 'rows'));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const current = { treeshap: path.join(ROOT, 'src/inference/explain/treeshap.ts'), ensemble: path.join(ROOT, 'src/inference/explain/tree-ensemble.ts') };
  timings.push(await timeInThread('after: leaf tables, rows in blocks of 64 (`explainBatch`)', current, onnxBytes, flat, rows.length, 'batch'));
  timings.push(await timeInThread('after, one row at a time (`explain`, as for a single customer)', current, onnxBytes, flat, rows.length, 'rows'));
  return { timings, note };
}

export interface UnderLoad {
  label: string;
  trivial: { n: number; p50: number; p99: number; max: number; failed: number };
  heavy: { n: number; p50: number; failed: number };
  loadStart: string;
  loadEnd: string;
  /** The server's event loop (main thread) over the run: % of the time on a core, % runnable but waiting for one. */
  eventLoop?: { onCorePct: number; waitingPct: number };
}

const HEAVY_QUERY = '{ customers(first: 1000) { edges { node { explanation { summary } } } } }';
const TRIVIAL_QUERY = '{ __typename }';

/** 8 closed loops of HEAVY_QUERY and one of TRIVIAL_QUERY against `url` for `seconds`. */
export async function trivialUnderExplanations(label: string, url: string, seconds: number, clients = 8, serverPid?: number): Promise<UnderLoad> {
  const post = async (query: string) => {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }), signal: AbortSignal.timeout(120_000) });
    const json = (await res.json()) as { errors?: unknown[] };
    if (!res.ok || json.errors) throw new Error(`HTTP ${res.status}: ${JSON.stringify(json.errors ?? json).slice(0, 300)}`);
  };
  await post(HEAVY_QUERY); // warm: pool threads, explainers, JIT
  const loadStart = load1();
  const sched0 = serverPid ? threadSchedSeconds(serverPid, serverPid) : undefined;
  const t0 = performance.now();
  const end = performance.now() + seconds * 1000;
  const heavy: number[] = [];
  const trivial: number[] = [];
  let heavyFailed = 0;
  let trivialFailed = 0;
  const heavyLoops = Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        try {
          await post(HEAVY_QUERY);
          heavy.push(performance.now() - t0);
        } catch {
          heavyFailed++;
        }
      }
    }),
  );
  // The trivial client runs in a worker thread of its own: in this thread, parsing the heavy
  // clients' 1000-row answers (JSON) holds the event loop for tens of ms, which a client here would
  // count as the server's latency. It measures only while all heavy clients are still running.
  const trivialClient = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     const ms = []; let failed = 0; let stop = false;
     parentPort.on('message', () => (stop = true));
     (async () => {
       while (!stop && performance.timeOrigin + performance.now() < workerData.endEpoch) {
         const t0 = performance.now();
         try {
           const res = await fetch(workerData.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: workerData.query }), signal: AbortSignal.timeout(120000) });
           const json = await res.json();
           if (!res.ok || json.errors) throw new Error('HTTP ' + res.status);
           ms.push(performance.now() - t0);
         } catch { failed++; }
       }
       parentPort.postMessage({ ms, failed });
     })();`,
    { eval: true, workerData: { url, query: TRIVIAL_QUERY, endEpoch: performance.timeOrigin + end } },
  );
  const trivialDone = new Promise<{ ms: number[]; failed: number }>((resolve, reject) => {
    trivialClient.once('message', resolve);
    trivialClient.once('error', reject);
  });
  void heavyLoops.finally(() => trivialClient.postMessage('stop'));
  const { ms: trivialMs, failed: trivialFailedN } = await trivialDone;
  await trivialClient.terminate();
  trivial.push(...trivialMs);
  trivialFailed += trivialFailedN;
  await heavyLoops;
  const wallS = (performance.now() - t0) / 1000;
  const sched = serverPid && sched0 ? threadSchedSeconds(serverPid, serverPid) : undefined;
  const eventLoop = sched && sched0 ? { onCorePct: (100 * (sched.cpu - sched0.cpu)) / wallS, waitingPct: (100 * (sched.waiting - sched0.waiting)) / wallS } : undefined;
  return {
    eventLoop,
    label,
    trivial: { n: trivial.length, p50: pct(trivial, 50), p99: pct(trivial, 99), max: Math.max(...trivial), failed: trivialFailed },
    heavy: { n: heavy.length, p50: pct(heavy, 50), failed: heavyFailed },
    loadStart,
    loadEnd: load1(),
  };
}

export function explanationSection(shap: Awaited<ReturnType<typeof treeShapBeforeAfter>>, rowsN: number, runs: UnderLoad[], seconds: number): string[] {
  const f = (v: number) => (v >= 100 ? v.toFixed(0) : v.toFixed(1));
  return [
    '## 6. Explanations off the event loop (TreeSHAP speed; a trivial query while 8 clients pull 1000 explanations)',
    '',
    `TreeSHAP for \`xgboost-segment\` (513 trees, depth ≤ 4, 3 classes, all classes explained) on the same ${rowsN} customers' feature rows, in the bench process: ` +
      'each variant in a fresh worker thread, as the explanation pool runs it (bench/treeshap-thread.ts); median of 5 runs after 2 warm-ups, per customer; CPU = that thread\'s own CPU time (/proc/thread-self/schedstat; less disturbed by other processes than wall time). Target: ≤ 100 µs.',
    '',
    '| TreeSHAP | CPU µs per customer | wall µs per customer | 1-min load average |',
    '|---|---:|---:|---:|',
    ...shap.timings.map((t) => `| ${t.variant} | ${f(t.cpuUs)} | ${f(t.wallUs)} | ${t.load} |`),
    ...(shap.note ? ['', shap.note] : []),
    '',
    `8 clients pull \`${HEAVY_QUERY}\` in closed loops for ${seconds} s (prediction cache off, \`QUERY_MAX_COST\` raised) while one client sends \`${TRIVIAL_QUERY}\` in a closed loop; ` +
      'latencies in ms. Target: trivial p99 < 25 ms. `EXPLAIN_WORKERS` unset = cores − 1 worker threads (here 1: the machine has 2 cores, shared with the database and the load generator).',
    '',
    '| server | trivial queries | trivial p50 / p99 / max | 1000-row pages | page p50 | failed | event loop: on a core / waiting for one | 1-min load average (start → end) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...runs.map(
      (r) =>
        `| ${r.label} | ${r.trivial.n} | ${f(r.trivial.p50)} / ${f(r.trivial.p99)} / ${f(r.trivial.max)} | ${r.heavy.n} | ${f(r.heavy.p50)} | ${r.trivial.failed + r.heavy.failed} | ` +
        `${r.eventLoop ? `${r.eventLoop.onCorePct.toFixed(0)} % / ${r.eventLoop.waitingPct.toFixed(0)} %` : '–'} | ${r.loadStart} → ${r.loadEnd} |`,
    ),
    '',
    'Event loop = the server\'s main thread, from /proc/<pid>/task/<pid>/schedstat over the run: the share of the time it ran on a core, and the share it was ready to run but waited for a core (the two cores were taken by the explanation worker, V8\'s GC threads, PostgreSQL and this bench). A request that arrives while it waits, waits too.',
    '',
  ];
}

// ---------------------------------------------------------------- standalone: row 6 alone
// npx tsx bench/explain-pool.ts [--customers 3000] [--seconds 15] [--admin-url postgresql://…] [--root DIR]
// Seeds a throwaway PostgreSQL database, prints row 6 (does not write RESULTS.md). The servers are
// started as `npm run bench` starts them (bench/serving.ts startApi: npm start's node flags); --root
// runs another checkout's server (before/after comparisons).
async function standalone(): Promise<void> {
  const { parseArgs } = await import('node:util');
  const pg = (await import('pg')).default;
  const { openDatabase } = await import('../src/db/client.js');
  const { applyMigrations } = await import('../src/db/migrate.js');
  const { seedDemo } = await import('../src/demo/seed.js');
  const { featuresForCustomers } = await import('../src/features/index.js');
  const { readFileSync } = await import('node:fs');
  const { values } = parseArgs({
    options: {
      customers: { type: 'string', default: '3000' },
      seconds: { type: 'string', default: '15' },
      'admin-url': { type: 'string', default: process.env.BENCH_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres' },
      root: { type: 'string' },
    },
  });
  const AS_OF = '2026-01-01T00:00:00.000Z';
  const say = (msg: string) => process.stderr.write(`[row 6 ${new Date().toISOString().slice(11, 19)}] ${msg} (load ${load1()})\n`);
  const name = `bench_expl_pool_${process.pid}`;
  const admin = new pg.Client({ connectionString: values['admin-url'] });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(values['admin-url']);
  url.pathname = `/${name}`;
  try {
    const db = await openDatabase({ databaseUrl: url.toString(), poolSize: 4 });
    await applyMigrations(db.adapterFactory);
    say(`seeding ${values.customers} demo customers`);
    await seedDemo(db, { customers: Number(values.customers), seed: 42, anchor: '2026-01-01' });
    say('TreeSHAP before / after');
    const ids = (await db.prisma.$queryRaw<{ id: string }[]>`SELECT id::text AS id FROM "Customer" ORDER BY id LIMIT 1000`).map((r) => r.id);
    const found = await featuresForCustomers(db, ids, new Date(AS_OF));
    await db.close();
    const bytes = new Uint8Array(readFileSync(path.join(ROOT, 'models/xgboost-segment/1/model.onnx')));
    const shap = await treeShapBeforeAfter(
      bytes,
      ids.map((id) => found.get(id)!.features),
    );
    const runs: UnderLoad[] = [];
    for (const [label, env] of [
      ['explanation pool (`EXPLAIN_WORKERS` unset)', {}],
      ['on the event loop (`EXPLAIN_WORKERS=0`)', { EXPLAIN_WORKERS: '0' }],
    ] as const) {
      say(`server: ${label}`);
      // The product's start command, as `npm run bench` starts it (bench/serving.ts).
      const api = await startApi({ databaseUrl: url.toString() }, { asOf: AS_OF, root: values.root, cpuProfDir: process.env.BENCH_CPU_PROF, env: { QUERY_MAX_COST: '10000000', ORT_EXECUTION_PROVIDERS: 'cpu', ...env } });
      try {
        const r = await trivialUnderExplanations(label, api.url, Number(values.seconds), 8, api.proc.pid);
        process.stderr.write(`${JSON.stringify(r)}\n`);
        runs.push(r);
      } finally {
        await api.stop();
      }
    }
    console.log(explanationSection(shap, ids.length, runs, Number(values.seconds)).join('\n'));
  } finally {
    const c = new pg.Client({ connectionString: values['admin-url'] });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c.end();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) await standalone();
