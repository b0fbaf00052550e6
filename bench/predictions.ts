// Measures what the predictions issue asks for, on a fresh embedded database with the demo set:
//  - customers(first: 1000) { segment probability explanation }: SQL statements, session.run calls, latency;
//  - 64 concurrent single-customer queries: session.run calls per 1000 requests.
// Usage: npx tsx bench/predictions.ts [--customers 10000] [--rounds 5] [--requests 1000]
import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { loadConfig } from '../src/config.js';
import { openDatabase } from '../src/db/client.js';
import { applyMigrations } from '../src/db/migrate.js';
import { seedDemo } from '../src/demo/seed.js';
import { featureQueryCount } from '../src/features/index.js';
import { createScoring } from '../src/scoring/setup.js';
import { startServer } from '../src/server/app.js';
import { Metrics } from '../src/server/metrics.js';

const { values } = parseArgs({
  options: { customers: { type: 'string', default: '10000' }, rounds: { type: 'string', default: '5' }, requests: { type: 'string', default: '1000' } },
});
const asOf = '2026-01-01T00:00:00.000Z';
const config = loadConfig({ ...process.env, PORT: '0', LOG_LEVEL: 'silent', ORT_EXECUTION_PROVIDERS: process.env.ORT_EXECUTION_PROVIDERS ?? 'cpu', PREDICTION_CACHE_CUSTOMERS: '0' });
const log = pino({ level: 'silent' });
const db = await openDatabase({ dataDir: 'memory://' });
await applyMigrations(db.adapterFactory);
await seedDemo(db, { customers: Number(values.customers), seed: 42, anchor: '2026-01-01' });
const metrics = new Metrics();
const scoring = await createScoring(config, log, metrics.observer);
const server = await startServer(config, db, scoring, log, metrics);
const post = async (query: string, variables: object = {}) => {
  const res = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
  const json = (await res.json()) as { errors?: unknown[]; data?: any };
  if (json.errors) throw new Error(JSON.stringify(json.errors).slice(0, 500));
  return json.data;
};
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

const page = `query($asOf: ScoringTime) { customers(first: 1000) { edges { node { id segment(asOf: $asOf) probability(asOf: $asOf) explanation(asOf: $asOf) { summary contributions { feature contribution } } } } } }`;
const times: number[] = [];
let sql = 0, runs = 0, featureQueries = 0;
for (let i = 0; i < Number(values.rounds) + 1; i++) {
  const [q0, r0, f0] = [db.queryCount(), scoring.inference.runs(config.DEFAULT_MODEL), featureQueryCount()];
  const started = performance.now();
  const data = await post(page, { asOf });
  const ms = performance.now() - started;
  if (data.customers.edges.length !== 1000) throw new Error('expected 1000 customers');
  if (i > 0) times.push(ms); // the first round warms up
  [sql, runs, featureQueries] = [db.queryCount() - q0, scoring.inference.runs(config.DEFAULT_MODEL) - r0, featureQueryCount() - f0];
}
console.log(`customers(first: 1000) { segment probability explanation }: ${sql} SQL statements (${featureQueries} feature query), ${runs} session.run; latency median ${pct(times, 50).toFixed(0)} ms, p95 ${pct(times, 95).toFixed(0)} ms over ${times.length} runs`);

const ids: string[] = (await post('{ customers(first: 1000) { edges { node { id } } } }')).customers.edges.map((e: any) => e.node.id);
const one = `query($id: ID!, $asOf: ScoringTime) { customer(id: $id) { segment(asOf: $asOf) probability(asOf: $asOf) } }`;
const total = Number(values.requests);
const r0 = scoring.inference.runs(config.DEFAULT_MODEL);
let next = 0;
const latencies: number[] = [];
const started = performance.now();
await Promise.all(
  Array.from({ length: 64 }, async () => {
    while (next < total) {
      const id = ids[next++ % ids.length];
      const t0 = performance.now();
      await post(one, { id, asOf });
      latencies.push(performance.now() - t0);
    }
  }),
);
const seconds = (performance.now() - started) / 1000;
const calls = scoring.inference.runs(config.DEFAULT_MODEL) - r0;
console.log(`64 concurrent clients, ${total} single-customer queries: ${calls} session.run (${((calls / total) * 1000).toFixed(0)} per 1000 requests, mean batch ${(total / calls).toFixed(1)}); ${(total / seconds).toFixed(0)} req/s, p50 ${pct(latencies, 50).toFixed(1)} ms, p99 ${pct(latencies, 99).toFixed(1)} ms`);
await server.close();
await scoring.inference.registry.close();
await db.close();
