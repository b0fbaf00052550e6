// Every database-backed suite runs against the embedded PGlite and, when reachable, the real
// PostgreSQL server. Each test database is created fresh (and dropped afterwards) so runs never collide.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openDatabase, type Database, type DatabaseKind } from '../../src/db/client.js';
import { applyMigrations } from '../../src/db/migrate.js';

/** Admin connection used to create and drop per-test databases. */
export const adminUrl = process.env.TEST_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

async function postgresReachable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 2_000 });
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

const pgUp = await postgresReachable();
// Set explicitly (as CI does), the server is required: a run that silently skipped half its
// variants would pass while testing less. Unset, a machine without PostgreSQL still runs the rest.
if (!pgUp && process.env.TEST_POSTGRES_URL) {
  throw new Error(`TEST_POSTGRES_URL is set but PostgreSQL is not reachable at ${adminUrl}; unset it to skip the PostgreSQL variants.`);
}
if (!pgUp) console.warn(`[tests] PostgreSQL not reachable at ${adminUrl}: PostgreSQL variants are skipped.`);

/** The database kinds this run covers. */
export const databaseKinds: DatabaseKind[] = pgUp ? ['pglite', 'postgresql'] : ['pglite'];

export interface TestDatabase {
  db: Database;
  /** postgresql:// URL of the fresh database (PostgreSQL only). */
  url?: string;
  drop(): Promise<void>;
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/**
 * Creates an empty database of the given kind, migrated unless `migrate: false`. `thread`: the
 * embedded database on a thread of its own, as the server runs it (imports reach it through the thread).
 */
export async function createTestDatabase(kind: DatabaseKind, opts: { migrate?: boolean; thread?: boolean } = {}): Promise<TestDatabase> {
  let db: Database;
  let url: string | undefined;
  let dropDriver = async () => {};
  if (kind === 'postgresql') {
    const name = `cia_test_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    url = withDatabase(adminUrl, name);
    db = await openDatabase({ databaseUrl: url, poolSize: 5 });
    dropDriver = async () => {
      const a = new pg.Client({ connectionString: adminUrl });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.end();
    };
  } else {
    db = await openDatabase({ dataDir: 'memory://', embeddedThread: opts.thread === true });
  }
  if (opts.migrate !== false) await applyMigrations(db.adapterFactory);
  return {
    db,
    url,
    async drop() {
      await db.close().catch(() => {});
      await dropDriver();
    },
  };
}
