// Database outage mid-load, on a private PostgreSQL server this test starts and stops: requests
// fail fast with SERVICE_UNAVAILABLE, the process stays up, and it recovers by itself.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { openDatabase } from '../src/db/client.js';
import { applyMigrations } from '../src/db/migrate.js';
import { seedDemo } from '../src/demo/seed.js';
import { CustomersPageDocument } from './generated/graphql.js';
import { createPostgresInstance, privatePostgresUnavailable, type PostgresInstance } from './helpers/postgres-instance.js';
import { codes, startTestServer, type TestServer } from './helpers/server.js';

const unavailable = await privatePostgresUnavailable();
if (unavailable) console.warn(`[tests] database outage test skipped: ${unavailable}`);

describe.skipIf(unavailable)('database outage', () => {
  let pg: PostgresInstance;
  let t: TestServer;
  beforeAll(async () => {
    pg = await createPostgresInstance(55_000 + Math.floor(Math.random() * 5_000));
    await pg.start();
    const db = await openDatabase({ databaseUrl: pg.url, poolSize: 4 });
    await applyMigrations(db.adapterFactory);
    await seedDemo(db, { customers: 100, seed: 3, anchor: '2026-01-01' });
    t = await startTestServer('postgresql', { SCORING_AS_OF: '2026-01-01T00:00:00.000Z' }, { db, drop: () => db.close() });
  });
  afterAll(async () => {
    await t?.close();
    await pg?.destroy();
  });

  const query = () => t.gql(CustomersPageDocument, { first: 5 });
  const health = async (path: string) => (await fetch(t.server.url.replace('/graphql', path))).status;

  it('fails fast while the database is down, stays up, and recovers on its own', async () => {
    // Load running before, during and after the outage. Every wait below is on an outcome, with a
    // generous deadline, so the test holds on a busy machine.
    let stop = false;
    const outcomes: string[] = [];
    let firstOk!: () => void;
    const sawOk = new Promise<void>((r) => (firstOk = r));
    const load = (async () => {
      while (!stop) {
        const res = await query();
        outcomes.push(res.errors ? String(codes(res)[0]) : 'ok');
        if (!res.errors) firstOk();
        await new Promise((r) => setTimeout(r, 20)); // pacing only; nothing waits on time
      }
    })();
    await sawOk;

    await pg.stop();
    const during: number[] = [];
    for (let i = 0; i < 5; i++) {
      const started = Date.now();
      const res = await query();
      during.push(Date.now() - started);
      expect(codes(res)).toEqual(['SERVICE_UNAVAILABLE']);
    }
    // "Fast" means well under the connection timeout a hung database would cost (the pool waits
    // 5 s for a connection; a hang would take the 60 s test timeout). Not a latency target.
    expect(Math.max(...during)).toBeLessThan(30_000);
    expect(await health('/health/live')).toBe(200);
    expect(await health('/health/ready')).toBe(503);

    await pg.start();
    // Polls until the service answers again (the event is "a query succeeds"), within 90 s.
    await vi.waitFor(async () => expect((await query()).errors).toBeUndefined(), { timeout: 90_000, interval: 200 });
    expect(await health('/health/ready')).toBe(200);
    stop = true;
    await load;
    expect(outcomes).toContain('SERVICE_UNAVAILABLE');
    expect([...new Set(outcomes)].filter((o) => o !== 'ok' && o !== 'SERVICE_UNAVAILABLE'), t.logs.filter((l) => l.includes('"level":50')).join('\n').slice(0, 3000)).toEqual([]);
  }, 180_000);
});
