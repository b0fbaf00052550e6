import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCustomers } from '../src/demo/generator.js';
import { isDatabaseEmpty, seedDemo, seedDemoIfEmpty } from '../src/demo/seed.js';
import { createTestDatabase, databaseKinds, type TestDatabase } from './helpers/databases.js';

const options = { customers: 300, seed: 7, anchor: '2025-03-01', batchSize: 128 };

describe.each(databaseKinds)('seedDemo on %s', (kind) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase(kind);
  });
  afterAll(async () => {
    await t?.drop();
  });

  it('writes exactly what the generator produces, and a second run adds nothing', async () => {
    expect(await isDatabaseEmpty(t.db)).toBe(true);
    const expected = [...generateCustomers(options)];
    const expectedOrders = expected.reduce((n, c) => n + c.orders.length, 0);
    const progress: number[] = [];
    const summary = await seedDemo(t.db, { ...options, onProgress: (p) => progress.push(p.customersDone) });
    expect(summary).toMatchObject({ customersGenerated: 300, customersInserted: 300, ordersGenerated: expectedOrders, ordersInserted: expectedOrders });
    expect(progress).toEqual([128, 256, 300]);
    expect(await t.db.prisma.customer.count()).toBe(300);
    expect(await t.db.prisma.order.count()).toBe(expectedOrders);
    expect(await isDatabaseEmpty(t.db)).toBe(false);

    // Spot-check one customer and its orders field by field.
    const c = expected.find((x) => x.orders.length >= 3 && x.birthDate && x.country)!;
    const row = await t.db.prisma.customer.findUniqueOrThrow({
      where: { externalId: c.externalId },
      include: { orders: { orderBy: { orderedAt: 'asc' } } },
    });
    expect(row).toMatchObject({ name: c.name, email: c.email, gender: c.gender, country: c.country, createdAt: c.createdAt });
    expect(row.birthDate?.toISOString().slice(0, 10)).toBe(c.birthDate);
    expect(row.orders.map((o) => [o.externalId, o.orderedAt.toISOString(), o.amount.toFixed(2), o.itemCount, o.currency, o.status])).toEqual(
      c.orders.map((o) => [o.externalId, o.orderedAt.toISOString(), o.amount, o.itemCount, o.currency, o.status]),
    );

    const again = await seedDemo(t.db, options);
    expect(again.customersInserted).toBe(0);
    expect(again.ordersInserted).toBe(0);
    expect(await t.db.prisma.order.count()).toBe(expectedOrders);
  });

  it('seedDemoIfEmpty seeds only an empty embedded database', async () => {
    // This database is not empty any more: nothing happens on either kind.
    expect(await seedDemoIfEmpty(t.db, options)).toBeNull();
    const fresh = await createTestDatabase(kind);
    try {
      const result = await seedDemoIfEmpty(fresh.db, { ...options, customers: 20 });
      if (kind === 'pglite') {
        expect(result?.customersInserted).toBe(20);
        expect(await fresh.db.prisma.customer.count()).toBe(20);
      } else {
        expect(result).toBeNull();
        expect(await isDatabaseEmpty(fresh.db)).toBe(true);
      }
    } finally {
      await fresh.drop();
    }
  });
});
