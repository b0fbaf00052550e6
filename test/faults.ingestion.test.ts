// 10,000 recordOrder calls from concurrent clients that retry 10% of their orders at once and give
// up on random requests client-side (then retry them): exactly 10,000 orders land, totals to the cent.
import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RecordOrderDocument, UpsertCustomerDocument } from './generated/graphql.js';
import { databaseKinds } from './helpers/databases.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const ORDERS = 10_000;
const CLIENTS = 32;
const kind = databaseKinds.includes('postgresql') ? 'postgresql' : 'pglite';

/** Deterministic pseudo-random numbers so a failure can be replayed. */
function lcg(seed: number) {
  let x = seed >>> 0;
  return () => ((x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

describe(`ingestion under faults on ${kind}`, () => {
  let t: TestServer;
  const customers: string[] = [];
  beforeAll(async () => {
    t = await startTestServer(kind);
    for (let i = 0; i < 50; i++) {
      const res = await t.gql(UpsertCustomerDocument, { input: { externalId: `load-${i}`, name: `Load ${i}` } });
      customers.push(res.data!.upsertCustomer.id);
    }
  });
  afterAll(() => t?.close());

  it(`records exactly ${ORDERS} orders with matching totals despite retries and client timeouts`, { timeout: 900_000 }, async () => {
    const random = lcg(20261128);
    const orders = Array.from({ length: ORDERS }, (_, i) => ({
      externalId: `fault-${i}`,
      customerId: customers[i % customers.length],
      orderedAt: new Date(Date.UTC(2025, 0, 1) + i * 60_000).toISOString(),
      amount: (Math.floor(random() * 50_000) / 100).toFixed(2),
      itemCount: 1 + (i % 4),
      currency: 'EUR',
    }));
    const expectedCents = orders.reduce((s, o) => s + Math.round(Number(o.amount) * 100), 0);
    const query = print(RecordOrderDocument);
    let attempts = 0;
    let aborted = 0;
    let duplicatesSent = 0;

    /** One attempt; a random 15% are abandoned by the client after 1–20 ms. */
    const attempt = async (input: (typeof orders)[number]) => {
      attempts += 1;
      const controller = new AbortController();
      const timer = random() < 0.15 ? setTimeout(() => controller.abort(), 1 + Math.floor(random() * 20)) : undefined;
      try {
        const res = await fetch(t.server.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ query, variables: { input } }),
          signal: controller.signal,
        });
        const body = (await res.json()) as { data?: { recordOrder?: { id: string } }; errors?: unknown[] };
        return res.status === 200 && !body.errors && body.data?.recordOrder?.id ? body.data.recordOrder.id : null;
      } catch {
        aborted += 1;
        return null;
      } finally {
        clearTimeout(timer);
      }
    };
    /** Like a shop's client: retry until the API confirms; 10% also fire a duplicate at once. */
    const send = async (input: (typeof orders)[number]) => {
      const duplicate = random() < 0.1 ? (duplicatesSent++, attempt(input)) : Promise.resolve(null);
      let id: string | null = null;
      while (!id) id = await attempt(input);
      const dupId = await duplicate;
      if (dupId) expect(dupId).toBe(id);
      return id;
    };

    let next = 0;
    const ids = new Map<string, string>();
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (next < orders.length) {
          const order = orders[next++];
          ids.set(order.externalId, await send(order));
        }
      }),
    );

    const [{ n, cents }] = await t.db.prisma.$queryRaw<{ n: number; cents: bigint }[]>`
      SELECT count(*)::int AS n, (sum("amount") * 100)::bigint AS cents FROM "Order" WHERE "externalId" LIKE 'fault-%'`;
    console.log(`[ingestion] ${ORDERS} orders, ${attempts} requests (${duplicatesSent} concurrent duplicates, ${aborted} abandoned by the client) → ${n} rows`);
    expect(n).toBe(ORDERS);
    expect(Number(cents)).toBe(expectedCents);
    expect(new Set(ids.values()).size).toBe(ORDERS);
    expect(aborted).toBeGreaterThan(0);
    expect(duplicatesSent).toBeGreaterThan(0);
  });
});
