// The server's embedded database runs on a thread of its own (src/db/embedded-thread.ts): the
// event loop keeps turning while PGlite executes a statement, and everything that crossed the
// in-process adapter crosses the thread unchanged — migrations, Prisma's error codes, interactive
// transactions, an import's COPY, the commands' socket and the change notifications. A thread that dies fails every
// call as "database unavailable" instead of leaving requests hanging.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { turnsDuring } from './helpers/event-loop.js';
import { openDatabase, type Database } from '../src/db/client.js';
import type { Change } from '../src/db/changes.js';
import { startEmbeddedThread } from '../src/db/embedded-thread.js';
import { isDatabaseUnavailable } from '../src/db/errors.js';
import { applyMigrations } from '../src/db/migrate.js';

// About a hundred milliseconds or more of PGlite's CPU in one statement.
const HEAVY = 'SELECT count(*)::int AS n FROM generate_series(1, 1000000)';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'cia-thread-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe("the server's embedded database on its own thread", { timeout: 180_000 }, () => {
  let server: Database;
  const changes: Change[] = [];

  beforeAll(async () => {
    server = await openDatabase({ dataDir: path.join(tmp, 'db'), role: 'server', processName: 'the test server' });
    await applyMigrations(server.adapterFactory);
    await server.subscribeToChanges({ onChange: (c) => changes.push(c), onGap: () => {} });
  }, 180_000);
  afterAll(async () => {
    await server?.close();
  });

  it('keeps the event loop turning while a statement runs; in-process it cannot', async () => {
    const threaded = await turnsDuring(server.prisma.$queryRawUnsafe(HEAVY));
    // The same statement on a database opened in-process (as a command opens one).
    const inProcess = await openDatabase({ dataDir: 'memory://' });
    try {
      const blocked = await turnsDuring(inProcess.prisma.$queryRawUnsafe(HEAVY));
      expect(blocked).toBeLessThan(20);
      expect(threaded).toBeGreaterThan(10 * Math.max(blocked, 5));
    } finally {
      await inProcess.close();
    }
  });

  it("keeps Prisma's error codes and values across the thread", async () => {
    const created = await server.prisma.customer.create({ data: { externalId: 'T-1', name: 'Ada', birthDate: new Date('1990-05-06') } });
    expect(created.birthDate?.toISOString()).toBe('1990-05-06T00:00:00.000Z');
    const again = server.prisma.customer.create({ data: { externalId: 'T-1', name: 'Twice' } });
    await expect(again).rejects.toMatchObject({ code: 'P2002' });
    await expect(server.prisma.$queryRawUnsafe('SELECT * FROM no_such_table')).rejects.toMatchObject({
      meta: { driverAdapterError: { cause: { originalCode: '42P01' } } },
    });
    expect(await server.prisma.customer.count({ where: { externalId: 'T-1' } })).toBe(1);
  });

  it('rolls back an interactive transaction that throws, and commits one that returns', async () => {
    await expect(
      server.prisma.$transaction(async (tx) => {
        await tx.customer.create({ data: { externalId: 'T-rolled-back', name: 'Gone' } });
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    expect(await server.prisma.customer.count({ where: { externalId: 'T-rolled-back' } })).toBe(0);
    await server.prisma.$transaction(async (tx) => {
      await tx.customer.create({ data: { externalId: 'T-committed', name: 'Kept' } });
    });
    expect(await server.prisma.customer.count({ where: { externalId: 'T-committed' } })).toBe(1);
  });

  it('runs an import\'s transaction on the thread: COPY from a blob commits; a failure rolls all of it back', async () => {
    const bulk = server.bulk;
    if (bulk.kind !== 'pglite') throw new Error(`expected PGlite's own transactions, got ${bulk.kind}`);
    const copy = `COPY "Customer" ("externalId", "name") FROM '/dev/blob'`;
    await bulk.pglite.transaction(async (tx) => {
      await tx.query(copy, [], { blob: new Blob(['B-1\tBulk one\nB-2\tBulk two\n']) });
      expect((await tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM "Customer" WHERE "externalId" LIKE 'B-%'`)).rows).toEqual([{ n: 2 }]);
    });
    expect(await server.prisma.customer.count({ where: { externalId: { startsWith: 'B-' } } })).toBe(2);
    await expect(
      bulk.pglite.transaction(async (tx) => {
        await tx.query(copy, [], { blob: new Blob(['B-3\tBulk three\n']) });
        await tx.query('SELECT 1 / 0');
      }),
    ).rejects.toThrow(/division by zero/);
    expect(await server.prisma.customer.count({ where: { externalId: { startsWith: 'B-' } } })).toBe(2);
  });

  it("serves a command on its socket; the owner's and the command's committed changes are heard", async () => {
    const heard = async (id: string) => {
      while (!changes.some((c) => c.kind === 'all' || c.customerIds.includes(id))) await new Promise((r) => setTimeout(r, 20));
    };
    const own = await server.prisma.customer.update({ where: { externalId: 'T-1' }, data: { name: 'Ada L.' } });
    await heard(own.id);
    const command = await openDatabase({ dataDir: path.join(tmp, 'db'), role: 'command', processName: 'a test command', poolSize: 1 });
    try {
      expect(command.access).toBe('owner-socket');
      const renamed = await command.prisma.customer.update({ where: { externalId: 'T-committed' }, data: { name: 'Renamed' } });
      expect(await server.prisma.customer.findUnique({ where: { externalId: 'T-committed' } })).toMatchObject({ name: 'Renamed' });
      await heard(renamed.id);
    } finally {
      await command.close();
    }
  });
});

describe('a thread that dies', { timeout: 120_000 }, () => {
  it('fails the calls in flight and every later one as database unavailable, and says so once', async () => {
    const exits: string[] = [];
    const thread = await startEmbeddedThread({ dataDir: 'memory://', serve: false, onNotification: () => {}, onExit: (reason) => exits.push(reason) });
    const adapter = await thread.adapterFactory.connect();
    const select = { sql: 'SELECT 1 AS one', args: [], argTypes: [] };
    expect((await adapter.queryRaw(select)).rows).toEqual([[1]]);

    // A statement that would run for hours: only the thread's death ends it.
    const inFlight = adapter.queryRaw({ sql: 'SELECT count(*) FROM generate_series(1, 100000000000)', args: [], argTypes: [] });
    const failed = inFlight.then(
      () => null,
      (err: unknown) => err,
    );
    await thread.worker.terminate();
    const err = await failed;
    expect(err).not.toBeNull();
    expect(isDatabaseUnavailable(err)).toBe(true);
    await expect(adapter.queryRaw(select)).rejects.toSatisfy(isDatabaseUnavailable);
    expect(exits).toHaveLength(1);
    await thread.close();
  });
});
