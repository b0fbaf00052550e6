// The embedded database on a thread of its own, for the server that owns it.
//
// PGlite executes every statement synchronously on the thread that calls it. In the server's own
// thread that is the event loop, which also parses, executes and answers every request: under
// load PGlite took about a quarter of it, and the embedded database gave 67–85 % of PostgreSQL's
// throughput, where PostgreSQL works on the machine's other core. Here PGlite, the socket the
// commands connect through (owner-socket.ts) and the Prisma adapter over PGlite all live in a
// worker thread (embedded-thread.worker.ts); the server's Prisma client talks to that adapter
// through the adapter below, which forwards each call as one message. The statements, their
// order, and the session rules of owner-socket.ts are those of the in-process database: only the
// thread differs.
//
// If the thread dies (a WebAssembly abort), every call waiting on it and every later one fails as
// "database not reachable" (SERVICE_UNAVAILABLE to API clients, readiness fails), and `onExit` is told.
import { fileURLToPath } from 'node:url';
import type { Worker } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';
import {
  DriverAdapterError,
  type IsolationLevel,
  type SqlDriverAdapter,
  type SqlMigrationAwareDriverAdapterFactory,
  type SqlQuery,
  type SqlResultSet,
  type Transaction,
  type TransactionOptions,
} from '@prisma/driver-adapter-utils';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { startWorker } from '../threads.js';

/** What the worker is started with. */
export interface ThreadOptions {
  dataDir: string;
  /** Serve the database to the commands on a unix socket in dataDir. */
  serve: boolean;
}

/** A call from the server's thread; `tx` = an open transaction's number. */
export type Call =
  | { op: 'query' | 'execute'; query: SqlQuery; tx?: number }
  | { op: 'script'; script: string }
  | { op: 'begin'; isolationLevel?: IsolationLevel }
  | { op: 'commit' | 'rollback'; tx: number }
  | { op: 'listen'; channel: string }
  | { op: 'bulk-begin' }
  | { op: 'bulk-query'; tx: number; text: string; params: unknown[]; blob?: Blob }
  | { op: 'bulk-end'; tx: number; commit: boolean }
  | { op: 'close' };

/** An error as it crosses the thread boundary; a DriverAdapterError keeps its payload (`cause`). */
export interface WireError {
  name: string;
  message: string;
  stack?: string;
  cause?: unknown;
}

/** Messages from the worker. */
export type ThreadMessage =
  | { type: 'ready'; socketPath?: string }
  | { type: 'failed'; error: WireError }
  | { type: 'reply'; id: number; value?: unknown; error?: WireError }
  | { type: 'notification'; channel: string; payload: string }
  | { type: 'idle-client'; idleMs: number };

export function toWireError(err: unknown): WireError {
  if (err instanceof Error) {
    return { name: err.name, message: err.message, stack: err.stack, cause: err.name === 'DriverAdapterError' ? err.cause : undefined };
  }
  return { name: 'Error', message: String(err) };
}

function fromWireError(wire: WireError): Error {
  if (wire.name === 'DriverAdapterError' && wire.cause && typeof wire.cause === 'object') {
    return new DriverAdapterError(wire.cause as ConstructorParameters<typeof DriverAdapterError>[0]);
  }
  const err = new Error(wire.message);
  err.name = wire.name;
  if (wire.stack) err.stack = wire.stack;
  return err;
}

export interface EmbeddedThreadOptions extends ThreadOptions {
  /** NOTIFYs on the channels asked for with listen(), from the owner's and the commands' writes. */
  onNotification: (channel: string, payload: string) => void;
  /** A command was disconnected for holding the session idle inside a transaction. */
  onIdleClient?: (idleMs: number) => void;
  /** The thread stopped without being closed. */
  onExit?: (reason: string) => void;
}

/** The part of PGlite an import uses (ingest/session.ts): one transaction, queries and COPY from a blob. */
export interface BulkPGlite {
  transaction<T>(fn: (tx: BulkTransaction) => Promise<T>): Promise<T>;
}
export interface BulkTransaction {
  query<R>(text: string, params?: unknown[], options?: { blob?: Blob }): Promise<{ rows: R[]; affectedRows?: number }>;
}

export interface EmbeddedThread {
  readonly adapterFactory: SqlMigrationAwareDriverAdapterFactory;
  /** The thread (tests terminate it to see what a crash does). */
  readonly worker: Worker;
  readonly socketPath?: string;
  /** PGlite's transactions for an import in this process, run on the thread. */
  readonly bulk: BulkPGlite;
  /** Starts hearing NOTIFYs on `channel` (idempotent: the thread listens once per channel). */
  listen(channel: string): Promise<void>;
  close(): Promise<void>;
}

const ADAPTER_NAME = 'pglite-prisma-adapter';

