// `npm run score:worker -- [--concurrency N]`: takes batch-scoring jobs (id ranges of a run started
// with `npm run score -- --workers N`) from the BullMQ queue in REDIS_URL and scores them into
// DATABASE_URL. Start it on any machine with the same DATABASE_URL, REDIS_URL and models
// (MODELS_DIR). SIGINT/SIGTERM: finishes the job in hand, then exits (again: exits now; the job is
// retried elsewhere). See distributed.ts.
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { loadConfig } from '../config.js';
import { openDatabase } from '../db/client.js';
import { applyMigrations } from '../db/migrate.js';
import { readPromotions } from '../models/promotions.js';
import { queueSettings, startScoreWorker } from './distributed.js';
import { BATCH_SCORING_SETUP, createScoring } from './setup.js';

const USAGE = `Usage: npm run score:worker -- [--concurrency N]
  Takes jobs of \`npm run score -- --workers N\` from the queue in REDIS_URL and scores them into DATABASE_URL.
  --concurrency N   jobs at once in this process (default 1; start more processes to use more cores)`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: { concurrency: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const concurrency = values.concurrency === undefined ? 1 : Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) {
    console.error(`--concurrency must be an integer from 1 to 64 (got ${JSON.stringify(values.concurrency)})\n${USAGE}`);
    return 2;
  }
  const cfg = loadConfig();
  if (!cfg.DATABASE_URL || !cfg.REDIS_URL) {
    console.error(`score:worker needs DATABASE_URL (PostgreSQL) and REDIS_URL (the queue)\n${USAGE}`);
    return 2;
  }
  const settings = queueSettings(cfg);
  const log = pino({ level: cfg.LOG_LEVEL, base: { pid: process.pid, role: 'score-worker' } }, pino.destination(2));
  // One connection writes (COPY + merge) and one reads the next page per job in hand.
  const db = await openDatabase({ databaseUrl: cfg.DATABASE_URL, poolSize: 2 * concurrency + 1 });
  const scoring = await createScoring(cfg, log, undefined, BATCH_SCORING_SETUP);
  await applyMigrations(db.adapterFactory);
  scoring.inference.registry.applyPromotions(await readPromotions(db));
  const worker = startScoreWorker(db, scoring, settings, log, concurrency);
  await worker.waitUntilReady();
  log.info({ queue: `${settings.prefix}:score`, concurrency, lockMs: settings.lockMs, stalledIntervalMs: settings.stalledIntervalMs }, 'score worker ready');

  return await new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) process.exit(130);
      stopping = true;
      log.info({ signal }, 'score worker stopping after the job in hand');
      void worker
        .close()
        .then(async () => {
          await scoring.close();
          await db.close();
        })
        .then(
          () => resolve(0),
          () => resolve(1),
        );
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
  });
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(`score:worker: ${err.message}`);
    process.exit(1);
  },
);
