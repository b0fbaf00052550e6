// The embedded database's thread (started by embedded-thread.ts): PGlite, the socket the commands
// connect through, and the Prisma adapter whose calls the server's thread forwards here as
// messages. Calls run as they arrive, as they would in-process: PGlite's own mutexes order them
// (a statement waits while a transaction or a socket client holds the session).
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';
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
  let nextTx = 1;
  const listening = new Set<string>();

  const transaction = (tx: number) => {
    const t = transactions.get(tx);
    if (!t) throw new Error(`transaction ${tx} is not open`);
    return t;
  };

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
