// The embedded database served over its socket is ONE session shared by the owner and a client.
// In-process checks of what keeps that safe: the owner's statements wait while a client's
// transaction (or one extended-protocol exchange) is open, so a client ROLLBACK never undoes the
// owner's acknowledged writes; a vanished or idle client is rolled back and the owner goes on;
// NOTIFYs committed by a client reach the owner.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { serveOverSocket, type OwnerSocket } from '../src/db/owner-socket.js';

let dir: string;
let db: PGlite;
let socket: OwnerSocket;
const notifications: string[] = [];
const idleDisconnects: number[] = [];

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'cia-sock-'));
  db = await PGlite.create('memory://');
  await db.exec(`CREATE TABLE t (a int);
    CREATE FUNCTION tell() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_notify('changes', 'rows'); RETURN NULL; END $$;
    CREATE TRIGGER t_tell AFTER INSERT ON t FOR EACH STATEMENT EXECUTE FUNCTION tell();`);
  notifications.length = 0;
  idleDisconnects.length = 0;
  socket = await serveOverSocket(db, dir, {
    onNotification: (channel, payload) => notifications.push(`${channel}:${payload}`),
    onIdleClient: (ms) => idleDisconnects.push(ms),
    idleInTransactionMs: 1_500,
  });
}, 120_000);

afterEach(async () => {
  await socket.close();
  await db.close();
  await rm(dir, { recursive: true, force: true });
});

async function client() {
  const c = new pg.Client({ host: path.dirname(socket.path), port: 5432, user: 'postgres', database: 'postgres' });
  c.on('error', () => {});
  await c.connect();
  return c;
}

const rows = async () => (await db.query<{ a: number }>('SELECT a FROM t ORDER BY a')).rows.map((r) => r.a);
const settled = <T>(p: Promise<T>) => Promise.race([p.then(() => 'done'), new Promise((r) => setImmediate(() => setImmediate(() => r('waiting'))))]);

describe('the embedded database over its socket', () => {
  it("runs the owner's writes outside a client's transaction: the client's ROLLBACK keeps them", async () => {
    const c = await client();
    await c.query('BEGIN');
    await c.query('INSERT INTO t VALUES ($1)', [1]);
    const owner = db.query('INSERT INTO t VALUES (2)');
    // a client round trip later, the owner's insert is still waiting for the client's transaction
    await c.query('SELECT 1');
    expect(await settled(owner)).toBe('waiting');
    await c.query('ROLLBACK');
    await owner;
    expect(await rows()).toEqual([2]);
    // and a committed client write is the owner's to read
    await c.query('INSERT INTO t VALUES ($1)', [3]);
    expect(await rows()).toEqual([2, 3]);
    await c.end();
  });

  it('rolls back a client that vanished inside its transaction, and serves the next one', async () => {
    const c = await client();
    await c.query('BEGIN');
    await c.query('INSERT INTO t VALUES ($1)', [10]);
    const owner = db.query('INSERT INTO t VALUES (11)');
    (c as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy(); // as kill -9 would
    await owner;
    expect(await rows()).toEqual([11]);
    expect(db.isInTransaction()).toBe(false);
    const next = await client();
    expect((await next.query('SELECT count(*)::int AS n FROM t')).rows[0].n).toBe(1);
    await next.end();
  });

  it('disconnects and rolls back a client idle inside a transaction', async () => {
    const c = await client();
    const ended = new Promise((r) => c.once('end', r));
    await c.query('BEGIN');
    await c.query('INSERT INTO t VALUES ($1)', [20]);
    await db.query('INSERT INTO t VALUES (21)'); // waits for the watchdog (1.5 s here)
    await ended;
    expect(idleDisconnects).toHaveLength(1);
    expect(await rows()).toEqual([21]);
  });

  it("hears the NOTIFYs a client's committed transaction sends, not those of a rolled-back one", async () => {
    // the owner listens (as the server does); PGlite delivers this session's notifications with the
    // output of whoever runs the commit — here the socket client
    await db.listen('changes', () => {});
    const c = await client();
    await c.query('BEGIN');
    await c.query('INSERT INTO t VALUES (30)');
    await c.query('ROLLBACK');
    await c.query('INSERT INTO t VALUES (31)');
    await new Promise((r) => setImmediate(r));
    expect(notifications).toEqual(['changes:rows']);
    await c.end();
  });
});
