// The embedded database's thread (started by embedded-thread.ts): PGlite, the socket the commands
// connect through, and the Prisma adapter whose calls the server's thread forwards here as
// messages. Calls run as they arrive, as they would in-process: PGlite's own mutexes order them
// (a statement waits while a transaction or a socket client holds the session).
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite, type Transaction as PGliteTransaction } from '@electric-sql/pglite';
import type { Transaction } from '@prisma/driver-adapter-utils';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { toWireError, type Call, type ThreadMessage, type ThreadOptions } from './embedded-thread.js';
import { serveOverSocket, type OwnerSocket } from './owner-socket.js';

const port = parentPort!;
const options = workerData as ThreadOptions;
const post = (message: ThreadMessage) => port.postMessage(message);

async function open() {
  const pglite = await PGlite.create(options.dataDir);
  const adapter = await new PrismaPGlite(pglite).connect();
  let socket: OwnerSocket | undefined;
  if (options.serve) {
    socket = await serveOverSocket(pglite, options.dataDir, {
      onNotification: (channel, payload) => post({ type: 'notification', channel, payload }),
      onIdleClient: (idleMs) => post({ type: 'idle-client', idleMs }),
    });
  }
  const transactions = new Map<number, Transaction>();
  /** Imports' transactions on PGlite itself: each held open until its bulk-end. */
  const bulk = new Map<number, { tx: PGliteTransaction; end(commit: boolean): Promise<void> }>();
  let nextTx = 1;
  const listening = new Set<string>();

  const opened = <T>(open: Map<number, T>, tx: number): T => {
    const t = open.get(tx);
    if (!t) throw new Error(`transaction ${tx} is not open`);
    return t;
  };
  const transaction = (tx: number) => opened(transactions, tx);

  const run = async (call: Call): Promise<unknown> => {
    switch (call.op) {
      case 'query':
        return (call.tx ? transaction(call.tx) : adapter).queryRaw(call.query);
      case 'execute':
        return (call.tx ? transaction(call.tx) : adapter).executeRaw(call.query);
      case 'script':
        return adapter.executeScript(call.script);
      case 'begin': {
        const t = await adapter.startTransaction(call.isolationLevel);
        const tx = nextTx++;
        transactions.set(tx, t);
        return { tx, options: t.options };
      }
      case 'commit':
      case 'rollback': {
        const t = transaction(call.tx);
        transactions.delete(call.tx);
        return call.op === 'commit' ? t.commit() : t.rollback();
      }
      case 'bulk-begin': {
        const id = nextTx++;
        return new Promise<number>((begun, failed) => {
          let release!: () => void;
          const held = new Promise<void>((r) => (release = r));
          // PGlite commits when the callback returns, unless tx.rollback() ended it first.
          const done = pglite.transaction(async (tx) => {
            bulk.set(id, {
              tx,
              async end(commit) {
                if (!commit) await tx.rollback();
                release();
                await done;
              },
            });
            begun(id);
            await held; // the import's queries run meanwhile
          });
          done.catch(failed);
        });
      }
      case 'bulk-query': {
        const r = await opened(bulk, call.tx).tx.query(call.text, call.params, call.blob ? { blob: call.blob } : undefined);
        return { rows: r.rows, affectedRows: r.affectedRows };
      }
      case 'bulk-end': {
        const open = opened(bulk, call.tx);
        bulk.delete(call.tx);
        return open.end(call.commit);
      }
      case 'listen':
        if (!listening.has(call.channel)) {
          listening.add(call.channel);
          await pglite.listen(call.channel, (payload) => post({ type: 'notification', channel: call.channel, payload }));
        }
        return undefined;
      case 'close':
        await socket?.close();
        await pglite.close();
        return undefined;
    }
  };

  port.on('message', (message: Call & { id: number }) => {
    run(message).then(
      (value) => post({ type: 'reply', id: message.id, value }),
      (err) => post({ type: 'reply', id: message.id, error: toWireError(err) }),
    );
  });
  post({ type: 'ready', socketPath: socket?.path });
}

open().catch((err) => post({ type: 'failed', error: toWireError(err) }));
