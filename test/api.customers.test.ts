// Customers over real HTTP on each database: keyset pagination, filters, page-size limits and
// the number of SQL statements per request (no N+1).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemo } from '../src/demo/seed.js';
import {
  CustomerByIdDocument,
  CustomerOrdersDocument,
  CustomersPageDocument,
  CustomersWithStatsAndOrdersDocument,
  type CustomerFilter,
  type CustomerOrderBy,
  type CustomerOrdersQuery,
  type CustomersPageQuery,
} from './generated/graphql.js';
import { databaseKinds } from './helpers/databases.js';
import { codes, startTestServer, type GraphQLResponse, type TestServer } from './helpers/server.js';

interface Truth {
  id: string;
  externalId: string;
  country: string | null;
  gender: string | null;
  createdAt: number;
  paidCount: number;
  paidCents: number;
  lastPaidAt: number | null;
  allOrders: number;
}

/** The reference: every customer's aggregates computed in JavaScript from the raw rows. */
async function loadTruth(t: TestServer): Promise<Truth[]> {
  const customers = await t.db.prisma.customer.findMany();
  const orders = await t.db.prisma.order.findMany();
  return customers.map((c) => {
    const mine = orders.filter((o) => o.customerId === c.id);
    const paid = mine.filter((o) => o.status === 'paid');
    return {
      id: c.id,
      externalId: c.externalId,
      country: c.country,
      gender: c.gender,
      createdAt: c.createdAt.getTime(),
      paidCount: paid.length,
      paidCents: paid.reduce((s, o) => s + Math.round(Number(o.amount) * 100), 0),
      lastPaidAt: paid.length ? Math.max(...paid.map((o) => o.orderedAt.getTime())) : null,
      allOrders: mine.length,
    };
  });
}

