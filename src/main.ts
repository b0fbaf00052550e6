// `npm start`: configuration → models → database → HTTP (live at once) → migrations → demo seed
// (embedded and empty only) → ready. SIGTERM/SIGINT drain in-flight requests, then close the
// models and the database.
import 'reflect-metadata';
import { pino } from 'pino';
import { ConfigError, loadConfig } from './config.js';
import { openDatabase } from './db/client.js';
import { applyMigrations } from './db/migrate.js';
import { seedDemoIfEmpty } from './demo/seed.js';
import { ModelLoadError } from './inference/registry.js';
import { ModelLifecycle } from './models/lifecycle.js';
import { createScoring } from './scoring/setup.js';
import { startServer } from './server/app.js';
import { Readiness } from './server/health.js';
import { Metrics } from './server/metrics.js';

async function main() {
  const config = loadConfig();
  const log = pino({ level: config.LOG_LEVEL });
  // Models first: a bad model file stops start-up before anything touches the database.
  const metrics = new Metrics();
  const scoring = await createScoring(config, log, metrics.observer);
  const db = await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.dataDir, poolSize: config.DB_POOL_SIZE });
  log.info({ database: db.kind, ...(db.kind === 'pglite' ? { dataDir: config.dataDir } : {}) }, 'database opened');

  const readiness = new Readiness(db, scoring);
  const server = await startServer(config, db, scoring, log, metrics, readiness);
  log.info({ url: server.url }, 'listening (not ready until migrations and seeding are done)');

  const lifecycle = new ModelLifecycle(db, scoring, log, {
    pollSeconds: config.MODELS_POLL_SECONDS,
    backgroundScoring: config.BACKGROUND_SCORING === 'on',
    scoreAtDataEnd: config.SCORING_AS_OF === 'data-end',
  });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, graceSeconds: config.SHUTDOWN_GRACE_SECONDS }, 'shutting down: draining in-flight requests');
    await server.close(config.SHUTDOWN_GRACE_SECONDS * 1000);
    await lifecycle.stop();
    await scoring.inference.registry.close();
    await db.close();
    log.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));

  const applied = await applyMigrations(db.adapterFactory);
  if (applied.length) log.info({ migrations: applied }, 'migrations applied');

  const seeded = await seedDemoIfEmpty(db, {
    customers: config.DEMO_CUSTOMERS,
    seed: config.DEMO_SEED,
    anchor: config.DEMO_ANCHOR,
    onProgress: (p) => log.info(p, 'seeding demo data'),
  });
  if (seeded) log.info(seeded, 'demo data seeded');

  // The promotions on record decide the served versions before the first request; stale or missing
  // stored scores are then refreshed in the background (answers that read them say so meanwhile).
  await lifecycle.start();
  readiness.markStarted();
  log.info({ url: server.url }, 'GraphQL API ready');
}

main().catch((err: unknown) => {
  // Configuration and model errors are the user's to fix: print the message, not a stack.
  const known = err instanceof ConfigError || err instanceof ModelLoadError || (err as Error)?.name === 'ProviderUnavailableError';
  console.error(known ? (err as Error).message : err);
  process.exit(1);
});
