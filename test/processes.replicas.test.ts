// Every server sees every write (issue 10): two real API processes on one PostgreSQL, the
// prediction cache on with an hour's TTL. An order recorded on one replica — or imported by
// `npm run import` — changes the other's `stats` and `prediction` of that customer at once:
// the change triggers NOTIFY, each server LISTENs and drops what it cached.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestDatabase, databaseKinds, type TestDatabase } from './helpers/databases.js';
import { runCommand, startService, type ServiceProcess } from './helpers/process.js';

const AS_OF = '2026-01-01T00:00:00.000Z';
const running: ServiceProcess[] = [];
let tdb: TestDatabase | undefined;
let scratch: string | undefined;

afterAll(async () => {
  for (const p of running) p.child.kill('SIGKILL');
  await Promise.all(running.map((p) => p.exited));
  await tdb?.drop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

async function replica(env: Record<string, string>) {
  const service = startService(env);
  running.push(service);
  const ready = await service.waitFor(/"msg":"GraphQL API ready"/, 240_000);
  const base = String(ready.url).replace('/graphql', '');
  const gql = async (query: string) => {
    const res = await fetch(`${base}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
    const body = (await res.json()) as { data?: any; errors?: unknown[] };
    if (body.errors) throw new Error(JSON.stringify(body.errors));
    return body.data;
  };
  const cacheHits = async () => {
    const text = await (await fetch(`${base}/metrics`)).text();
    return Number(/^prediction_cache_hits_total (\d+)/m.exec(text)?.[1] ?? NaN);
  };
  return { service, gql, cacheHits };
}

const view = `{ customerByExternalId(externalId: "rep-1") { stats { orderCount totalSpent } segmentProbabilities { segment probability } } }`;

describe.skipIf(!databaseKinds.includes('postgresql'))('replicas on one PostgreSQL', { timeout: 900_000 }, () => {
  it("an order recorded on one replica, or imported, changes the other's stats and prediction within 1 s", async () => {
    tdb = await createTestDatabase('postgresql');
    const customer = await tdb.db.prisma.customer.create({ data: { externalId: 'rep-1', name: 'Replica Test', createdAt: new Date('2024-01-01') } });
    for (let i = 0; i < 3; i++) {
      await tdb.db.prisma.order.create({
        data: { customerId: customer.id, externalId: `rep-1-old-${i}`, orderedAt: new Date(`2024-0${i + 3}-10T12:00:00Z`), amount: '20.00', itemCount: 1, currency: 'USD' },
      });
    }
    const env = {
      DATABASE_URL: tdb.url!,
      SCORING_AS_OF: AS_OF,
      PREDICTION_CACHE_CUSTOMERS: '1000',
      PREDICTION_CACHE_TTL_SECONDS: '3600',
    };
    const [a, b] = await Promise.all([replica(env), replica(env)]);

    // B has the prediction cached (served twice, the second time from its cache)
    const before = (await b.gql(view)).customerByExternalId;
    const hits = await b.cacheHits();
    expect((await b.gql(view)).customerByExternalId).toEqual(before);
    expect(await b.cacheHits()).toBeGreaterThan(hits);

    // recordOrder on A
    await a.gql(`mutation { recordOrder(input: { externalId: "rep-1-new", customerExternalId: "rep-1", orderedAt: "2025-12-20T12:00:00Z", amount: "900.00", itemCount: 3, currency: "USD" }) { id } }`);
    const acknowledged = performance.now();
    // Latency: from A's acknowledgement to the first request to B that sees the order (when it was sent).
    let latencyMs = Infinity;
    let after: any;
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const sent = performance.now();
      after = (await b.gql(view)).customerByExternalId;
      if (after.stats.orderCount === 4 && JSON.stringify(after.segmentProbabilities) !== JSON.stringify(before.segmentProbabilities)) {
        latencyMs = sent - acknowledged;
        break;
      }
    }
    console.log(`[replicas] recordOrder on A → B's stats and prediction changed after ${latencyMs.toFixed(1)} ms`);
    expect(after.stats).toEqual({ orderCount: 4, totalSpent: '960.00' });
    expect(latencyMs).toBeLessThan(1_000);

    // npm run import against the same PostgreSQL: both replicas drop their cached prediction
    const warmA = (await a.gql(view)).customerByExternalId;
    expect(warmA).toEqual(after);
    scratch = await mkdtemp(path.join(os.tmpdir(), 'cia-replicas-'));
    const file = path.join(scratch, 'orders.csv');
    await writeFile(file, 'order_id,customer_id,ordered_at,amount\nrep-1-imp-1,rep-1,2025-12-28T12:00:00Z,15.00\nrep-1-imp-2,rep-1,2025-12-29T12:00:00Z,15.00\n');
    const imported = await runCommand('src/ingest/cli.ts', ['--orders', file], { DATABASE_URL: tdb.url!, LOG_LEVEL: 'warn' });
    expect(imported.code, imported.output).toBe(0);
    const done = performance.now();
    for (const r of [a, b]) {
      let seen: any;
      let ms = Infinity;
      while (Date.now() < deadline + 60_000) {
        const sent = performance.now();
        seen = (await r.gql(view)).customerByExternalId;
        if (JSON.stringify(seen.segmentProbabilities) !== JSON.stringify(after.segmentProbabilities)) {
          ms = sent - done;
          break;
        }
      }
      expect(seen.stats.orderCount).toBe(6);
      expect(ms).toBeLessThan(1_000);
    }
  });
});
