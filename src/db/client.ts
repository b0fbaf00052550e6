// One Prisma client per process, over one of two databases with the same schema: PostgreSQL when
// DATABASE_URL is set, otherwise the embedded, file-backed PGlite in DATA_DIR.
//
// The embedded database has ONE owner process (data-dir-lock.ts). The server owns it, opens it
// in-process (pglite-prisma-adapter) and serves it on a unix socket in the data directory
// (owner-socket.ts). A command (import, score, seed, migrate, apikey…) connects through that socket
// when a server owns the directory — as to any PostgreSQL: the same node-postgres pool and Prisma
// adapter as DATABASE_URL, one connection — and otherwise owns the directory itself for its run.
// Both adapters are migration-aware, so the schema engine uses them too.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import type { SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import pg from 'pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { PrismaClient } from '../generated/prisma/client.js';
import { CHANGES_CHANNEL, parseChange, type ChangeHandlers, type ChangeSubscription } from './changes.js';
import { DataDirInUseError, tryLockDataDir, type DataDirLock } from './data-dir-lock.js';
import { startEmbeddedThread, type BulkPGlite } from './embedded-thread.js';
import { initializeDataDir } from './initdb.js';
import { serveOverSocket, SOCKET_PORT, type OwnerSocket } from './owner-socket.js';

export type DatabaseKind = 'pglite' | 'postgresql';

/**
 * The connection below Prisma, for bulk loads in one transaction (ingest/session.ts): the pg pool
 * (`copy`: it carries COPY FROM STDIN; the owner socket does not), or PGlite's own transactions
 * (COPY from a blob) — in-process, or on the embedded database's thread.
 */
export type BulkAccess = { kind: 'pg'; pool: pg.Pool; copy: boolean } | { kind: 'pglite'; pglite: BulkPGlite };

/**
 * How this process reaches the database: `url` a PostgreSQL server; `owner` the embedded database
 * opened in-process (this process holds the data directory's lock); `owner-socket` the embedded
 * database through the socket of the server that owns it.
 */
export type DatabaseAccess = 'url' | 'owner' | 'owner-socket';

export interface DatabaseOptions {
  /** postgresql:// URL; when absent the embedded database is used. */
  databaseUrl?: string;
  /** Folder of the embedded database; `memory://` keeps it in memory (tests). */
  dataDir?: string;
  poolSize?: number;
  /**
   * Who opens an embedded data directory. `server`: owns it (refused when another process does)
   * and serves it to the others on a socket. `command` (default): connects through a running
   * server's socket, else owns the directory for its run (refused when another command does).
   */
  role?: 'server' | 'command';
  /** Recorded in the lock, shown to a process that is refused: `npm start`, `npm run import`… */
  processName?: string;
  /** How long a command waits for the owner's socket when another command is using it (ms). */
  socketWaitMs?: number;
  /** Told once when a command waits for the socket. */
  onWait?: (message: string) => void;
  /** Told when the server disconnects a command that holds the embedded database idle. */
  onWarning?: (message: string) => void;
  /**
   * A server's embedded database runs on a thread of its own (default), off the event loop;
   * `false` runs it in-process as a command does (EMBEDDED_DB_THREAD=off). A `memory://` database
   * runs on a thread only when this is `true`.
   */
  embeddedThread?: boolean;
  /** Told when the embedded database's thread stops without being closed. */
  onDatabaseExit?: (reason: string) => void;
}

export interface Database {
  readonly kind: DatabaseKind;
  readonly access: DatabaseAccess;
  readonly prisma: PrismaClient;
  /** For the schema engine (migrations): on PostgreSQL its own short-lived pools, so its advisory lock never outlives a migration. */
  readonly adapterFactory: SqlMigrationAwareDriverAdapterFactory;
  /** Number of SQL statements sent so far; tests use it to prove batching (no N+1). */
  readonly queryCount: () => number;
  /** The socket this process serves the embedded database on (server owners only). */
  readonly socketPath?: string;
  /** The connection below Prisma, for bulk loads (COPY) in one transaction: npm run import. */
  readonly bulk: BulkAccess;
  /**
   * The node-postgres pool behind `prisma` when this process reaches a PostgreSQL server
   * (DATABASE_URL): for what Prisma cannot send, e.g. COPY FROM STDIN (batch scoring's writes).
   * Absent on the embedded database.
   */
  readonly pgPool?: pg.Pool;
  /**
   * Hears committed changes from every writer (see changes.ts). Available to servers: PostgreSQL
   * (a LISTEN connection of its own) and the embedded database's owner.
   */
  subscribeToChanges(handlers: ChangeHandlers): Promise<ChangeSubscription>;
  close(): Promise<void>;
}

