// `npm start`: configuration → models → database → HTTP (live at once) → migrations → demo seed
// (embedded and empty only) → ready. SIGTERM/SIGINT drain in-flight requests, then close the
// models and the database.
import 'reflect-metadata';
import { pino } from 'pino';
import { ConfigError, loadConfig } from './config.js';
import type { ChangeSubscription } from './db/changes.js';
import { openDatabase } from './db/client.js';
import { DataDirInUseError } from './db/data-dir-lock.js';
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
  const metrics = new Metrics();
  // The models load while the database opens: an embedded data directory is locked at once (a
  // second server is refused before any model loads) and a new one is initialised in a worker
  // thread. A bad model still stops start-up with its message.
  // If the embedded database's thread stops: exit at once until the server is up (nothing to drain).
  let onDatabaseLost = (): void => {
    process.exit(1);
  };
  const opening = openDatabase({
    databaseUrl: config.DATABASE_URL,
    dataDir: config.dataDir,
    poolSize: config.DB_POOL_SIZE,
    role: 'server',
    processName: `the server (npm start, port ${config.PORT})`,
    onWarning: (message) => log.warn(message),
    embeddedThread: config.EMBEDDED_DB_THREAD === 'on',
    // Nothing can be answered without it: stop (a supervisor restarts the server, and PGlite
    // recovers the data directory as after a crash).
    onDatabaseExit: (reason) => {
      log.fatal({ reason }, 'the embedded database thread stopped');
      onDatabaseLost();
    },
  });
  const loading = createScoring(config, log, metrics.observer);
  // On failure main() exits at once: a new database is initialised aside and moved in only when
  // complete (db/initdb.ts), so leaving midway breaks nothing; the lock goes with the process.
  const [scoring, db] = await Promise.all([loading, opening]);
  log.info(
    { database: db.kind, ...(db.kind === 'pglite' ? { dataDir: config.dataDir, socket: db.socketPath } : {}) },
    'database opened',
  );

  const readiness = new Readiness(db, scoring);
  const server = await startServer(config, db, scoring, log, metrics, readiness);
  log.info({ url: server.url }, 'listening (not ready until migrations and seeding are done)');

  let changes: ChangeSubscription | undefined;
  const lifecycle = new ModelLifecycle(db, scoring, log, {
    pollSeconds: config.MODELS_POLL_SECONDS,
    backgroundScoring: config.BACKGROUND_SCORING === 'on',
    scoreAtDataEnd: config.SCORING_AS_OF === 'data-end',
  });

  let stopping = false;
  const stop = async (signal: string, exitCode = 0) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, graceSeconds: config.SHUTDOWN_GRACE_SECONDS }, 'shutting down: draining in-flight requests');
    scoring.inference.drain();
    await server.close(config.SHUTDOWN_GRACE_SECONDS * 1000);
    await lifecycle.stop();
    await scoring.close(); // explanation workers finish their tasks, then the models close
    await changes?.close();
    await db.close();
    log.info('stopped');
    process.exit(exitCode);
  };
  onDatabaseLost = () => void stop('embedded database stopped', 1);
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));

  const applied = await applyMigrations(db.adapterFactory);
  if (applied.length) log.info({ migrations: applied }, 'migrations applied');

  // Writes made anywhere — another replica, npm run import / db:seed through the socket, SQL —
  // drop this process's cached predictions (stats and stored scores are read live).
  changes = await db.subscribeToChanges({
    onChange: (change) => {
      if (change.kind === 'all') scoring.cache.invalidateAll();
      else for (const id of change.customerIds) scoring.cache.invalidate(id);
    },
    onGap: (reason) => {
      scoring.cache.invalidateAll();
      log.warn({ reason }, 'change notifications may have been missed: prediction cache cleared');
    },
  });

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
  log.info({ url: server.url, startupSeconds: Number(process.uptime().toFixed(2)) }, 'GraphQL API ready');
  // The explanation workers (EXPLAIN_WORKERS) start and build their explainers now, not on the first request.
  void scoring.warmExplanations().then((errors) => {
    for (const err of errors) log.warn({ err }, 'explanation worker warm-up failed');
  });
}

main().catch((err: unknown) => {
  // Configuration and model errors are the user's to fix: print the message, not a stack.
  const known = err instanceof ConfigError || err instanceof ModelLoadError || err instanceof DataDirInUseError || (err as Error)?.name === 'ProviderUnavailableError';
  console.error(known ? (err as Error).message : err);
  process.exit(1);
});