describe.each(databaseKinds)('customers API on %s', (kind) => {
  let t: TestServer;
  let truth: Truth[];

  beforeAll(async () => {
    t = await startTestServer(kind, { MAX_PAGE_SIZE: '200', DEFAULT_PAGE_SIZE: '25' });
    await seedDemo(t.db, { customers: 240, seed: 11, anchor: '2026-01-01' });
    truth = await loadTruth(t);
  });
  afterAll(() => t?.close());

  async function walk(orderBy: CustomerOrderBy | null, filter: CustomerFilter | null, pageSize: number) {
    const ids: string[] = [];
    let after: string | null = null;
    let totalCount = -1;
    for (let page = 0; page < 100; page++) {
      const res: GraphQLResponse<CustomersPageQuery> = await t.gql(CustomersPageDocument, { first: pageSize, after, orderBy, filter });
      expect(res.errors).toBeUndefined();
      const conn = res.data!.customers;
      totalCount = conn.totalCount;
      expect(conn.pageInfo.hasPreviousPage).toBe(after !== null);
      ids.push(...conn.edges.map((e) => e.node.id));
      if (!conn.pageInfo.hasNextPage) break;
      expect(conn.pageInfo.endCursor).toBe(conn.edges.at(-1)!.cursor);
      after = conn.pageInfo.endCursor;
    }
    return { ids, totalCount };
  }

  const byIdTie = (cmp: (a: Truth, b: Truth) => number) => (a: Truth, b: Truth) => cmp(a, b) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

  it.each<[CustomerOrderBy, (a: Truth, b: Truth) => number]>([
    [{ field: 'CREATED_AT', direction: 'ASC' }, (a, b) => a.createdAt - b.createdAt],
    [{ field: 'EXTERNAL_ID', direction: 'DESC' }, (a, b) => (a.externalId < b.externalId ? 1 : a.externalId > b.externalId ? -1 : 0)],
    [{ field: 'TOTAL_SPENT', direction: 'DESC' }, (a, b) => b.paidCents - a.paidCents],
    [{ field: 'ORDER_COUNT', direction: 'ASC' }, (a, b) => a.paidCount - b.paidCount],
    [{ field: 'LAST_ORDER_AT', direction: 'ASC' }, (a, b) => (a.lastPaidAt ?? -Infinity) - (b.lastPaidAt ?? -Infinity)],
  ])('pages through every customer exactly once, in order, by %j', async (orderBy, cmp) => {
    const desc = orderBy.direction === 'DESC';
    const expected = [...truth].sort(byIdTie(cmp)).map((c) => c.id);
    // Ties are broken by id in the same direction as the sort.
    const tieAware = desc ? [...truth].sort((a, b) => cmp(a, b) || (a.id < b.id ? 1 : -1)).map((c) => c.id) : expected;
    const { ids, totalCount } = await walk(orderBy, null, 37);
    expect(totalCount).toBe(truth.length);
    expect(new Set(ids).size).toBe(truth.length);
    expect(ids).toEqual(tieAware);
  });

  it.each<[string, CustomerFilter, (c: Truth) => boolean]>([
    ['countries', { countries: ['DE', 'FR'] }, (c) => c.country === 'DE' || c.country === 'FR'],
    ['gender', { gender: 'FEMALE' }, (c) => c.gender === 'F'],
    ['order count range', { minOrderCount: 2, maxOrderCount: 4 }, (c) => c.paidCount >= 2 && c.paidCount <= 4],
    ['spend range', { minTotalSpent: '50.00', maxTotalSpent: '200' }, (c) => c.paidCents >= 5000 && c.paidCents <= 20000],
    ['last order range', { lastOrderFrom: '2025-07-01T00:00:00Z', lastOrderTo: '2025-10-01T00:00:00Z' }, (c) => c.lastPaidAt !== null && c.lastPaidAt >= Date.parse('2025-07-01') && c.lastPaidAt < Date.parse('2025-10-01')],
    ['created range', { createdFrom: '2024-06-01T00:00:00Z', createdTo: '2025-01-01T00:00:00Z' }, (c) => c.createdAt >= Date.parse('2024-06-01') && c.createdAt < Date.parse('2025-01-01')],
    ['combined', { countries: ['US'], minOrderCount: 1 }, (c) => c.country === 'US' && c.paidCount >= 1],
  ])('filters by %s', async (_name, filter, predicate) => {
    const expected = truth.filter(predicate).map((c) => c.id).sort();
    expect(expected.length).toBeGreaterThan(0);
    expect(expected.length).toBeLessThan(truth.length);
    const { ids, totalCount } = await walk({ field: 'TOTAL_SPENT', direction: 'ASC' }, filter, 50);
    expect(totalCount).toBe(expected.length);
    expect([...ids].sort()).toEqual(expected);
  });

  it('refuses pages above MAX_PAGE_SIZE and negative sizes, with stable codes', async () => {
    const tooBig = await t.gql(CustomersPageDocument, { first: 201 });
    expect(codes(tooBig)).toEqual(['PAGE_SIZE_EXCEEDED']);
    expect(tooBig.errors![0].extensions).toMatchObject({ field: 'first', maxPageSize: 200 });
    expect(codes(await t.gql(CustomersPageDocument, { first: -1 }))).toEqual(['BAD_USER_INPUT']);
    const atMax = await t.gql(CustomersPageDocument, { first: 200 });
    expect(atMax.data!.customers.edges).toHaveLength(200);
    const byDefault = await t.gql(CustomersPageDocument, {});
    expect(byDefault.data!.customers.edges).toHaveLength(25);
  });

  it('rejects forged cursors and cursors of another ordering', async () => {
    expect(codes(await t.gql(CustomersPageDocument, { first: 5, after: 'not-a-cursor' }))).toEqual(['INVALID_CURSOR']);
    const page = await t.gql(CustomersPageDocument, { first: 5 });
    const cursor = page.data!.customers.pageInfo.endCursor!;
    const other = await t.gql(CustomersPageDocument, { first: 5, after: cursor, orderBy: { field: 'TOTAL_SPENT', direction: 'ASC' } });
    expect(codes(other)).toEqual(['INVALID_CURSOR']);
    const forged = Buffer.from(JSON.stringify(['CREATED_AT:ASC', "x'; DROP TABLE \"Customer\"; --", 'zzz'])).toString('base64url');
    expect(codes(await t.gql(CustomersPageDocument, { first: 5, after: forged }))).toEqual(['INVALID_CURSOR']);
    expect(codes(await t.gql(CustomersPageDocument, { filter: { countries: ['germany'] } }))).toEqual(['BAD_USER_INPUT']);
  });

  it('costs a constant number of SQL statements per page: no N+1 for stats and orders', async () => {
    const count = async (first: number) => {
      const before = t.db.queryCount();
      const res = await t.gql(CustomersWithStatsAndOrdersDocument, { first, orders: 5 });
      expect(res.errors).toBeUndefined();
      expect(res.data!.customers.edges).toHaveLength(first);
      return t.db.queryCount() - before;
    };
    const for10 = await count(10);
    const for100 = await count(100);
    // One statement each for the page, the stats and the orders (plus the orders' count).
    expect(for100).toBe(for10);
    expect(for100).toBeLessThanOrEqual(4);
  });

  it('returns stats and newest-first orders that agree with the raw rows', async () => {
    const res = await t.gql(CustomersWithStatsAndOrdersDocument, { first: 60, orders: 3 });
    for (const { node } of res.data!.customers.edges) {
      const c = truth.find((x) => x.id === node.id)!;
      expect(node.stats.orderCount).toBe(c.paidCount);
      expect(Math.round(Number(node.stats.totalSpent) * 100)).toBe(c.paidCents);
      expect(node.stats.lastOrderAt ? Date.parse(node.stats.lastOrderAt) : null).toBe(c.lastPaidAt);
      expect(node.orders.totalCount).toBe(c.allOrders);
      const times = node.orders.edges.map((e) => Date.parse(e.node.orderedAt));
      expect(times).toEqual([...times].sort((a, b) => b - a));
      expect(node.orders.edges.length).toBe(Math.min(3, c.allOrders));
    }
  });

  it('pages through one customer\'s orders', async () => {
    const busiest = [...truth].sort((a, b) => b.allOrders - a.allOrders)[0];
    expect(busiest.allOrders).toBeGreaterThan(4);
    const seen: string[] = [];
    let after: string | null = null;
    do {
      const res: GraphQLResponse<CustomerOrdersQuery> = await t.gql(CustomerOrdersDocument, { id: busiest.id, first: 2, after });
      const orders = res.data!.customer!.orders;
      seen.push(...orders.edges.map((e) => e.node.id));
      expect(orders.edges.every((e) => e.node.customer.externalId === busiest.externalId)).toBe(true);
      after = orders.pageInfo.hasNextPage ? orders.pageInfo.endCursor : null;
    } while (after);
    expect(seen).toHaveLength(busiest.allOrders);
    expect(new Set(seen).size).toBe(busiest.allOrders);
  });

  it('finds a customer by id, answers null for an unknown id and BAD_USER_INPUT for a malformed one', async () => {
    const c = truth[0];
    const found = await t.gql(CustomerByIdDocument, { id: c.id });
    expect(found.data!.customer).toMatchObject({ id: c.id, externalId: c.externalId, stats: { orderCount: c.paidCount } });
    const missing = await t.gql(CustomerByIdDocument, { id: '00000000-0000-4000-8000-000000000000' });
    expect(missing.errors).toBeUndefined();
    expect(missing.data!.customer).toBeNull();
    const bad = await t.gql(CustomerByIdDocument, { id: "1' OR '1'='1" });
    expect(codes(bad)).toEqual(['BAD_USER_INPUT']);
    expect(bad.errors![0].extensions!.field).toBe('id');
  });
});