interface Driver {
  kind: DatabaseKind;
  access: DatabaseAccess;
  adapterFactory: SqlMigrationAwareDriverAdapterFactory;
  /** What the schema engine connects through, when it must not share the client's pool. */
  migrationAdapterFactory?: SqlMigrationAwareDriverAdapterFactory;
  socketPath?: string;
  bulk: BulkAccess;
  subscribe(handlers: ChangeHandlers): Promise<ChangeSubscription>;
  close(): Promise<void>;
}

/** `postgresql://…`, or a server's socket directory. */
type PostgresTarget = { url: string } | { socketDir: string };

function poolConfig(target: PostgresTarget, max: number): pg.PoolConfig {
  if ('socketDir' in target) {
    return { host: target.socketDir, port: SOCKET_PORT, user: 'postgres', database: 'postgres', max, connectionTimeoutMillis: 5_000 };
  }
  return {
    connectionString: target.url,
    // PostgreSQL's JIT compiles the batched feature query (its cost estimate is high) for ~180 ms,
    // several times the query itself; off for our connections unless the URL sets `options`.
    ...(new URL(target.url).searchParams.has('options') ? {} : { options: '-c jit=off' }),
    max,
    connectionTimeoutMillis: 5_000,
  };
}

/**
 * "A PostgreSQL connection": one node-postgres pool, shared by the Prisma client and the schema
 * engine (so a pool of one connection is enough for a command through the owner's socket).
 */
function postgresDriver(target: PostgresTarget, poolSize: number, access: DatabaseAccess, kind: DatabaseKind): Driver {
  const config = poolConfig(target, poolSize);
  const pool = new pg.Pool(config);
  // An idle connection that breaks (server restart, owner stopped) must not crash the process;
  // the next query gets a fresh connection or a clear error.
  pool.on('error', () => {});
  return {
    kind,
    access,
    adapterFactory: new PrismaPg(pool),
    // The schema engine holds a session-level advisory lock while it migrates. Through a shared
    // pool its unlock can run on another connection than its lock, and the lock then stays with
    // the pooled connection for the life of the process, stalling every other migrator (a second
    // replica, npm run train). So it gets pools of its own, closed (and the lock with them) after
    // each migration — except through the owner's socket, where one connection is all there is.
    migrationAdapterFactory: access === 'owner-socket' ? undefined : new PrismaPg(config),
    // The owner socket does not carry COPY FROM STDIN (ingest/session.ts).
    bulk: { kind: 'pg', pool, copy: access !== 'owner-socket' },
    subscribe: (handlers) =>
      access === 'owner-socket'
        ? Promise.reject(new Error('Changes are heard by the owner of the embedded database, not through its socket'))
        : listenOnPostgres(config, handlers),
    close: () => pool.end(),
  };
}

/**
 * A dedicated LISTEN connection (not from the pool). When it drops it reconnects with backoff and
 * reports a gap, since notifications sent meanwhile are lost.
 */
async function listenOnPostgres(config: pg.PoolConfig, handlers: ChangeHandlers): Promise<ChangeSubscription> {
  let closed = false;
  let client: pg.Client | undefined;
  let retry: NodeJS.Timeout | undefined;
  let delay = 250;
  const connect = async (): Promise<void> => {
    const c = new pg.Client({ ...config, application_name: 'cia-change-listener' } as pg.ClientConfig);
    c.on('notification', (msg) => {
      if (msg.channel === CHANGES_CHANNEL) handlers.onChange(parseChange(msg.payload ?? ''));
    });
    const lost = (reason: string) => {
      if (closed || client !== c) return;
      client = undefined;
      c.removeAllListeners('notification');
      void c.end().catch(() => {});
      handlers.onGap(`change listener lost its connection (${reason})`);
      schedule();
    };
    c.on('error', (err) => lost(err.message));
    c.on('end', () => lost('connection ended'));
    await c.connect();
    await c.query(`LISTEN ${CHANGES_CHANNEL}`);
    client = c;
    delay = 250;
  };
  const schedule = () => {
    if (closed) return;
    retry = setTimeout(() => {
      connect().then(
        () => handlers.onGap('change listener reconnected'),
        () => {
          delay = Math.min(delay * 2, 10_000);
          schedule();
        },
      );
    }, delay);
    retry.unref();
  };
  await connect();
  return {
    async close() {
      closed = true;
      clearTimeout(retry);
      const c = client;
      client = undefined;
      await c?.end().catch(() => {});
    },
  };
}

