import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportDemoCsv } from '../src/demo/export.js';
import { generateCustomers } from '../src/demo/generator.js';
import { ImportError, importFiles, parseColumnMap } from '../src/ingest/import.js';
import { detectFormat, parseAmount, parseTimestamp } from '../src/ingest/parse.js';
import { createTestDatabase, databaseKinds, type TestDatabase } from './helpers/databases.js';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/ingest');
const fx = (name: string) => path.join(fixtures, name);

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'cia-import-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function importError(p: Promise<unknown>): Promise<ImportError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ImportError);
  return err as ImportError;
}

describe('field parsing', () => {
  it('amounts: non-negative, at most 2 decimals, canonical form', () => {
    expect(parseAmount('5')).toEqual({ ok: true, value: '5.00' });
    expect(parseAmount('042.1')).toEqual({ ok: true, value: '42.10' });
    expect(parseAmount('0.00')).toEqual({ ok: true, value: '0.00' });
    expect(parseAmount('-0')).toEqual({ ok: true, value: '0.00' });
    expect(parseAmount('-1.00')).toMatchObject({ ok: false, reason: 'amount -1.00 is negative' });
    expect(parseAmount('1.005')).toMatchObject({ ok: false, reason: 'amount 1.005 has more than 2 decimals' });
    for (const s of ['abc', '1e3', 'NaN', 'Infinity', '.', '1,5']) expect(parseAmount(s).ok).toBe(false);
    expect(parseAmount('12345678901.00')).toMatchObject({ ok: false });
  });

  it('timestamps: ISO-8601 with or without zone (UTC), plain dates, real calendar days', () => {
    const t = (s: string) => {
      const r = parseTimestamp(s, 'ordered_at');
      return r.ok ? r.value.toISOString() : r.reason;
    };
    expect(t('2024-02-29')).toBe('2024-02-29T00:00:00.000Z');
    expect(t('2024-02-01T08:00:00+02:00')).toBe('2024-02-01T06:00:00.000Z');
    expect(t('2024-05-20 18:45:00')).toBe('2024-05-20T18:45:00.000Z');
    expect(t('2024-01-05T09:00:00.123456Z')).toBe('2024-01-05T09:00:00.123Z');
    expect(t('2023-02-29')).toMatch(/not an ISO-8601/);
    expect(t('2024-01-05T25:00:00Z')).toMatch(/not an ISO-8601/);
    expect(t('05/01/2024')).toMatch(/not an ISO-8601/);
    expect(t('')).toBe('ordered_at is missing');
  });

  it('--map and format detection', async () => {
    expect(parseColumnMap('customer_id=client, amount=total')).toEqual({ customer_id: 'client', amount: 'total' });
    expect(() => parseColumnMap('price=total')).toThrow(/unknown column "price"/);
    expect(() => parseColumnMap('amount')).toThrow(/target=source/);
    expect(await detectFormat(fx('orders.csv'))).toBe('csv');
    expect(await detectFormat(fx('cdnow-small.txt'))).toBe('cdnow');
    expect(await detectFormat(fx('cdnow-sample-small.txt'))).toBe('cdnow');
  });
});