export async function startEmbeddedThread(options: EmbeddedThreadOptions): Promise<EmbeddedThread> {
  const here = fileURLToPath(import.meta.url);
  const file = here.replace(/embedded-thread\.(ts|js)$/, 'embedded-thread.worker.$1');
  const worker = startWorker(file, { workerData: { dataDir: options.dataDir, serve: options.serve } satisfies ThreadOptions });
  const pending = new Map<number, { resolve(value: unknown): void; reject(err: Error): void }>();
  let nextId = 1;
  let stopped: string | undefined;
  let closing = false;
  let opened = false;

  // Read by isDatabaseUnavailable (kind DatabaseNotReachable): SERVICE_UNAVAILABLE, readiness fails.
  const unreachable = (reason: string) => {
    const err = new DriverAdapterError({ kind: 'DatabaseNotReachable', host: 'embedded database thread' });
    err.message = `The embedded database's thread stopped (${reason})`;
    return err;
  };

  const ready = new Promise<string | undefined>((resolve, reject) => {
    worker.on('message', (msg: ThreadMessage) => {
      switch (msg.type) {
        case 'ready':
          resolve(msg.socketPath);
          break;
        case 'failed':
          reject(fromWireError(msg.error));
          break;
        case 'reply': {
          const call = pending.get(msg.id);
          if (!call) break;
          pending.delete(msg.id);
          if (msg.error) call.reject(fromWireError(msg.error));
          else call.resolve(msg.value);
          break;
        }
        case 'notification':
          options.onNotification(msg.channel, msg.payload);
          break;
        case 'idle-client':
          options.onIdleClient?.(msg.idleMs);
          break;
      }
    });
    const gone = (reason: string) => {
      if (stopped) return;
      stopped = reason;
      reject(new Error(`The embedded database's thread stopped while opening ${options.dataDir}: ${reason}`));
      for (const call of pending.values()) call.reject(unreachable(reason));
      pending.clear();
      if (!closing && opened) options.onExit?.(reason);
    };
    worker.on('error', (err) => gone(err.message));
    worker.on('exit', (code) => gone(`exit code ${code}`));
  });

  const call = <T>(message: Call): Promise<T> => {
    if (stopped) return Promise.reject(unreachable(stopped));
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      // A value that cannot be cloned fails here, before anything waits for its reply.
      worker.postMessage({ id, ...message });
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
    });
  };

  let socketPath: string | undefined;
  try {
    socketPath = await ready;
    opened = true;
  } catch (err) {
    closing = true;
    await worker.terminate();
    throw err;
  }

  const queryable = (tx?: number) => ({
    provider: 'postgres' as const,
    adapterName: ADAPTER_NAME,
    queryRaw: (query: SqlQuery) => call<SqlResultSet>({ op: 'query', query, tx }),
    executeRaw: (query: SqlQuery) => call<number>({ op: 'execute', query, tx }),
  });

  const adapter: SqlDriverAdapter = {
    ...queryable(),
    executeScript: (script) => call<void>({ op: 'script', script }),
    async startTransaction(isolationLevel?: IsolationLevel): Promise<Transaction> {
      const { tx, options: txOptions } = await call<{ tx: number; options: TransactionOptions }>({ op: 'begin', isolationLevel });
      return {
        ...queryable(tx),
        options: txOptions,
        commit: () => call<void>({ op: 'commit', tx }),
        rollback: () => call<void>({ op: 'rollback', tx }),
      };
    },
    getConnectionInfo: () => ({ supportsRelationJoins: true }),
    dispose: () => Promise.resolve(),
  };

  const bulk: BulkPGlite = {
    async transaction(fn) {
      const tx = await call<number>({ op: 'bulk-begin' });
      let result;
      try {
        result = await fn({
          query: (text, params = [], options) => call({ op: 'bulk-query', tx, text, params, blob: options?.blob }),
        });
      } catch (err) {
        await call<void>({ op: 'bulk-end', tx, commit: false }).catch(() => {});
        throw err;
      }
      await call<void>({ op: 'bulk-end', tx, commit: true });
      return result;
    },
  };

  return {
    socketPath,
    worker,
    bulk,
    adapterFactory: {
      provider: 'postgres',
      adapterName: ADAPTER_NAME,
      connect: () => Promise.resolve(adapter),
      // Only `npm run db:migration` (a command, never a server) diffs against a shadow database.
      connectToShadowDb: () => new PrismaPGlite(new PGlite('memory://shadow')).connectToShadowDb(),
    },
    listen: (channel) => call<void>({ op: 'listen', channel }),
    async close() {
      if (stopped) return;
      closing = true;
      await call<void>({ op: 'close' }).catch(() => {});
      await worker.terminate();
    },
  };
}
