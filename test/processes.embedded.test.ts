// Many processes, one embedded database (issue 10), with real processes: the server owns DATA_DIR
// and serves it on a socket; `npm run import` and `npm run score` go through it while it serves;
// what they write is visible at once (cached predictions included) and after a restart; a second
// server is refused; kill -9 of a command or of the server loses nothing and needs no cleanup; and
// an import that rolls back through the socket never takes the server's acknowledged orders with it.
import { existsSync, readFileSync } from 'node:fs';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCK_FILE } from '../src/db/data-dir-lock.js';
import { initializeDataDir } from '../src/db/initdb.js';
import { root, runCommand, startNode, startService, type ServiceProcess } from './helpers/process.js';

const AS_OF = '1998-07-01T00:00:00.000Z';
const cdnow = path.join(root, 'test/fixtures/ingest/cdnow-small.txt');
const READY = /"msg":"GraphQL API ready"/;

let scratch: string;
const running: ServiceProcess[] = [];

beforeAll(async () => {
  scratch = await mkdtemp(path.join(os.tmpdir(), 'cia-procs-'));
  // initdb once (the slowest part of a first start); each test starts from a copy.
  await initializeDataDir(path.join(scratch, 'template'));
}, 600_000);

/** A fresh, empty embedded database directory. */
async function freshDataDir(name: string): Promise<string> {
  const dir = path.join(scratch, name);
  await cp(path.join(scratch, 'template'), dir, { recursive: true });
  return dir;
}
afterAll(async () => {
  for (const p of running) p.child.kill('SIGKILL');
  await rm(scratch, { recursive: true, force: true });
});

async function serve(dataDir: string, env: Record<string, string> = {}) {
  const service = startService({ DATA_DIR: dataDir, DEMO_CUSTOMERS: '0', SCORING_AS_OF: AS_OF, ...env });
  running.push(service);
  const ready = await service.waitFor(READY, 240_000);
  const base = String(ready.url).replace('/graphql', '');
  const gql = async (query: string, variables?: Record<string, unknown>) => {
    const res = await fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await res.json()) as { data?: any; errors?: unknown[] };
    // The server's own warnings and errors say why a request failed (the response only says INTERNAL_SERVER_ERROR).
    if (body.errors) throw new Error(`GraphQL errors: ${JSON.stringify(body.errors)}\nserver log:\n${service.lines.filter((l) => /"level":(40|50|60)/.test(l)).slice(-5).join('\n')}`);
    return body.data;
  };
  return { service, base, gql, startupSeconds: Number(ready.startupSeconds) };
}

const env = (dataDir: string) => ({ DATA_DIR: dataDir, SCORING_AS_OF: AS_OF, LOG_LEVEL: 'warn' });
const importFile = (dataDir: string, ...args: string[]) => runCommand('src/ingest/cli.ts', args, env(dataDir));

/** A CSV of `perCustomer` orders for each of `customers` (external ids), in June 1998. */
async function ordersCsv(name: string, customers: string[], perCustomer: number, amount = '120.00'): Promise<string> {
  const lines = ['order_id,customer_id,ordered_at,amount'];
  for (const c of customers) {
    for (let i = 0; i < perCustomer; i++) {
      const day = String(1 + (i % 28)).padStart(2, '0');
      lines.push(`${name}-${c}-${i},${c},1998-06-${day}T10:00:00.000Z,${amount}`);
    }
  }
  const file = path.join(scratch, `${name}.csv`);
  await writeFile(file, lines.join('\n') + '\n');
  return file;
}

const customerQuery = `query ($id: String!) { customerByExternalId(externalId: $id) {
  stats { orderCount totalSpent } segmentProbabilities { segment probability } score { segment } } }`;

const counts = `{ customers(first: 1) { totalCount } segmentSummary { customersScored customersTotal } }`;

