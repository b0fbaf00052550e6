// One Prisma client per process, over one of two databases with the same schema:
// PostgreSQL when DATABASE_URL is set (@prisma/adapter-pg), otherwise an embedded, file-backed
// PGlite (pglite-prisma-adapter). Both adapters are migration-aware, so the schema engine uses them too.
import { mkdir } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import type { SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { PrismaClient } from '../generated/prisma/client.js';

export type DatabaseKind = 'pglite' | 'postgresql';

export interface DatabaseOptions {
  /** postgresql:// URL; when absent the embedded database is used. */
  databaseUrl?: string;
  /** Folder of the embedded database; `memory://` keeps it in memory (tests). */
  dataDir?: string;
  poolSize?: number;
}

export interface Database {
  readonly kind: DatabaseKind;
  readonly prisma: PrismaClient;
  readonly adapterFactory: SqlMigrationAwareDriverAdapterFactory;
  /** Number of SQL statements sent so far; tests use it to prove batching (no N+1). */
  readonly queryCount: () => number;
  close(): Promise<void>;
}

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  let adapterFactory: SqlMigrationAwareDriverAdapterFactory;
  let closeDriver: () => Promise<void>;
  let kind: DatabaseKind;
  if (options.databaseUrl) {
    kind = 'postgresql';
    adapterFactory = new PrismaPg({
      connectionString: options.databaseUrl,
      // PostgreSQL's JIT compiles the batched feature query (its cost estimate is high) for ~180 ms,
      // several times the query itself; off for our connections unless the URL sets `options`.
      ...(new URL(options.databaseUrl).searchParams.has('options') ? {} : { options: '-c jit=off' }),
      max: options.poolSize ?? 10,
      connectionTimeoutMillis: 5_000,
    });
    closeDriver = async () => {};
  } else {
    kind = 'pglite';
    const dataDir = options.dataDir ?? 'memory://';
    if (!dataDir.startsWith('memory://')) await mkdir(dataDir, { recursive: true });
    const pglite = await PGlite.create(dataDir);
    adapterFactory = new PrismaPGlite(pglite);
    closeDriver = () => pglite.close();
  }

  const prisma = new PrismaClient({
    adapter: adapterFactory,
    log: [{ emit: 'event', level: 'query' }],
  });
  let queries = 0;
  prisma.$on('query', () => {
    queries += 1;
  });

  return {
    kind,
    prisma,
    adapterFactory,
    queryCount: () => queries,
    async close() {
      await prisma.$disconnect();
      await closeDriver();
    },
  };
}
