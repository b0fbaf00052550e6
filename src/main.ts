// `npm start`: configuration → database (migrated, demo-seeded when embedded and empty) → HTTP.
import 'reflect-metadata';
import { pino } from 'pino';
import { ConfigError, loadConfig } from './config.js';
import { openDatabase } from './db/client.js';
import { applyMigrations } from './db/migrate.js';
import { ModelLoadError } from './inference/registry.js';
import { seedDemoIfEmpty } from './demo/seed.js';
import { createScoring } from './scoring/setup.js';
import { startServer } from './server/app.js';
import { Metrics } from './server/metrics.js';

async function main() {
  const config = loadConfig();
  const log = pino({ level: config.LOG_LEVEL });
  // Models first: a bad model file stops start-up before anything touches the database.
  const metrics = new Metrics();
  const scoring = await createScoring(config, log, metrics.observer);
  const db = await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.dataDir, poolSize: config.DB_POOL_SIZE });
  log.info({ database: db.kind, ...(db.kind === 'pglite' ? { dataDir: config.dataDir } : {}) }, 'database opened');

  const applied = await applyMigrations(db.adapterFactory);
  if (applied.length) log.info({ migrations: applied }, 'migrations applied');

  const seeded = await seedDemoIfEmpty(db, {
    customers: config.DEMO_CUSTOMERS,
    seed: config.DEMO_SEED,
    anchor: config.DEMO_ANCHOR,
    onProgress: (p) => log.info(p, 'seeding demo data'),
  });
  if (seeded) log.info(seeded, 'demo data seeded');

  const server = await startServer(config, db, scoring, log, metrics);
  log.info({ url: server.url }, 'GraphQL API ready');

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    await server.close();
    await scoring.inference.registry.close();
    await db.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((err: unknown) => {
  // Configuration and model errors are the user's to fix: print the message, not a stack.
  const known = err instanceof ConfigError || err instanceof ModelLoadError || (err as Error)?.name === 'ProviderUnavailableError';
  console.error(known ? (err as Error).message : err);
  process.exit(1);
});
