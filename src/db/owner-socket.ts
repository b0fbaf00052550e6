// The embedded database's owner serves it to the other processes (the CLIs) over the PostgreSQL
// wire protocol on a unix socket (@electric-sql/pglite-socket), so they use it as any PostgreSQL.
//
// PGlite is ONE session. A socket client's `BEGIN` … `ROLLBACK` would wrap whatever the owner runs
// in between — a `ROLLBACK` of a failed import would silently undo orders the server had already
// acknowledged (reproduced). PGlite's own query(), exec() and transaction() all take its
// transaction mutex; the socket server only takes the per-message query mutex. So here every
// socket client message also takes the transaction mutex, and keeps it from its first message
// until the backend is idle again (ReadyForQuery with status 'I'): the whole client transaction —
// or the Parse…Sync of one extended-protocol query — runs with no owner statement in between, and
// the owner's statements wait for it (never the reverse). A client that disappears mid-way
// (kill -9) is synced and rolled back before the mutex is released.
//
// The same tap reads NotificationResponse messages out of the client's output: NOTIFYs committed
// by a socket client (the change triggers) reach the owner's listeners, which PGlite itself only
// does for its own parsed queries.
import { existsSync } from 'node:fs';
import { mkdtemp, rm, unlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { protocol, type PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

/** The file name libpq and node-postgres look for in a socket directory (`host` = the directory). */
export const SOCKET_PORT = 5432;
const SOCKET_NAME = `.s.PGSQL.${SOCKET_PORT}`;
/** sun_path is 108 bytes on Linux. */
const MAX_SOCKET_PATH = 100;

const MSG_NOTIFICATION = 0x41; // 'A'
const MSG_READY_FOR_QUERY = 0x5a; // 'Z'
const STATUS_IDLE = 0x49; // 'I'

type Release = () => void;

/** The parts of pglite-socket's (unexported) query queue that we adjust. */
interface QueryQueue {
  lastHandlerId: number | null;
  processQueue(): Promise<void>;
  clearTransactionIfNeeded(handlerId: number): Promise<void>;
}

interface PGliteInternals {
  _runExclusiveTransaction<T>(fn: () => Promise<T>): Promise<T>;
}

/** Reads backend messages from the raw output stream (they may arrive split across chunks). */
class BackendTap {
  private pending = Buffer.alloc(0);
  /** Status byte of the last ReadyForQuery seen since `reset()`, or null. */
  lastStatus: number | null = null;

  constructor(private readonly onNotification: (channel: string, payload: string) => void) {}

  reset() {
    this.lastStatus = null;
  }

  push(chunk: Uint8Array) {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : Buffer.from(chunk);
    let at = 0;
    while (this.pending.length - at >= 5) {
      const type = this.pending[at];
      const length = this.pending.readInt32BE(at + 1);
      if (this.pending.length - at < 1 + length) break;
      if (type === MSG_READY_FOR_QUERY) this.lastStatus = this.pending[at + 5];
      else if (type === MSG_NOTIFICATION) {
        const body = this.pending.subarray(at + 9, at + 1 + length); // after the sender's pid
        const end = body.indexOf(0);
        const channel = body.subarray(0, end).toString('utf8');
        const payload = body.subarray(end + 1, body.indexOf(0, end + 1)).toString('utf8');
        queueMicrotask(() => this.onNotification(channel, payload));
      }
      at += 1 + length;
    }
    this.pending = this.pending.subarray(at);
  }

  clear() {
    this.pending = Buffer.alloc(0);
  }
}

/**
 * A view of `db` for the socket server: its `runExclusive` (one client message) also holds PGlite's
 * transaction mutex until the backend is idle again; `execProtocolRawStream` goes through the tap.
 */
function gated(db: PGlite, tap: BackendTap) {
  const internals = db as unknown as PGliteInternals;
  let held: Release | null = null;
  let lastMessageAt = Date.now();
  const hold = () =>
    new Promise<Release>((got) => {
      void internals._runExclusiveTransaction(() => new Promise<void>((release) => got(release)));
    });
  const releaseIfIdle = () => {
    // Idle: the last ReadyForQuery said so, and no explicit transaction is open.
    if (held && tap.lastStatus === STATUS_IDLE && !db.isInTransaction()) {
      const release = held;
      held = null;
      release();
    }
  };
  const view = {
    get waitReady() {
      return db.waitReady;
    },
    isInTransaction: () => db.isInTransaction(),
    async runExclusive<T>(fn: () => Promise<T>): Promise<T> {
      lastMessageAt = Date.now();
      if (!held) held = await hold();
      tap.reset();
      try {
        return await db.runExclusive(fn);
      } finally {
        releaseIfIdle();
      }
    },
    execProtocolRawStream(message: Uint8Array, options: { syncToFs?: boolean; onRawData: (data: Uint8Array) => void }) {
      return db.execProtocolRawStream(message, {
        ...options,
        onRawData: (data) => {
          tap.push(data);
          options.onRawData(data);
        },
      });
    },
    /** Called by the socket server when a client leaves: end whatever it left open. */
    async exec(sql: string) {
      if (!held) return db.exec(sql);
      await abandon();
      return [];
    },
  };
  /** The client is gone: finish its extended-protocol exchange, roll back its transaction, release. */
  const abandon = async () => {
    if (!held) return;
    await db.runExclusive(async () => {
      tap.reset();
      await db.execProtocolRaw(protocol.serialize.sync(), { syncToFs: false });
      if (db.isInTransaction()) await db.execProtocolRaw(protocol.serialize.query('ROLLBACK'), { syncToFs: false });
      await db.syncToFs();
    });
    tap.clear();
    const release = held;
    held = null;
    release?.();
  };
  /** Milliseconds the current client has held the session without sending anything, or 0. */
  const idleHoldingMs = () => (held ? Date.now() - lastMessageAt : 0);
  return { view, abandon, idleHoldingMs };
}

/**
 * A client idle inside a transaction for this long (a suspended or hung command) is disconnected
 * and rolled back: meanwhile the server could run no query at all. Commands never pause that long
 * inside a transaction (an import writes a batch every few hundred milliseconds).
 */
export const IDLE_IN_TRANSACTION_MS = 60_000;

export interface OwnerSocket {
  /** Path of the unix socket; node-postgres connects with `host` = its directory. */
  readonly path: string;
  close(): Promise<void>;
}

/**
 * Serves `db` on a unix socket in `dataDir` (or in a private temporary directory when that path
 * would be too long for a unix socket). `onNotification` receives NOTIFYs committed by clients.
 */
export interface SocketOptions {
  /** NOTIFYs committed by socket clients. */
  onNotification: (channel: string, payload: string) => void;
  /** A client was disconnected for holding the session idle. */
  onIdleClient?: (idleMs: number) => void;
  idleInTransactionMs?: number;
}

export async function serveOverSocket(db: PGlite, dataDir: string, options: SocketOptions): Promise<OwnerSocket> {
  const { onNotification, onIdleClient = () => {}, idleInTransactionMs = IDLE_IN_TRANSACTION_MS } = options;
  let dir = dataDir;
  let privateDir = false;
  if (path.join(dir, SOCKET_NAME).length > MAX_SOCKET_PATH) {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cia-db-'));
    privateDir = true;
  }
  const socketPath = path.join(dir, SOCKET_NAME);
  // A socket file left by a killed owner (we hold the lock, so it is not in use).
  if (existsSync(socketPath)) await unlink(socketPath);

  const tap = new BackendTap(onNotification);
  const { view, abandon, idleHoldingMs } = gated(db, tap);
  // One client at a time: PGlite is one session, and interleaving two clients' extended-protocol
  // exchanges would mix their statements. A CLI therefore uses a pool of one connection.
  const server = new PGLiteSocketServer({ db: view as unknown as PGlite, path: socketPath, maxConnections: 1 });
  // When a client disconnects, the server rolls back only when an explicit transaction is open;
  // a client killed between Parse and Sync must also let go of the session.
  const queue = (server as unknown as { queryQueue: QueryQueue }).queryQueue;
  queue.clearTransactionIfNeeded = async () => {
    await abandon();
    queue.lastHandlerId = null;
    await queue.processQueue();
  };
  await server.start();
  const handlers = (server as unknown as { handlers: Set<{ detach(close: boolean): Promise<unknown> }> }).handlers;
  const watchdog = setInterval(() => {
    const idle = idleHoldingMs();
    if (idle < idleInTransactionMs) return;
    onIdleClient(idle);
    for (const handler of [...handlers]) {
      // detach() closes the socket without the events that remove the handler from the server's set.
      handlers.delete(handler);
      void handler.detach(true);
    }
  }, Math.min(5_000, idleInTransactionMs / 4));
  watchdog.unref();
  return {
    path: socketPath,
    async close() {
      clearInterval(watchdog);
      await server.stop();
      await abandon().catch(() => {});
      await unlink(socketPath).catch(() => {});
      if (privateDir) await rm(dir, { recursive: true, force: true });
    },
  };
}