describe('one embedded database, many processes', { timeout: 900_000 }, () => {
  it('import and score while serving are visible at once, survive SIGTERM and a restart', async () => {
    const dataDir = await freshDataDir('seq');
    const first = await serve(dataDir);
    const lock = JSON.parse(readFileSync(path.join(dataDir, LOCK_FILE), 'utf8'));
    expect(lock).toMatchObject({ pid: first.service.child.pid, role: 'server' });
    expect(existsSync(lock.socket)).toBe(true);

    // import while serving → the running server sees it at once
    const imported = await importFile(dataDir, '--orders', cdnow);
    expect(imported.code, imported.output).toBe(0);
    expect((await first.gql(counts)).customers.totalCount).toBe(13);

    // a cached prediction is dropped when an import adds orders to its customer
    const before = (await first.gql(customerQuery, { id: 'cdnow-00011' })).customerByExternalId;
    const again = (await first.gql(customerQuery, { id: 'cdnow-00011' })).customerByExternalId;
    expect(again.segmentProbabilities).toEqual(before.segmentProbabilities);
    const more = await importFile(dataDir, '--orders', await ordersCsv('more', ['cdnow-00011'], 6, '400.00'));
    expect(more.code, more.output).toBe(0);
    const after = (await first.gql(customerQuery, { id: 'cdnow-00011' })).customerByExternalId;
    expect(after.stats.orderCount).toBe(before.stats.orderCount + 6);
    expect(after.segmentProbabilities).not.toEqual(before.segmentProbabilities);

    // score while serving → stored scores visible at once
    const scored = await runCommand('src/scoring/cli.ts', [], env(dataDir));
    expect(scored.code, scored.output).toBe(0);
    const summary = (await first.gql(counts)).segmentSummary;
    expect(summary).toEqual({ customersScored: 13, customersTotal: 13 });
    const scoredView = (await first.gql(customerQuery, { id: 'cdnow-00011' })).customerByExternalId;
    expect(scoredView.score.segment).toMatch(/^(lapsing|active|high_value)$/);
    expect({ ...scoredView, score: null }).toEqual({ ...after, score: null });

    // SIGTERM: exits 0, releases the lock and the socket
    first.service.child.kill('SIGTERM');
    expect((await first.service.exited).code).toBe(0);
    expect(existsSync(path.join(dataDir, LOCK_FILE))).toBe(false);
    expect(existsSync(lock.socket)).toBe(false);

    // restart: everything is still there
    const second = await serve(dataDir);
    expect(await second.gql(counts)).toEqual({ customers: { totalCount: 13 }, segmentSummary: { customersScored: 13, customersTotal: 13 } });
    expect((await second.gql(customerQuery, { id: 'cdnow-00011' })).customerByExternalId).toEqual(scoredView);
    console.log(`[startup] first start ${first.startupSeconds} s, restart ${second.startupSeconds} s (to ready, process uptime)`);
    second.service.child.kill('SIGTERM');
    expect((await second.service.exited).code).toBe(0);
  });

  it('refuses a second server on the same DATA_DIR with a message that says what to do; commands take turns', async () => {
    const dataDir = await freshDataDir('two');
    const first = await serve(dataDir);
    const refused = await runCommand('src/main.ts', [], { DATA_DIR: dataDir, DEMO_CUSTOMERS: '0', PORT: '0' });
    expect(refused.code).toBe(1);
    expect(refused.output).toContain(`DATA_DIR ${dataDir} is in use by the server`);
    expect(refused.output).toContain(`(pid ${first.service.child.pid}`);
    expect(refused.output).toMatch(/Stop it first, or give this server another DATA_DIR/);
    expect(refused.output).not.toMatch(/\n\s+at /);
    // the first one is untouched
    expect((await first.gql(counts)).customers.totalCount).toBe(0);
    // two commands at once through the one server: they take turns on its socket
    const [one, two] = await Promise.all([
      importFile(dataDir, '--orders', cdnow),
      importFile(dataDir, '--orders', await ordersCsv('turns', ['t-1', 't-2'], 3)),
    ]);
    expect(one.code, one.output).toBe(0);
    expect(two.code, two.output).toBe(0);
    expect((await first.gql(counts)).customers.totalCount).toBe(15);
    first.service.child.kill('SIGTERM');
    expect((await first.service.exited).code).toBe(0);
  });

  it('kill -9 of an import mid-write: the server still answers, nothing is half-written, a restart opens the database', async () => {
    const dataDir = await freshDataDir('kill-cli');
    const first = await serve(dataDir);
    expect((await importFile(dataDir, '--orders', cdnow)).code).toBe(0);
    const big = await ordersCsv('big', Array.from({ length: 2000 }, (_, i) => `k-${i}`), 40);
    const cli = startNode('src/ingest/cli.ts', ['--orders', big, '--progress', '--batch-size', '2000'], env(dataDir));
    running.push(cli);
    await cli.waitFor(/^inserting orders/, 240_000);
    cli.child.kill('SIGKILL');
    expect((await cli.exited).signal).toBe('SIGKILL');

    // the server answers, and the import's transaction was rolled back
    expect((await first.gql(counts)).customers.totalCount).toBe(13);
    first.service.child.kill('SIGTERM');
    expect((await first.service.exited).code).toBe(0);
    const second = await serve(dataDir);
    expect((await second.gql(counts)).customers.totalCount).toBe(13);
    second.service.child.kill('SIGTERM');
    await second.service.exited;
  });

  it('a stale lock after kill -9 of the owner needs no cleanup: commands and the next server take it over', async () => {
    const dataDir = await freshDataDir('kill-server');
    const first = await serve(dataDir);
    expect((await importFile(dataDir, '--orders', cdnow)).code).toBe(0);
    first.service.child.kill('SIGKILL');
    await first.service.exited;
    const stale = JSON.parse(readFileSync(path.join(dataDir, LOCK_FILE), 'utf8'));
    expect(stale.pid).toBe(first.service.child.pid); // left behind by the killed owner

    // with no server, a command owns the directory itself for its run
    const alone = await importFile(dataDir, '--orders', await ordersCsv('alone', ['cdnow-00012'], 2));
    expect(alone.code, alone.output).toBe(0);
    expect(existsSync(path.join(dataDir, LOCK_FILE))).toBe(false);

    const second = await serve(dataDir);
    const c = (await second.gql(customerQuery, { id: 'cdnow-00012' })).customerByExternalId;
    expect(c.stats.orderCount).toBeGreaterThanOrEqual(3);
    expect((await second.gql(counts)).customers.totalCount).toBe(13);
    second.service.child.kill('SIGTERM');
    await second.service.exited;
  });

  // The server's database on its own thread (the default) and on the event loop.
  it.each(['on', 'off'])('orders acknowledged by recordOrder while an import rolls back are all stored (EMBEDDED_DB_THREAD=%s)', async (thread) => {
    const dataDir = await freshDataDir(`rollback-${thread}`);
    const server = await serve(dataDir, { EMBEDDED_DB_THREAD: thread });
    expect((await importFile(dataDir, '--orders', cdnow)).code).toBe(0);
    const big = await ordersCsv('rolled', Array.from({ length: 2000 }, (_, i) => `r-${i}`), 25);

    // Two ways an import's transaction ends in ROLLBACK through the socket: --dry-run (the
    // importer rolls back) and kill -9 (the socket server rolls back for the vanished client).
    for (const ending of ['dry-run', 'kill -9'] as const) {
      const args = ['--orders', big, '--progress', '--batch-size', '2000', ...(ending === 'dry-run' ? ['--dry-run'] : [])];
      const cli = startNode('src/ingest/cli.ts', args, env(dataDir));
      running.push(cli);
      await cli.waitFor(/^inserting orders/, 240_000);

      // recordOrder requests sent while the import's transaction is open
      let n = 0;
      const acknowledged: string[] = [];
      const record = async () => {
        const externalId = `ack-${ending.replace(/\W/g, '')}-${n++}`;
        const data = await server.gql(
          `mutation ($id: String!) { recordOrder(input: { externalId: $id, customerExternalId: "cdnow-00013", orderedAt: "1998-06-15T12:00:00Z", amount: "9.99", itemCount: 1, currency: "USD" }) { externalId } }`,
          { id: externalId },
        );
        acknowledged.push(data.recordOrder.externalId);
      };
      const inFlight = [record(), record(), record(), record(), record()];
      if (ending === 'kill -9') cli.child.kill('SIGKILL');
      const { code, signal } = await cli.exited;
      if (ending === 'dry-run') expect(code).toBe(0);
      // Otherwise the import had already committed when the signal came (a race of this test on a
      // very busy machine, not a lost rollback): say so rather than fail on the count below.
      else expect(signal, 'the import finished before kill -9 reached it').toBe('SIGKILL');
      await Promise.all(inFlight);
      // and after it
      await record();
      expect(acknowledged).toHaveLength(6);

      const stored = await server.gql(`{ customerByExternalId(externalId: "cdnow-00013") { orders(first: 100) { edges { node { externalId } } } } }`);
      const ids = new Set(stored.customerByExternalId.orders.edges.map((e: any) => e.node.externalId));
      for (const id of acknowledged) expect(ids.has(id), `${id} acknowledged but not stored (${ending})`).toBe(true);
      // the import itself left nothing
      expect((await server.gql(counts)).customers.totalCount, `customers after the import ended by ${ending}`).toBe(13);
    }
    server.service.child.kill('SIGTERM');
    expect((await server.service.exited).code).toBe(0);
  });
});