/**
 * Who hears the embedded database's changes: NOTIFYs on CHANGES_CHANNEL from the owner's own writes
 * (PGlite's listener) and from the socket's clients (its tap), dispatched to every subscriber.
 */
function changeListeners() {
  const listeners = new Set<ChangeHandlers>();
  return {
    dispatch(channel: string, payload: string) {
      if (channel !== CHANGES_CHANNEL) return;
      const change = parseChange(payload);
      for (const l of listeners) l.onChange(change);
    },
    add(handlers: ChangeHandlers): ChangeSubscription {
      listeners.add(handlers);
      return {
        async close() {
          listeners.delete(handlers);
        },
      };
    },
  };
}

const idleClientWarning = (warn?: (message: string) => void) => (idleMs: number) =>
  warn?.(`a command stayed idle inside a transaction for ${Math.round(idleMs / 1000)} s; disconnected and rolled back`);

/**
 * The embedded database for the server that owns it, on a thread of its own (embedded-thread.ts),
 * which also serves it to the commands on the socket.
 */
async function threadDriver(dataDir: string, lock: DataDirLock | undefined, warn?: (message: string) => void, onExit?: (reason: string) => void): Promise<Driver> {
  if (!dataDir.startsWith('memory://')) await initializeDataDir(dataDir);
  const changes = changeListeners();
  const thread = await startEmbeddedThread({
    dataDir,
    serve: lock !== undefined,
    onNotification: changes.dispatch,
    onIdleClient: idleClientWarning(warn),
    onExit,
  });
  if (thread.socketPath) await lock?.setSocket(thread.socketPath);
  return {
    kind: 'pglite',
    access: 'owner',
    adapterFactory: thread.adapterFactory,
    socketPath: thread.socketPath,
    bulk: { kind: 'pglite', pglite: thread.bulk },
    async subscribe(handlers) {
      await thread.listen(CHANGES_CHANNEL);
      return changes.add(handlers);
    },
    async close() {
      await thread.close();
      await lock?.release();
    },
  };
}