describe.each(databaseKinds)('importFiles on %s', (kind) => {
  let t: TestDatabase;
  const counts = async () => ({ customers: await t.db.prisma.customer.count(), orders: await t.db.prisma.order.count() });

  beforeAll(async () => {
    t = await createTestDatabase(kind);
  });
  afterAll(async () => {
    await t?.drop();
  });

  it('refuses a file with bad rows, listing every one with its line, and writes nothing', async () => {
    const err = await importError(importFiles(t.db, { orders: fx('orders-bad.csv'), customers: fx('customers.csv') }));
    const lines = err.message.split('\n').map((l) => l.replace(/^.*orders-bad\.csv:/, ''));
    expect(lines).toEqual([
      '3: ordered_at "2024-02-30T09:00:00Z" is not an ISO-8601 date/time',
      '4: amount -4.00 is negative',
      '5: amount 10.999 has more than 2 decimals',
      '6: item_count "1.5" is not an integer ≥ 0; currency "usd" is not 3 upper-case letters; status "shipped" must be one of paid, refunded, cancelled',
      '7: customer "c-999" is neither in test/fixtures/ingest/customers.csv nor in the database',
      '8: customer_id is missing; amount is missing',
      '9: expected 7 fields, found 6',
      '10: amount "abc" is not a number',
      '8 bad rows; nothing was imported.',
    ]);
    expect(err.errorCount).toBe(8);
    expect(err.errors[0]).toEqual({ file: 'test/fixtures/ingest/orders-bad.csv', line: 3, reason: expect.stringContaining('2024-02-30') });
    expect(await counts()).toEqual({ customers: 0, orders: 0 });

    // The list is capped, the count is not.
    const capped = await importError(importFiles(t.db, { orders: fx('orders-bad.csv'), customers: fx('customers.csv'), maxErrors: 2 }));
    expect(capped.errors).toHaveLength(2);
    expect(capped.message).toContain('… and 6 more');
  });

  it('imports a good CSV pair, then re-imports it as a no-op', async () => {
    const s = await importFiles(t.db, { orders: fx('orders.csv'), customers: fx('customers.csv') });
    expect(s).toMatchObject({
      format: 'csv',
      customerRowsRead: 4,
      orderRowsRead: 6,
      customersInserted: 4,
      customersExisting: 0,
      placeholderCustomers: 0,
      ordersInserted: 6,
      ordersSkipped: 0,
      dryRun: false,
    });
    expect(await counts()).toEqual({ customers: 4, orders: 6 });

    const alan = await t.db.prisma.customer.findUniqueOrThrow({ where: { externalId: 'c-002' } });
    expect(alan).toMatchObject({ name: 'Turing, Alan', email: 'alan@example.com', gender: 'M', country: 'GB' });
    expect(alan.birthDate?.toISOString()).toBe('1990-06-23T00:00:00.000Z');
    // No created_at in the file: the first order's time.
    expect(alan.createdAt.toISOString()).toBe('2024-02-02T10:15:30.250Z');
    const grace = await t.db.prisma.customer.findUniqueOrThrow({ where: { externalId: 'c-003' } });
    expect(grace).toMatchObject({ gender: 'F', email: null, birthDate: null, country: 'US' });
    const anon = await t.db.prisma.customer.findUniqueOrThrow({ where: { externalId: 'c-004' } });
    expect(anon).toMatchObject({ name: 'Anonymous', gender: null, country: null });

    const orders = await t.db.prisma.order.findMany({ orderBy: { externalId: 'asc' }, include: { customer: { select: { externalId: true } } } });
    expect(orders.map((o) => [o.externalId, o.customer.externalId, o.orderedAt.toISOString(), o.amount.toFixed(2), o.itemCount, o.currency, o.status])).toEqual([
      ['o-1001', 'c-001', '2024-01-05T09:00:00.000Z', '19.99', 1, 'USD', 'paid'],
      ['o-1002', 'c-001', '2024-03-17T14:30:00.000Z', '5.00', 2, 'USD', 'paid'],
      ['o-1003', 'c-002', '2024-02-02T10:15:30.250Z', '120.50', 3, 'EUR', 'paid'],
      ['o-1004', 'c-002', '2024-02-10T00:00:00.000Z', '0.00', 0, 'EUR', 'cancelled'],
      ['o-1005', 'c-003', '2024-02-01T06:00:00.000Z', '42.10', 1, 'USD', 'refunded'],
      ['o-1006', 'c-003', '2024-05-20T18:45:00.000Z', '77.00', 4, 'USD', 'paid'],
    ]);

    const again = await importFiles(t.db, { orders: fx('orders.csv'), customers: fx('customers.csv') });
    expect(again).toMatchObject({ customersInserted: 0, customersExisting: 4, ordersInserted: 0, ordersSkipped: 6 });
    expect(await counts()).toEqual({ customers: 4, orders: 6 });
  });

  it('reads other column names through map; orders may reference customers already in the database', async () => {
    const map = { order_id: 'txn', customer_id: 'client', ordered_at: 'when', amount: 'total', item_count: 'qty' };
    const unmapped = await importError(importFiles(t.db, { orders: fx('orders-mapped.csv') }));
    expect(unmapped.message).toMatch(/orders-mapped\.csv:1: missing column "customer_id", "ordered_at", "amount" in the header/);

    const s = await importFiles(t.db, { orders: fx('orders-mapped.csv'), map, currency: 'GBP' });
    expect(s).toMatchObject({ orderRowsRead: 3, customersInserted: 0, customersExisting: 2, ordersInserted: 3, ordersSkipped: 0 });
    const t2 = await t.db.prisma.order.findUniqueOrThrow({ where: { externalId: 't-2' }, include: { customer: true } });
    expect(t2).toMatchObject({ itemCount: 2, currency: 'GBP', status: 'paid' });
    expect(t2.amount.toFixed(2)).toBe('20.50');
    expect(t2.customer.externalId).toBe('c-004');
    expect(await counts()).toEqual({ customers: 4, orders: 9 });
  });

  it('refuses an email that another customer already owns', async () => {
    const customers = path.join(tmp, `${kind}-customers-email.csv`);
    await writeFile(customers, 'customer_id,name,email\nz-1,Zed,zed@example.com\nz-2,Copycat,ada@example.com\n');
    const orders = path.join(tmp, `${kind}-orders-email.csv`);
    await writeFile(orders, 'customer_id,ordered_at,amount\nz-1,2024-01-01,1.00\n');
    const err = await importError(importFiles(t.db, { orders, customers }));
    expect(err.errors).toEqual([{ file: path.relative(process.cwd(), customers), line: 3, reason: 'email ada@example.com already belongs to customer "c-001" in the database' }]);
    expect(await counts()).toEqual({ customers: 4, orders: 9 });
  });

  it('imports the CDNOW format with placeholder customers and deterministic ids', async () => {
    const s = await importFiles(t.db, { orders: fx('cdnow-small.txt') });
    expect(s).toMatchObject({ format: 'cdnow', orderRowsRead: 30, customersInserted: 13, placeholderCustomers: 13, ordersInserted: 30, ordersSkipped: 0 });
    const cdnowOrders = await t.db.prisma.order.findMany({ where: { externalId: { startsWith: 'cdnow-' } }, orderBy: { externalId: 'asc' } });
    expect(cdnowOrders).toHaveLength(30);
    expect(cdnowOrders.reduce((sum, o) => sum + Math.round(Number(o.amount) * 100), 0)).toBe(71369);
    // Three rows of one customer-day get occurrences 1..3, in file order.
    expect(cdnowOrders.filter((o) => o.externalId.startsWith('cdnow-00013-19970314-')).map((o) => [o.externalId, o.itemCount, o.amount.toFixed(2)])).toEqual([
      ['cdnow-00013-19970314-000001', 1, '15.49'],
      ['cdnow-00013-19970314-000002', 1, '15.49'],
      ['cdnow-00013-19970314-000003', 4, '52.10'],
    ]);
    const c13 = await t.db.prisma.customer.findUniqueOrThrow({ where: { externalId: 'cdnow-00013' }, include: { _count: { select: { orders: true } } } });
    expect(c13).toMatchObject({ name: 'Customer cdnow-00013', email: null });
    // CDNOW has no time of day: 12:00Z, like python-export's loader; createdAt = first order.
    expect(c13.createdAt.toISOString()).toBe('1997-01-05T12:00:00.000Z');
    expect(cdnowOrders.find((o) => o.externalId === 'cdnow-00013-19971102-000001')?.orderedAt.toISOString()).toBe('1997-11-02T12:00:00.000Z');
    expect(c13._count.orders).toBe(5);
    expect(cdnowOrders.every((o) => o.currency === 'USD' && o.status === 'paid')).toBe(true);

    const again = await importFiles(t.db, { orders: fx('cdnow-small.txt'), format: 'cdnow' });
    expect(again).toMatchObject({ customersInserted: 0, customersExisting: 13, ordersInserted: 0, ordersSkipped: 30 });

    // The headerless 5-column sample layout (CRLF) shares the id scheme: known rows are duplicates.
    const sample = await importFiles(t.db, { orders: fx('cdnow-sample-small.txt') });
    expect(sample).toMatchObject({ orderRowsRead: 4, customersInserted: 1, customersExisting: 1, ordersInserted: 2, ordersSkipped: 2 });
    expect(await t.db.prisma.order.count({ where: { customer: { externalId: 'cdnow-00031' } } })).toBe(2);
  });

  it('reports bad CDNOW lines by line number', async () => {
    const file = path.join(tmp, `${kind}-cdnow-bad.txt`);
    await writeFile(file, ' customer_id  date number_of_cds  dollar_value\n 00041 19970103  1   13.97\n\n 00041 19970230  1   13.97\n 00042 19970104  x   1.5\n 00043 19970105  1\n');
    const err = await importError(importFiles(t.db, { orders: file, format: 'cdnow' }));
    expect(err.errors.map((e) => [e.line, e.reason])).toEqual([
      [4, 'date "19970230" is not a date YYYYMMDD'],
      [5, 'number_of_cds "x" is not an integer ≥ 0'],
      [6, 'expected 4 or 5 whitespace-separated fields, found 3'],
    ]);
    expect(await t.db.prisma.customer.count({ where: { externalId: 'cdnow-00041' } })).toBe(0);
  });

  it('reports a CSV syntax error (unclosed quote) with its line', async () => {
    const file = path.join(tmp, `${kind}-quote.csv`);
    await writeFile(file, 'customer_id,ordered_at,amount\nq-1,2024-01-01,1.00\nq-2,2024-01-01,"2.00\nq-3,2024-01-01,3.00\n');
    const err = await importError(importFiles(t.db, { orders: file }));
    expect(err.errors).toHaveLength(1);
    expect(err.errors[0].reason).toMatch(/^CSV syntax error: .*quote/i);
    expect(await t.db.prisma.customer.count({ where: { externalId: 'q-1' } })).toBe(0);
  });

  it('dry run reports the counts and rolls back', async () => {
    const before = await counts();
    const file = path.join(tmp, `${kind}-dry.csv`);
    await writeFile(file, 'customer_id,ordered_at,amount\nnew-1,2024-01-01,1.00\nnew-1,2024-01-01,1.00\nc-001,2024-01-02,2.00\n');
    const s = await importFiles(t.db, { orders: file, dryRun: true });
    expect(s).toMatchObject({ dryRun: true, customersInserted: 1, customersExisting: 1, ordersInserted: 3 });
    expect(await counts()).toEqual(before);
    // For real: ids without an order_id column are derived from customer, time and occurrence.
    await importFiles(t.db, { orders: file });
    const ids = (await t.db.prisma.order.findMany({ where: { customer: { externalId: 'new-1' } }, select: { externalId: true } })).map((o) => o.externalId).sort();
    expect(ids).toEqual(['new-1-20240101T000000000-000001', 'new-1-20240101T000000000-000002']);
  });

  it('round-trips the demo CSV export', async () => {
    const dir = path.join(tmp, `${kind}-demo`);
    const gen = { customers: 40, seed: 5, anchor: '2025-01-01' };
    const exported = await exportDemoCsv({ ...gen, outDir: dir });
    const s = await importFiles(t.db, { orders: exported.ordersFile, customers: exported.customersFile });
    expect(s).toMatchObject({ customerRowsRead: 40, customersInserted: 40, orderRowsRead: exported.orders, ordersInserted: exported.orders });
    const expected = [...generateCustomers(gen)];
    const rows = await t.db.prisma.customer.findMany({
      where: { externalId: { startsWith: 'demo-' } },
      orderBy: { externalId: 'asc' },
      include: { orders: { orderBy: { externalId: 'asc' } } },
    });
    expect(
      rows.map((c) => ({
        externalId: c.externalId, name: c.name, email: c.email, gender: c.gender, birthDate: c.birthDate?.toISOString().slice(0, 10) ?? null,
        country: c.country, createdAt: c.createdAt.toISOString(),
        orders: c.orders.map((o) => [o.externalId, o.orderedAt.toISOString(), o.amount.toFixed(2), o.itemCount, o.currency, o.status]),
      })),
    ).toEqual(
      expected.map((c) => ({
        externalId: c.externalId, name: c.name, email: c.email, gender: c.gender, birthDate: c.birthDate,
        country: c.country, createdAt: c.createdAt.toISOString(),
        orders: c.orders.map((o) => [o.externalId, o.orderedAt.toISOString(), o.amount, o.itemCount, o.currency, o.status]),
      })),
    );
  });
});
