// What explanations cost, for the query cost model (src/server/limits.ts) and the memory bound:
//  1. in this process, on the embedded database with the demo set: per customer, a prediction of
//     each model, TreeSHAP, the linear explanation and the transformer's occlusion (1 + sequence
//     length inferences), on the 1000 customers with the most orders;
//  2. the audit's request — `customers(first: 1000, orderBy: ORDER_COUNT DESC) { … prediction(model:
//     "transformer-segment") { explanation(top: 1) { summary } } }` — against the product's own start
//     command (src/main.ts, a child process on a throwaway PostgreSQL database, QUERY_MAX_COST raised
//     so it runs): the server's RSS before, right after, and after 10 s and 40 s idle; and its event-loop
//     responsiveness (a trivial query's latency while the request runs).
// Usage: npx tsx bench/explanations.ts [--customers 3000] [--node-args "--max-semi-space-size=2" (node flags; default: npm start's)] [--root DIR (another checkout's src/main.ts, to compare)]
//        [--admin-url postgresql://postgres@127.0.0.1:5432/postgres] [--skip-parts] [--skip-server]
import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { pino } from 'pino';
import { loadConfig } from '../src/config.js';
import { openDatabase } from '../src/db/client.js';
import { applyMigrations } from '../src/db/migrate.js';
import { seedDemo } from '../src/demo/seed.js';
import { featuresForCustomers } from '../src/features/index.js';
import { createScoring } from '../src/scoring/setup.js';
import { startApi, startCommand, type Child } from './serving.js';

