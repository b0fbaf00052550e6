// upsertCustomer and recordOrder over real HTTP on each database: validation names the field and
// writes nothing; retries (even concurrent ones) never create duplicates.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CustomerByIdDocument, RecordOrderDocument, UpsertCustomerDocument, type RecordOrderInput } from './generated/graphql.js';
import { databaseKinds } from './helpers/databases.js';
import { codes, startTestServer, type TestServer } from './helpers/server.js';

describe.each(databaseKinds)('mutations on %s', (kind) => {
  let t: TestServer;
  let customerId: string;
  const counts = async () => ({ customers: await t.db.prisma.customer.count(), orders: await t.db.prisma.order.count() });

  beforeAll(async () => {
    t = await startTestServer(kind, { ORDER_FUTURE_TOLERANCE_SECONDS: '300' });
    const res = await t.gql(UpsertCustomerDocument, {
      input: { externalId: 'shop-1', name: 'Ada Lovelace', email: 'Ada@Example.com', gender: 'FEMALE', birthDate: '1990-12-10', country: 'GB' },
    });
    expect(res.errors).toBeUndefined();
    customerId = res.data!.upsertCustomer.id;
  });
  afterAll(() => t?.close());

  it('creates a customer, then updates only the fields given', async () => {
    const created = (await t.gql(CustomerByIdDocument, { id: customerId })).data!.customer!;
    expect(created).toMatchObject({ externalId: 'shop-1', name: 'Ada Lovelace', email: 'ada@example.com', gender: 'FEMALE', birthDate: '1990-12-10', country: 'GB' });
    const updated = await t.gql(UpsertCustomerDocument, { input: { externalId: 'shop-1', country: 'FR', email: null } });
    expect(updated.data!.upsertCustomer).toMatchObject({ id: customerId, name: 'Ada Lovelace', country: 'FR', email: null, gender: 'FEMALE' });
    expect(Date.parse(updated.data!.upsertCustomer.updatedAt)).toBeGreaterThanOrEqual(Date.parse(created.updatedAt));
    const again = await t.gql(UpsertCustomerDocument, { input: { externalId: 'shop-1', name: 'Ada King', email: 'ada@example.com' } });
    expect(again.data!.upsertCustomer).toMatchObject({ id: customerId, name: 'Ada King', country: 'FR', email: 'ada@example.com' });
    expect((await counts()).customers).toBe(1);
  });

  it.each([
    ['input.externalId', { externalId: ' bad id ', name: 'X' }],
    ['input.name', { externalId: 'shop-new', name: '   ' }],
    ['input.name', { externalId: 'shop-new' , country: 'DE' }],
    ['input.email', { externalId: 'shop-new', name: 'X', email: 'not-an-email' }],
    ['input.country', { externalId: 'shop-new', name: 'X', country: 'Germany' }],
    ['input.birthDate', { externalId: 'shop-new', name: 'X', birthDate: '2999-01-01' }],
  ])('rejects a bad customer (%s) and writes nothing', async (field, input) => {
    const before = await counts();
    const res = await t.gql(UpsertCustomerDocument, { input });
    expect(codes(res)).toEqual(['BAD_USER_INPUT']);
    expect(res.errors![0].extensions!.field).toBe(field);
    expect(await counts()).toEqual(before);
  });

  it('refuses an email that belongs to another customer', async () => {
    const res = await t.gql(UpsertCustomerDocument, { input: { externalId: 'shop-2', name: 'Other', email: 'ada@example.com' } });
    expect(codes(res)).toEqual(['ALREADY_EXISTS']);
    expect(res.errors![0].extensions!.field).toBe('input.email');
    expect(await t.db.prisma.customer.count({ where: { externalId: 'shop-2' } })).toBe(0);
  });

  const order = (over: Partial<RecordOrderInput> = {}): RecordOrderInput => ({
    externalId: 'ord-1',
    customerId,
    orderedAt: '2026-01-15T10:00:00.000Z',
    amount: '19.99',
    itemCount: 2,
    currency: 'EUR',
    ...over,
  });

  it('records an order and counts it in the stats', async () => {
    const res = await t.gql(RecordOrderDocument, { input: order() });
    expect(res.errors).toBeUndefined();
    expect(res.data!.recordOrder).toMatchObject({ externalId: 'ord-1', customerId, amount: '19.99', itemCount: 2, currency: 'EUR', status: 'PAID' });
    const stats = (await t.gql(CustomerByIdDocument, { id: customerId })).data!.customer!.stats;
    expect(stats).toEqual({ orderCount: 1, totalSpent: '19.99' });
  });

  it.each<[string, string, Partial<RecordOrderInput>]>([
    ['negative amount', 'input.amount', { amount: '-1.00' }],
    ['future date beyond the tolerance', 'input.orderedAt', { orderedAt: new Date(Date.now() + 3_600_000).toISOString() }],
    ['malformed currency', 'input.currency', { currency: 'euro' }],
    ['negative item count', 'input.itemCount', { itemCount: -3 }],
    ['malformed customer id', 'input.customerId', { customerId: 'abc' }],
    ['both customer references', 'input.customerId', { customerExternalId: 'shop-1' }],
    ['bad externalId', 'input.externalId', { externalId: '' }],
  ])('rejects an order with %s, naming %s, and writes nothing', async (_name, field, over) => {
    const before = await counts();
    const res = await t.gql(RecordOrderDocument, { input: order({ externalId: 'ord-bad', ...over }) });
    expect(codes(res)).toEqual(['BAD_USER_INPUT']);
    expect(res.errors![0].extensions!.field).toBe(field);
    expect(await counts()).toEqual(before);
  });

  it('rejects amounts that are not exact cents, or not numbers, before any resolver runs', async () => {
    const before = await counts();
    for (const amount of ['1.999', 'NaN', 'Infinity', '1e9999', '']) {
      const res = await t.gql(RecordOrderDocument, { input: order({ externalId: 'ord-bad', amount }) });
      expect(codes(res)).toEqual(['BAD_USER_INPUT']);
    }
    expect(await counts()).toEqual(before);
  });

  it('answers CUSTOMER_NOT_FOUND for an unknown customer', async () => {
    const res = await t.gql(RecordOrderDocument, { input: order({ externalId: 'ord-x', customerId: '00000000-0000-4000-8000-000000000000' }) });
    expect(codes(res)).toEqual(['CUSTOMER_NOT_FOUND']);
    const byExternal = await t.gql(RecordOrderDocument, { input: order({ externalId: 'ord-x', customerId: null, customerExternalId: 'nobody' }) });
    expect(codes(byExternal)).toEqual(['CUSTOMER_NOT_FOUND']);
    expect(await t.db.prisma.order.count({ where: { externalId: 'ord-x' } })).toBe(0);
  });

  it('is idempotent under concurrent retries: one order, the same answer for every retry', async () => {
    const input = order({ externalId: 'ord-concurrent', amount: '42.10', customerId: null, customerExternalId: 'shop-1' });
    const results = await Promise.all(Array.from({ length: 25 }, () => t.gql(RecordOrderDocument, { input })));
    for (const r of results) expect(r.errors).toBeUndefined();
    const ids = new Set(results.map((r) => r.data!.recordOrder.id));
    expect(ids.size).toBe(1);
    expect(await t.db.prisma.order.count({ where: { externalId: 'ord-concurrent' } })).toBe(1);
  });

  it('refuses the same externalId with different content (IDEMPOTENCY_CONFLICT) and keeps the original', async () => {
    const res = await t.gql(RecordOrderDocument, { input: order({ amount: '20.00' }) });
    expect(codes(res)).toEqual(['IDEMPOTENCY_CONFLICT']);
    const stored = await t.db.prisma.order.findUniqueOrThrow({ where: { externalId: 'ord-1' } });
    expect(stored.amount.toFixed(2)).toBe('19.99');
  });

  it('upserts the same new customer concurrently into exactly one row', async () => {
    const input = { externalId: 'shop-race', name: 'Racer' };
    const results = await Promise.all(Array.from({ length: 20 }, () => t.gql(UpsertCustomerDocument, { input })));
    for (const r of results) expect(r.errors).toBeUndefined();
    expect(new Set(results.map((r) => r.data!.upsertCustomer.id)).size).toBe(1);
    expect(await t.db.prisma.customer.count({ where: { externalId: 'shop-race' } })).toBe(1);
  });
});
