// The ceiling of batch scoring before any write: the pages of a run exactly as `npm run score`
// builds them (keyset feature query, features, lifetime figures, inference on the inference
// thread, pipelined), handed to a writer that writes nothing. Whatever the writes cost comes on
// top, so the rate printed here bounds what the full run can reach on this machine.
// Usage: DATABASE_URL=postgresql://… npx tsx bench/batch-without-writes.ts [--page-size 5000] [--as-of ISO]
import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { loadConfig } from '../src/config.js';
import { openDatabase } from '../src/db/client.js';
import { runGuard, scorePages, type PageWriter, type ScoreTimings } from '../src/scoring/batch.js';
import { BATCH_SCORING_SETUP, createScoring } from '../src/scoring/setup.js';

const { values: opts } = parseArgs({ options: { 'page-size': { type: 'string', default: '5000' }, 'as-of': { type: 'string' } } });
const config = loadConfig();
if (!config.DATABASE_URL) throw new Error('set DATABASE_URL (a PostgreSQL database with customers, e.g. seeded by npm run db:seed)');
const db = await openDatabase({ databaseUrl: config.DATABASE_URL });
const scoring = await createScoring(config, pino({ level: 'silent' }), undefined, BATCH_SCORING_SETUP);
try {
  const model = scoring.model(null, null);
  const asOf = opts['as-of'] ? new Date(opts['as-of']) : scoring.asOf();
  const nothing: PageWriter = {
    kind: 'copy',
    statements: 0,
    directPages: 0,
    write: async (page) => page.ids.length,
    execute: async () => 0,
    close: async () => {},
  };
  const timings: ScoreTimings = { featureSql: 0, featureCompute: 0, inference: 0, writes: 0 };
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const result = await scorePages(
    db,
    scoring,
    model,
    asOf,
    nothing,
    { runId: 0, model: model.name, modelVersion: model.version, asOfIso: asOf.toISOString() },
    { pageSize: Number(opts['page-size']), pipelined: true, start: null, range: { from: null, before: null }, guard: runGuard(0), timings },
  );
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const ms = (x: number) => `${(x / 1000).toFixed(2)} s`;
  console.log(
    `without writes: ${result.scored.toLocaleString('en-US')} customers in ${seconds.toFixed(1)} s = ${Math.round(result.scored / seconds).toLocaleString('en-US')} customers/s; ` +
      `Node CPU ${((cpu.user + cpu.system) / result.scored).toFixed(1)} µs per customer (all threads); ` +
      `busy: feature SQL ${ms(timings.featureSql)}, feature compute ${ms(timings.featureCompute)}, inference ${ms(timings.inference)}`,
  );
} finally {
  await scoring.close();
  await db.close();
}