const { values: opts } = parseArgs({
  options: {
    customers: { type: 'string', default: '3000' },
    root: { type: 'string', default: path.resolve(import.meta.dirname, '..') },
    'admin-url': { type: 'string', default: process.env.BENCH_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres' },
    'skip-parts': { type: 'boolean', default: false },
    'skip-server': { type: 'boolean', default: false },
    'node-args': { type: 'string' },
  },
});
const CUSTOMERS = Number(opts.customers);
const AS_OF = '2026-01-01T23:59:59.999Z';
const asOf = new Date(AS_OF);
const say = (msg: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function parts(): Promise<void> {
  say(`seeding ${CUSTOMERS} demo customers into the embedded database`);
  const db = await openDatabase({ dataDir: 'memory://' });
  await applyMigrations(db.adapterFactory);
  await seedDemo(db, { customers: CUSTOMERS, seed: 42, anchor: '2026-01-01' });
  const ids = (
    await db.prisma.$queryRaw<{ id: string }[]>`SELECT c.id::text AS id FROM "Customer" c LEFT JOIN "Order" o ON o."customerId" = c.id GROUP BY c.id ORDER BY count(o.id) DESC, c.id LIMIT 1000`
  ).map((r) => r.id);
  const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', ORT_EXECUTION_PROVIDERS: 'cpu', PREDICTION_CACHE_CUSTOMERS: '0' });
  const scoring = await createScoring(config, pino({ level: 'silent' }));
  const found = await featuresForCustomers(db, ids, asOf);
  const rows = ids.map((id) => found.get(id)!);
  const meanLength = rows.reduce((s, r) => s + r.sequenceLength, 0) / rows.length;
  const time = async (f: () => Promise<unknown>) => {
    const ms: number[] = [];
    for (let i = 0; i < 4; i++) {
      const t0 = performance.now();
      await f();
      if (i > 0) ms.push(performance.now() - t0);
    }
    return median(ms) / rows.length; // ms per customer
  };
  const lines: [string, number][] = [];
  for (const m of scoring.inference.registry.list()) {
    lines.push([`${m.name}: prediction`, await time(() => scoring.inference.predict(m.name, rows))]);
    lines.push([`${m.name}: explanation (${scoring.methodOf(m)})`, await time(() => scoring.explain(m, rows, asOf))]);
  }
  const unit = lines.find(([what]) => what === 'xgboost-segment: prediction')![1];
  console.log(`\nPer customer, 1000 customers with the most orders (mean sequence length ${meanLength.toFixed(1)} of 32), median of 3 runs:`);
  console.log('| what | ms per customer | × an XGBoost prediction |\n| --- | ---: | ---: |');
  for (const [what, ms] of lines) console.log(`| ${what} | ${ms.toFixed(4)} | ${(ms / unit).toFixed(1)} |`);
  await scoring.inference.registry.close();
  await db.close();
}

const rssOf = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024 / 1024; // GB

async function server(): Promise<void> {
  const admin = opts['admin-url'];
  const name = `cia_bench_expl_${process.pid}`;
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  await client.query(`CREATE DATABASE ${name}`);
  await client.end();
  const url = new URL(admin);
  url.pathname = `/${name}`;
  let api: Child | undefined;
  try {
    const db = await openDatabase({ databaseUrl: url.toString(), poolSize: 4 });
    await applyMigrations(db.adapterFactory);
    say(`seeding ${CUSTOMERS} demo customers into PostgreSQL`);
    await seedDemo(db, { customers: CUSTOMERS, seed: 42, anchor: '2026-01-01' });
    await db.close();
    const root = path.resolve(opts.root);
    // As `npm start` runs the service (its node flags and environment, package.json), unless
    // --node-args says otherwise (before/after comparisons of a flag); started as bench/serving.ts
    // starts it, with the prediction cache and background scoring as shipped and a cost limit
    // that lets the audit's request run.
    const nodeArgs = opts['node-args'] !== undefined ? opts['node-args'].split(/\s+/).filter(Boolean) : undefined;
    say(`starting ${root}/src/main.ts: node ${(nodeArgs ?? startCommand(root).nodeArgs).join(' ')}`);
    api = await startApi(
      { databaseUrl: url.toString() },
      { asOf: AS_OF, root, nodeArgs, env: { LOG_LEVEL: 'info', QUERY_MAX_COST: '100000000', ORT_EXECUTION_PROVIDERS: 'cpu', PREDICTION_CACHE_CUSTOMERS: undefined, BACKGROUND_SCORING: undefined } },
    );
    const child = api.proc;
    const endpoint = api.url;
    const post = async (query: string) => {
      const res = await fetch(endpoint, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
      return (await res.json()) as { errors?: { extensions?: { code?: string } }[]; data?: any };
    };
    // Where the memory is (prom-client's process metrics): V8's heap, and buffers outside it.
    const memoryOf = async () => {
      const text = await (await fetch(endpoint.replace(/\/graphql$/, '/metrics'))).text();
      const gb = (name: string) => Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1] ?? NaN) / 2 ** 30;
      return { heapUsed: gb('nodejs_heap_size_used_bytes'), heapTotal: gb('nodejs_heap_size_total_bytes'), external: gb('nodejs_external_memory_bytes') };
    };
    await post('{ customers(first: 10) { edges { node { id prediction(model: "transformer-segment") { explanation(top: 1) { summary } } } } } }');
    const before = rssOf(child.pid!);
    const memoryBefore = await memoryOf().catch(() => null);
    const reported =
      '{ customers(first: 1000, orderBy: {field: ORDER_COUNT, direction: DESC}) { edges { node { prediction(model: "transformer-segment") { explanation(top: 1) { summary } } } } } }';
    const lags: number[] = [];
    let running = true;
    let exited = '';
    child.once('exit', (code, signal) => (exited = `server exited (code ${code}, signal ${signal})`));
    const probe = (async () => {
      while (running) {
        const t0 = performance.now();
        try {
          await post('{ models { name } }');
          lags.push(performance.now() - t0);
        } catch (err) {
          lags.push(performance.now() - t0);
          say(`probe failed: ${(err as Error).message} ${exited}`);
          await new Promise((r) => setTimeout(r, 200));
          if (exited) return;
        }
      }
    })();
    const t0 = performance.now();
    let res: Awaited<ReturnType<typeof post>>;
    try {
      res = await post(reported);
    } catch (err) {
      running = false;
      await probe;
      throw new Error(`the request failed: ${(err as Error).message}; ${exited || 'server still running'}`);
    }
    const seconds = (performance.now() - t0) / 1000;
    running = false;
    await probe;
    const after = rssOf(child.pid!);
    let peak = after;
    // RSS after 10 s and after 40 s without requests: V8's memory reducer gives the young
    // generation's grown semi-spaces back once allocation has stayed low for a while (about 25 s).
    const idleAfter = async (ms: number) => {
      const until = Date.now() + ms;
      while (Date.now() < until) {
        await new Promise((r) => setTimeout(r, 500));
        peak = Math.max(peak, rssOf(child.pid!));
      }
      return rssOf(child.pid!);
    };
    const idle = await idleAfter(10_000);
    const idleLonger = await idleAfter(30_000);
    const memoryIdle = await memoryOf().catch(() => null);
    // Retained or merely high-water? Run it again: a leak grows with every run, a bound does not.
    const again: number[] = [];
    for (let i = 0; i < 2; i++) {
      await post(reported).catch(() => undefined);
      again.push(rssOf(child.pid!));
    }
    const errors = res.errors?.length ?? 0;
    console.log(`\nThe audit's request against ${root} (${CUSTOMERS} demo customers, PostgreSQL):`);
    console.log(`  ${seconds.toFixed(1)} s, ${res.data?.customers?.edges?.length ?? 0} customers, ${errors} errors`);
    console.log(`  RSS before ${before.toFixed(2)} GB, right after ${after.toFixed(2)} GB, after 10 s idle ${idle.toFixed(2)} GB (${(((idle - before) / before) * 100).toFixed(0)} % over the baseline), after 40 s idle ${idleLonger.toFixed(2)} GB (${(((idleLonger - before) / before) * 100).toFixed(0)} %)`);
    console.log(`  RSS after two more runs: ${again.map((g) => `${g.toFixed(2)} GB`).join(', ')}`);
    if (memoryBefore && memoryIdle) {
      const f = (x: number) => x.toFixed(3);
      console.log(
        `  V8 heap used ${f(memoryBefore.heapUsed)} → ${f(memoryIdle.heapUsed)} GB (heap reserved ${f(memoryBefore.heapTotal)} → ${f(memoryIdle.heapTotal)}), ` +
          `external buffers ${f(memoryBefore.external)} → ${f(memoryIdle.external)} GB; the rest of RSS is native (ONNX Runtime, PostgreSQL client, malloc)`,
      );
    }
    console.log(`  trivial query while it ran: ${lags.length} answered, median ${median(lags).toFixed(0)} ms, max ${Math.max(...lags).toFixed(0)} ms`);
  } finally {
    await api?.stop();
    const c = new pg.Client({ connectionString: admin });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c.end();
  }
}

if (!opts['skip-parts']) await parts();
if (!opts['skip-server']) await server();