/** The embedded database, opened in this process. A server owner also serves it on a socket. */
async function ownerDriver(dataDir: string, lock: DataDirLock | undefined, serve: boolean, warn?: (message: string) => void): Promise<Driver> {
  if (!dataDir.startsWith('memory://')) await initializeDataDir(dataDir);
  const pglite = await PGlite.create(dataDir);
  const changes = changeListeners();
  let socket: OwnerSocket | undefined;
  if (serve && lock) {
    socket = await serveOverSocket(pglite, dataDir, { onNotification: changes.dispatch, onIdleClient: idleClientWarning(warn) });
    await lock.setSocket(socket.path);
  }
  let unlisten: (() => Promise<void>) | undefined;
  return {
    kind: 'pglite',
    access: 'owner',
    adapterFactory: new PrismaPGlite(pglite),
    socketPath: socket?.path,
    bulk: { kind: 'pglite', pglite },
    async subscribe(handlers) {
      // The owner's own writes arrive through PGlite's listener; socket clients' through the tap.
      unlisten ??= await pglite.listen(CHANGES_CHANNEL, (payload) => changes.dispatch(CHANGES_CHANNEL, payload));
      return changes.add(handlers);
    },
    async close() {
      await socket?.close();
      await pglite.close();
      await lock?.release();
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A command reaches the embedded database: through the owner's socket, or as its owner. */
async function commandDriver(dataDir: string, options: DatabaseOptions): Promise<Driver> {
  const name = options.processName ?? 'a command';
  const deadline = Date.now() + (options.socketWaitMs ?? 120_000);
  let told = false;
  for (;;) {
    const attempt = await tryLockDataDir(dataDir, { role: 'command', name });
    if (attempt.acquired) {
      try {
        return await ownerDriver(dataDir, attempt.lock, false);
      } catch (err) {
        await attempt.lock.release();
        throw err;
      }
    }
    const owner = attempt.owner;
    if (owner.role === 'server' && owner.socket) {
      const driver = postgresDriver({ socketDir: path.dirname(owner.socket) }, 1, 'owner-socket', 'pglite');
      try {
        // Prove the connection now: the owner serves one client at a time.
        await driver.adapterFactory.connect().then(async (a) => {
          await a.queryRaw({ sql: 'SELECT 1', args: [], argTypes: [] });
          await a.dispose();
        });
        return driver;
      } catch (err) {
        await driver.close().catch(() => {});
        if (Date.now() > deadline) {
          throw new Error(`Could not connect to the database of ${owner.name} (pid ${owner.pid}) on ${owner.socket}: ${(err as Error).message}`);
        }
        if (!told) {
          options.onWait?.(`waiting: ${owner.name} (pid ${owner.pid}) serves its database to one command at a time, and another one is using it (${(err as Error).message})`);
        }
      }
    } else if (owner.role === 'server') {
      // A server that has the lock but is not serving yet (it is starting).
      if (Date.now() > deadline) throw new DataDirInUseError(dataDir, owner, 'It has not opened its database socket yet; try again when it is ready.');
      if (!told) options.onWait?.(`waiting for ${owner.name} (pid ${owner.pid}) to open its database socket`);
    } else if (owner.pid < 0) {
      // Its owner is writing the lock file right now: look again in a moment.
      if (Date.now() > deadline) throw new DataDirInUseError(dataDir, owner, 'Try again in a moment.');
    } else {
      throw new DataDirInUseError(dataDir, owner, 'Wait for that command to finish, then run this one again. (While a server runs, commands share its database through it instead.)');
    }
    told = true;
    await sleep(250);
  }
}

/** How long an interactive transaction may wait for a connection before it fails. */
export const TRANSACTION_MAX_WAIT_MS = 30_000;

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  let driver: Driver;
  if (options.databaseUrl) {
    driver = postgresDriver({ url: options.databaseUrl }, options.poolSize ?? 10, 'url', 'postgresql');
  } else {
    const dataDir = options.dataDir ?? 'memory://';
    if (dataDir.startsWith('memory://')) {
      // In memory (tests): in-process unless a thread is asked for explicitly.
      driver = options.embeddedThread === true ? await threadDriver(dataDir, undefined, options.onWarning, options.onDatabaseExit) : await ownerDriver(dataDir, undefined, false);
    } else {
      await mkdir(dataDir, { recursive: true });
      if (options.role === 'server') {
        const attempt = await tryLockDataDir(dataDir, { role: 'server', name: options.processName ?? 'the server' });
        if (!attempt.acquired) {
          const advice =
            attempt.owner.role === 'server'
              ? 'Stop it first, or give this server another DATA_DIR. Commands (npm run import, score, db:seed…) use the running server\'s database through its socket; to serve from several processes use PostgreSQL (DATABASE_URL).'
              : 'Wait for that command to finish, then start the server.';
          throw new DataDirInUseError(dataDir, attempt.owner, advice);
        }
        try {
          driver =
            options.embeddedThread === false
              ? await ownerDriver(dataDir, attempt.lock, true, options.onWarning)
              : await threadDriver(dataDir, attempt.lock, options.onWarning, options.onDatabaseExit);
        } catch (err) {
          await attempt.lock.release();
          throw err;
        }
      } else {
        driver = await commandDriver(dataDir, options);
      }
    }
  }

  const prisma = new PrismaClient({
    adapter: driver.adapterFactory,
    log: [{ emit: 'event', level: 'query' }],
    // An interactive transaction waits for its connection as a statement does. On the embedded
    // database a command's transaction (an import, or the rollback of a killed one) holds the one
    // session for seconds; Prisma's default 2 s wait turned that wait into an INTERNAL_SERVER_ERROR
    // of segmentSummary (seen under load right after kill -9 of an import). A request still ends
    // at HTTP_REQUEST_TIMEOUT_SECONDS (30 s by default).
    transactionOptions: { maxWait: TRANSACTION_MAX_WAIT_MS },
  });
  let queries = 0;
  prisma.$on('query', () => {
    queries += 1;
  });

  return {
    kind: driver.kind,
    access: driver.access,
    prisma,
    adapterFactory: driver.migrationAdapterFactory ?? driver.adapterFactory,
    socketPath: driver.socketPath,
    bulk: driver.bulk,
    // A view of `bulk`: the server's pool, for COPY and plain node-postgres reads (not through the owner's socket).
    pgPool: driver.bulk.kind === 'pg' && driver.bulk.copy ? driver.bulk.pool : undefined,
    queryCount: () => queries,
    subscribeToChanges: (handlers) => driver.subscribe(handlers),
    async close() {
      await prisma.$disconnect();
      await driver.close();
    },
  };
}

/**
 * Options for a command-line tool: DATABASE_URL, else the embedded DATA_DIR — through the running
 * server's socket (one connection), or owned by the command for its run. Waiting is reported on stderr.
 */
export function commandDatabase(
  config: { DATABASE_URL?: string; dataDir: string },
  processName: string,
  poolSize = 2,
): DatabaseOptions {
  return {
    databaseUrl: config.DATABASE_URL,
    dataDir: config.dataDir,
    poolSize,
    role: 'command',
    processName,
    onWait: (message) => process.stderr.write(`${processName}: ${message}\n`),
  };
}
