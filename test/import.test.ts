import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportDemoCsv } from '../src/demo/export.js';
import { generateCustomers } from '../src/demo/generator.js';
import { ImportError, importFiles, parseColumnMap } from '../src/ingest/import.js';
import { dateParser, toLuxonFormat } from '../src/ingest/dates.js';
import { detectFormat, inspectFile, parseAmount, parseTimestamp, quote } from '../src/ingest/parse.js';
import { gzipSync } from 'node:zlib';
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

describe('dates, echoed values and file inspection', () => {
  it('--date-format: moment-style tokens through luxon, strict, in a time zone', () => {
    expect(toLuxonFormat('DD-MM-YYYY')).toBe('dd-MM-yyyy');
    expect(toLuxonFormat('MM/DD/YYYY HH:mm')).toBe('MM/dd/yyyy HH:mm');
    expect(toLuxonFormat('YYYY-MM-DD[T]HH:mm')).toBe("yyyy-MM-dd'T'HH:mm");
    expect(() => toLuxonFormat('DD-MM-YYYY Q')).toThrow(/unknown token "Q"/);
    expect(() => toLuxonFormat('DD-MM')).toThrow(/no year/);
    const dmy = dateParser('DD-MM-YYYY');
    expect(dmy('21-07-2015')?.toISOString()).toBe('2015-07-21T00:00:00.000Z');
    expect(dmy('31-02-2015')).toBeNull();
    expect(dmy('2015-07-21')).toBeNull();
    // Winter (GMT) and summer (BST) in London; 6/1 is 1 June with M/D.
    const london = dateParser('M/D/YYYY H:mm', 'Europe/London');
    expect(london('12/1/2010 8:26')?.toISOString()).toBe('2010-12-01T08:26:00.000Z');
    expect(london('6/1/2011 8:26')?.toISOString()).toBe('2011-06-01T07:26:00.000Z');
    expect(dateParser('MM/DD/YYYY HH:mm', 'America/New_York')('12/31/2024 23:30')?.toISOString()).toBe('2025-01-01T04:30:00.000Z');
  });

  it('values echoed in reasons are escaped and truncated', () => {
    expect(quote('abc')).toBe('"abc"');
    expect(quote('a\u001b[31mred\u0000')).toBe('"a\\u001b[31mred\\u0000"');
    expect(quote('\u202eevil\u0085')).toBe('"\\u202eevil\\u0085"');
    expect(quote('x'.repeat(100))).toBe(`"${'x'.repeat(40)}…"`);
    expect(parseAmount('\u001b[2J')).toEqual({ ok: false, reason: 'amount "\\u001b[2J" is not a number' });
  });

  it('refuses gzip, ZIP/xlsx, UTF-16 and binary input before reading rows', async () => {
    const write = async (name: string, data: Buffer | string) => {
      const f = path.join(tmp, name);
      await writeFile(f, data);
      return f;
    };
    const reason = async (f: string) => {
      const r = await inspectFile(f);
      return r.ok ? `ok: ${r.firstLine}` : r.reason;
    };
    expect(await reason(await write('o.csv.gz', gzipSync('customer_id,ordered_at,amount\n')))).toMatch(/^is gzip-compressed: decompress it first/);
    expect(await reason(await write('o.xlsx', Buffer.from([0x50, 0x4b, 0x03, 0x04, 1, 2, 3])))).toMatch(/^is a ZIP archive/);
    expect(await reason(await write('o16.csv', Buffer.from('\ufeffa,b\n', 'utf16le')))).toBe('is UTF-16 text: save it as UTF-8');
    expect(await reason(await write('o.bin', Buffer.from([0x41, 0x42, 0x00, 0x43])))).toBe('is not a text file (a NUL byte at offset 2): binary input is not imported');
    expect(await reason(await write('ctl.csv', Buffer.from('a,b\n' + '\u0001\u0002\u0003'.repeat(10))))).toMatch(/^is not a text file \(30 control bytes/);
    expect(await reason(await write('empty.csv', ''))).toBe('the file is empty');
    expect(await reason(path.join(tmp, 'missing.csv'))).toBe('no such file');
    expect(await reason(fx('orders.csv'))).toBe('ok: order_id,customer_id,ordered_at,amount,item_count,currency,status');
  });
});

describe.each(databaseKinds)('importFiles on %s', (kind) => {
  let t: TestDatabase;
  const counts = async () => ({ customers: await t.db.prisma.customer.count(), orders: await t.db.prisma.order.count() });
  // The indexes and foreign keys of the tables an import fills (a first import rebuilds them).
  const catalog = () =>
    t.db.prisma.$queryRaw<{ def: string }[]>`
      SELECT pg_get_indexdef(i.indexrelid) AS def FROM pg_index i WHERE i.indrelid IN ('"Customer"'::regclass, '"Order"'::regclass)
      UNION ALL
      SELECT conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid IN ('"Customer"'::regclass, '"Order"'::regclass)
      ORDER BY 1`;

  const secondaryIndexes = async () =>
    (
      await t.db.prisma.$queryRaw<{ oid: number }[]>`
        SELECT indexrelid::int AS oid FROM pg_index WHERE indrelid IN ('"Customer"'::regclass, '"Order"'::regclass) AND NOT indisprimary ORDER BY 1`
    ).map((r) => r.oid);

  beforeAll(async () => {
    t = await createTestDatabase(kind);
  });
  afterAll(async () => {
    await t?.drop();
  });

  it('a dry run into empty tables leaves their indexes and foreign keys as they were', async () => {
    const before = await catalog();
    expect(before.length).toBeGreaterThan(8);
    const s = await importFiles(t.db, { orders: fx('orders.csv'), customers: fx('customers.csv'), dryRun: true });
    expect(s).toMatchObject({ dryRun: true, customersInserted: 4, ordersInserted: 6 });
    expect(await counts()).toEqual({ customers: 0, orders: 0 });
    expect(await catalog()).toEqual(before);
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
    const before = await catalog();
    const oids = await secondaryIndexes();
    const s = await importFiles(t.db, { orders: fx('orders.csv'), customers: fx('customers.csv') });
    // Into empty tables: their secondary indexes and foreign keys were dropped and rebuilt (new
    // index objects, the same definitions).
    expect(await catalog()).toEqual(before);
    expect((await secondaryIndexes()).filter((oid) => oids.includes(oid))).toEqual([]);
    expect(s).toMatchObject({
      format: 'csv',
      customerRowsRead: 4,
      orderRowsRead: 6,
      customersInserted: 4,
      customersExisting: 0,
      placeholderCustomers: 0,
      ordersInserted: 6,
      ordersExisting: 0,
      duplicateRows: 0,
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
    expect(again).toMatchObject({ customersInserted: 0, customersExisting: 4, ordersInserted: 0, ordersExisting: 6 });
    expect(await counts()).toEqual({ customers: 4, orders: 6 });
  });

  it('reads other column names through map; orders may reference customers already in the database', async () => {
    const map = { order_id: 'txn', customer_id: 'client', ordered_at: 'when', amount: 'total', item_count: 'qty' };
    const unmapped = await importError(importFiles(t.db, { orders: fx('orders-mapped.csv') }));
    // A header problem is a file error, not a bad row.
    expect(unmapped.message.split('\n')).toEqual([
      'test/fixtures/ingest/orders-mapped.csv:1: header: missing column "customer_id", "ordered_at", "amount" (found: "txn", "client", "when", "total", "qty")',
      '1 file error; nothing was imported.',
    ]);
    expect(unmapped.fileErrorCount).toBe(1);

    const s = await importFiles(t.db, { orders: fx('orders-mapped.csv'), map, currency: 'GBP' });
    expect(s).toMatchObject({ orderRowsRead: 3, customersInserted: 0, customersExisting: 2, ordersInserted: 3, ordersExisting: 0 });
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
    expect(err.errors).toEqual([{ file: path.relative(process.cwd(), customers), line: 3, reason: 'email "ada@example.com" already belongs to customer "c-001" in the database' }]);
    expect(await counts()).toEqual({ customers: 4, orders: 9 });
  });

  it('imports the CDNOW format with placeholder customers and deterministic ids', async () => {
    const s = await importFiles(t.db, { orders: fx('cdnow-small.txt') });
    expect(s).toMatchObject({ format: 'cdnow', orderRowsRead: 30, ordersInFile: 30, customersInserted: 13, placeholderCustomers: 13, ordersInserted: 30, ordersExisting: 0 });
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
    expect(again).toMatchObject({ customersInserted: 0, customersExisting: 13, ordersInserted: 0, ordersExisting: 30 });

    // The headerless 5-column sample layout (CRLF) shares the id scheme: known rows are duplicates.
    const sample = await importFiles(t.db, { orders: fx('cdnow-sample-small.txt') });
    expect(sample).toMatchObject({ orderRowsRead: 4, customersInserted: 1, customersExisting: 1, ordersInserted: 2, ordersExisting: 2 });
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
    expect(err.fileErrorCount).toBe(1);
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

describe.each(databaseKinds)('conflicts, bounds and other exports on %s', (kind) => {
  let t: TestDatabase;
  const file = async (name: string, text: string) => {
    const f = path.join(tmp, `${kind}-${name}`);
    await writeFile(f, text);
    return f;
  };
  const rel = (f: string) => path.relative(process.cwd(), f);
  const ordersOf = async (customerPrefix: string) =>
    (
      await t.db.prisma.order.findMany({
        where: { customer: { externalId: { startsWith: customerPrefix } } },
        orderBy: { externalId: 'asc' },
        include: { customer: { select: { externalId: true } } },
      })
    ).map((o) => [o.externalId, o.customer.externalId, o.orderedAt.toISOString(), o.amount.toFixed(2), o.itemCount, o.currency, o.status, o.amountKnown]);

  beforeAll(async () => {
    t = await createTestDatabase(kind);
  });
  afterAll(async () => {
    await t?.drop();
  });

  it('refuses an order_id repeated with different content (every conflicting line), skips identical repeats', async () => {
    const f = await file('dup.csv', 'order_id,customer_id,ordered_at,amount\nd1,dup-1,2024-01-01,10.00\nd1,dup-1,2024-01-01,12.00\nd1,dup-1,2024-01-02,10.00\nd1,dup-1,2024-01-01,10\n');
    const err = await importError(importFiles(t.db, { orders: f }));
    expect(err.message.split('\n')).toEqual([
      `${rel(f)}:3: order_id "d1" repeats line 2 with different content: amount "12.00" here, "10.00" there`,
      `${rel(f)}:4: order_id "d1" repeats line 2 with different content: ordered_at "2024-01-02T00:00:00.000Z" here, "2024-01-01T00:00:00.000Z" there`,
      '2 bad rows; nothing was imported.',
    ]);
    expect(await t.db.prisma.customer.count({ where: { externalId: 'dup-1' } })).toBe(0);

    // Identical repeats (10 = 10.00) are skipped and counted.
    const same = await file('same.csv', 'order_id,customer_id,ordered_at,amount\nd1,dup-1,2024-01-01,10.00\nd1,dup-1,2024-01-01,10\nd2,dup-1,2024-01-03,1.00\n');
    expect(await importFiles(t.db, { orders: same })).toMatchObject({ orderRowsRead: 3, ordersInFile: 2, ordersInserted: 2, duplicateRows: 1, ordersExisting: 0 });
  });

  it('refuses an order already in the database with other content (IDEMPOTENCY_CONFLICT) and changes nothing', async () => {
    const changed = await file('changed.csv', 'order_id,customer_id,ordered_at,amount\nd2,dup-1,2024-01-03,1.00\nd3,dup-1,2024-01-04,3.00\nd1,dup-1,2024-01-01,11.50\n');
    const err = await importError(importFiles(t.db, { orders: changed }));
    expect(err.errors).toEqual([
      { file: rel(changed), line: 4, reason: 'order "d1" is already in the database with different content (IDEMPOTENCY_CONFLICT): amount "11.50" here, "10.00" in the database' },
    ]);
    expect(await ordersOf('dup-')).toEqual([
      ['d1', 'dup-1', '2024-01-01T00:00:00.000Z', '10.00', 1, 'USD', 'paid', true],
      ['d2', 'dup-1', '2024-01-03T00:00:00.000Z', '1.00', 1, 'USD', 'paid', true],
    ]);
    // Another customer under the same order id is a conflict too.
    const moved = await file('moved.csv', 'order_id,customer_id,ordered_at,amount\nd2,dup-2,2024-01-03,1.00\n');
    expect((await importError(importFiles(t.db, { orders: moved }))).errors[0].reason).toContain('customer_id "dup-2" here, "dup-1" in the database');
    expect(await t.db.prisma.customer.count({ where: { externalId: 'dup-2' } })).toBe(0);
  });

  it('applies the API bounds to order times: after 1970, at most ORDER_FUTURE_TOLERANCE_SECONDS ahead', async () => {
    const now = new Date('2026-06-01T12:00:00Z');
    const f = await file('bounds.csv', [
      'order_id,customer_id,ordered_at,amount',
      'b1,bnd-1,2035-01-01T00:00:00Z,1.00',
      'b2,bnd-1,1850-01-01,1.00',
      'b3,bnd-1,1969-12-31T23:59:59Z,1.00',
      'b4,bnd-1,2026-06-01T12:05:00Z,1.00',
      'b5,bnd-1,2026-06-01T12:05:01Z,1.00',
      '',
    ].join('\n'));
    const err = await importError(importFiles(t.db, { orders: f, now, futureToleranceSeconds: 300 }));
    expect(err.errors.map((e) => [e.line, e.reason])).toEqual([
      [2, 'ordered_at "2035-01-01T00:00:00Z" must not be more than 300 seconds in the future'],
      [3, 'ordered_at "1850-01-01" must be a time after 1970-01-01'],
      [4, 'ordered_at "1969-12-31T23:59:59Z" must be a time after 1970-01-01'],
      [6, 'ordered_at "2026-06-01T12:05:01Z" must not be more than 300 seconds in the future'],
    ]);
    // The same rows through the API's own check (one source of truth).
    const { pastTime } = await import('../src/graphql/common/validate.js');
    expect(() => pastTime('input.orderedAt', new Date('2026-06-01T12:05:00Z'), 300, now.getTime())).not.toThrow();
    expect(() => pastTime('input.orderedAt', new Date('2026-06-01T12:05:01Z'), 300, now.getTime())).toThrow('must not be more than 300 seconds in the future');
    // CDNOW rows obey them too.
    const cd = await file('bounds-cdnow.txt', '00001 18500101 1 1.00\n00001 19970101 1 1.00\n');
    expect((await importError(importFiles(t.db, { orders: cd }))).errors.map((e) => [e.line, e.reason])).toEqual([[1, 'date 18500101 must be a time after 1970-01-01']]);
    expect(await t.db.prisma.customer.count({ where: { externalId: { in: ['bnd-1', 'cdnow-00001'] } } })).toBe(0);
  });

  const retail = {
    format: 'line-items' as const,
    map: { order_id: 'InvoiceNo', customer_id: 'CustomerID', ordered_at: 'InvoiceDate', quantity: 'Quantity', unit_price: 'UnitPrice' },
    dateFormat: 'M/D/YYYY H:mm',
    timeZone: 'Europe/London',
    cancelPrefix: 'C',
    currency: 'GBP',
  };

  it('line items (UCI Online Retail layout): lines → orders, sums, cancellations as refunds, rows without customer', async () => {
    // Without --skip-missing-customer the two anonymous lines are bad rows.
    const refused = await importError(importFiles(t.db, { orders: fx('online-retail-small.csv'), ...retail }));
    expect(refused.errors.map((e) => [e.line, e.reason])).toEqual([
      [11, 'customer_id is missing (--skip-missing-customer skips such lines and counts them)'],
      [16, 'customer_id is missing (--skip-missing-customer skips such lines and counts them)'],
    ]);
    expect(await t.db.prisma.order.count({ where: { currency: 'GBP' } })).toBe(0);

    const s = await importFiles(t.db, { orders: fx('online-retail-small.csv'), ...retail, skipMissingCustomer: true });
    expect(s).toMatchObject({ format: 'line-items', orderRowsRead: 17, rowsWithoutCustomer: 2, ordersInFile: 8, ordersInserted: 8, customersInserted: 5, amountsKnown: true });
    const orders = (await t.db.prisma.order.findMany({ where: { currency: 'GBP' }, orderBy: { externalId: 'asc' }, include: { customer: true } })).map((o) => [
      o.externalId, o.customer.externalId, o.orderedAt.toISOString(), o.amount.toFixed(2), o.itemCount, o.status,
    ]);
    expect(orders).toEqual([
      ['536365', '17850', '2010-12-01T08:26:00.000Z', '57.64', 20, 'paid'], // 6×2.55 + 6×3.39 + 8×2.75
      ['536366', '17850', '2010-12-01T08:28:00.000Z', '22.20', 12, 'paid'],
      ['536367', '13047', '2010-12-01T08:34:00.000Z', '66.68', 38, 'paid'],
      ['536400', '13448', '2010-12-01T10:59:00.000Z', '41.30', 14, 'paid'], // lines at 10:59 and 11:00: the earliest
      ['536401', '13448', '2010-12-02T09:00:00.000Z', '1.26', 4, 'paid'], // 3×0.001 + 1×1.255 = 1.258 → 1.26
      ['556201', '17850', '2011-06-09T09:05:00.000Z', '38.70', 26, 'paid'], // 10:05 BST
      ['C536379', '14527', '2010-12-01T09:41:00.000Z', '27.50', 1, 'refunded'],
      ['C536383', '15311', '2010-12-01T09:49:00.000Z', '4.65', 1, 'refunded'],
    ]);
    expect((await t.db.prisma.customer.findUniqueOrThrow({ where: { externalId: '17850' } })).createdAt.toISOString()).toBe('2010-12-01T08:26:00.000Z');

    // Re-import: nothing new. A changed line changes the sum: a conflict with the stored order.
    expect(await importFiles(t.db, { orders: fx('online-retail-small.csv'), ...retail, skipMissingCustomer: true })).toMatchObject({ ordersInserted: 0, ordersExisting: 8 });
    const changed = await file('retail-changed.csv', 'InvoiceNo,Quantity,InvoiceDate,UnitPrice,CustomerID\n536366,6,12/1/2010 8:28,1.85,17850\n536366,7,12/1/2010 8:28,1.85,17850\n');
    expect((await importError(importFiles(t.db, { orders: changed, ...retail }))).errors).toEqual([
      { file: rel(changed), line: 2, reason: 'order "536366" is already in the database with different content (IDEMPOTENCY_CONFLICT): amount "24.05" here, "22.20" in the database; item_count "13" here, "12" in the database' },
    ]);
  });

  it('line items: the lines of one order must share the customer; negative net quantity is a refund', async () => {
    const f = await file('li.csv', 'order,client,day,qty,amount\nx1,li-1,2024-03-01,2,10.00\nx1,li-2,2024-03-01,1,5.00\nx2,li-1,2024-03-02,-3,-7.50\nx3,li-1,2024-03-03,2,4.00\nx3,li-1,2024-03-03,-1,-2.00\n');
    const map = { order_id: 'order', customer_id: 'client', ordered_at: 'day', quantity: 'qty', line_amount: 'amount' };
    const err = await importError(importFiles(t.db, { orders: f, format: 'line-items', map }));
    expect(err.errors).toEqual([
      { file: rel(f), line: 3, reason: 'a line of order "x1" differs from its line 2: customer_id "li-2" here, "li-1" there (the lines of one order share customer and currency)' },
    ]);
    const ok = await file('li-ok.csv', 'order,client,day,qty,amount\nx2,li-1,2024-03-02,-3,-7.50\nx3,li-1,2024-03-03,2,4.00\nx3,li-1,2024-03-03,-1,-2.00\n');
    expect(await importFiles(t.db, { orders: ok, format: 'line-items', map })).toMatchObject({ ordersInserted: 2 });
    expect(await ordersOf('li-')).toEqual([
      ['x2', 'li-1', '2024-03-02T00:00:00.000Z', '7.50', 3, 'USD', 'refunded', true],
      ['x3', 'li-1', '2024-03-03T00:00:00.000Z', '2.00', 1, 'USD', 'paid', true],
    ]);
    // Header without any amount column: a file error that says what to do.
    const noPrice = await file('li-noprice.csv', 'order,client,day\nx9,li-1,2024-03-02\n');
    const header = await importError(importFiles(t.db, { orders: noPrice, format: 'line-items', map }));
    expect(header.message).toMatch(/:1: header: a line-item file needs a "unit_price" or a "line_amount" column .*--no-amounts/);
    expect(header.message).toMatch(/1 file error; nothing was imported\.$/);
  });

  it('basket logs without amounts (Member_number,Date,itemDescription; DD-MM-YYYY): one order per member and day', async () => {
    const opts = { format: 'line-items' as const, noAmounts: true, map: { customer_id: 'Member_number', ordered_at: 'Date' }, dateFormat: 'DD-MM-YYYY' };
    const s = await importFiles(t.db, { orders: fx('groceries-small.csv'), ...opts });
    expect(s).toMatchObject({ orderRowsRead: 10, ordersInFile: 7, ordersInserted: 7, customersInserted: 6, amountsKnown: false });
    const orders = (
      await t.db.prisma.order.findMany({ where: { amountKnown: false, externalId: { contains: 'T000000000' } }, orderBy: { externalId: 'asc' }, include: { customer: true } })
    ).map((o) => [o.externalId, o.customer.externalId, o.orderedAt.toISOString(), o.amount.toFixed(2), o.itemCount, o.status]);
    expect(orders).toEqual([
      ['1187-20151212T000000000', '1187', '2015-12-12T00:00:00.000Z', '0.00', 1, 'paid'],
      ['1808-20140303T000000000', '1808', '2014-03-03T00:00:00.000Z', '0.00', 1, 'paid'],
      ['1808-20150721T000000000', '1808', '2015-07-21T00:00:00.000Z', '0.00', 3, 'paid'], // lines 2, 7 and 11
      ['2300-20150919T000000000', '2300', '2015-09-19T00:00:00.000Z', '0.00', 1, 'paid'],
      ['2552-20150105T000000000', '2552', '2015-01-05T00:00:00.000Z', '0.00', 2, 'paid'],
      ['3037-20150201T000000000', '3037', '2015-02-01T00:00:00.000Z', '0.00', 1, 'paid'],
      ['4941-20150214T000000000', '4941', '2015-02-14T00:00:00.000Z', '0.00', 1, 'paid'],
    ]);
    expect(await importFiles(t.db, { orders: fx('groceries-small.csv'), ...opts })).toMatchObject({ ordersInserted: 0, ordersExisting: 7 });
    // A date that does not match the format is a bad row with its line.
    const bad = await file('groceries-bad.csv', 'Member_number,Date,itemDescription\n1808,2015-07-21,milk\n');
    expect((await importError(importFiles(t.db, { orders: bad, ...opts }))).errors.map((e) => [e.line, e.reason])).toEqual([
      [2, 'ordered_at "2015-07-21" does not match --date-format DD-MM-YYYY'],
    ]);
  });

  it('--date-format and --timezone on the plain orders format; --no-amounts orders are known to have no amount', async () => {
    const f = await file('dmy.csv', 'order_id,customer_id,ordered_at,amount\nz1,tz-1,31/12/2024 23:30,5.00\nz2,tz-1,01/07/2024 09:00,6.00\n');
    await importFiles(t.db, { orders: f, dateFormat: 'DD/MM/YYYY HH:mm', timeZone: 'America/New_York' });
    // Without --date-format, --timezone applies to ISO times written without an offset.
    const iso = await file('iso-zone.csv', 'order_id,customer_id,ordered_at\nz3,tz-1,2024-07-01T09:00:00\nz4,tz-1,2024-07-01T09:00:00Z\n');
    expect(await importFiles(t.db, { orders: iso, timeZone: 'Europe/Berlin', noAmounts: true })).toMatchObject({ ordersInserted: 2, amountsKnown: false });
    expect(await ordersOf('tz-')).toEqual([
      ['z1', 'tz-1', '2025-01-01T04:30:00.000Z', '5.00', 1, 'USD', 'paid', true],
      ['z2', 'tz-1', '2024-07-01T13:00:00.000Z', '6.00', 1, 'USD', 'paid', true],
      ['z3', 'tz-1', '2024-07-01T07:00:00.000Z', '0.00', 1, 'USD', 'paid', false],
      ['z4', 'tz-1', '2024-07-01T09:00:00.000Z', '0.00', 1, 'USD', 'paid', false],
    ]);
    await expect(importFiles(t.db, { orders: iso, timeZone: 'Europe/Atlantis' })).rejects.toThrow('--timezone "Europe/Atlantis" is not an IANA time zone');
    // Importing z3 again with an amount is a conflict: the database knows it has none.
    const withAmount = await file('iso-amount.csv', 'order_id,customer_id,ordered_at,amount\nz3,tz-1,2024-07-01T07:00:00Z,0.00\n');
    expect((await importError(importFiles(t.db, { orders: withAmount }))).errors[0].reason).toContain('amount "0.00" here, no amount in the database');
  });
});

// Files larger than one read chunk (1 MiB): records and quoted fields straddle chunk boundaries,
// row checks run while rows stream into the staging tables, cross-row checks run in SQL — and
// every problem still names the line it is on.
describe.each(databaseKinds)('large files on %s', (kind) => {
  let t: TestDatabase;
  const N = 16_000; // customers, ~1.3 MB
  const ORDERS_PER = 2; // orders per customer → 32,000 order lines, ~2 MB
  beforeAll(async () => {
    t = await createTestDatabase(kind);
  });
  afterAll(async () => {
    await t?.drop();
  });

  /** Customers with names that need quoting (commas, quotes, a line break every 500th). */
  const customerName = (i: number) => (i % 500 === 7 ? `Two-line\nName ${i}` : i % 3 === 0 ? `Doe, "J" ${i}${'x'.repeat(i % 90)}` : `Plain ${i}`);
  const csvName = (name: string) => (/[",\n]/.test(name) ? `"${name.replace(/"/g, '""')}"` : name);

  async function write(tag: string, edit: { orderLine?: [number, string] } = {}) {
    const customers = ['customer_id,name,email,created_at'];
    for (let i = 1; i <= N; i++) customers.push(`big-${i},${csvName(customerName(i))},big${i}@example.com,2024-01-01T00:00:00.000Z`);
    const orders = ['order_id,customer_id,ordered_at,amount,item_count'];
    for (let i = 1; i <= N; i++) {
      for (let k = 1; k <= ORDERS_PER; k++) orders.push(`big-${i}-${k},big-${i},2024-02-${String(k).padStart(2, '0')}T10:00:00.000Z,${i % 97}.${String(k).padStart(2, '0')},${k}`);
    }
    // A file line = array index + 1 for orders (no line breaks inside fields); customers' lines shift after each two-line name.
    if (edit.orderLine) orders[edit.orderLine[0] - 1] = edit.orderLine[1];
    const customersFile = path.join(tmp, `${kind}-${tag}-customers.csv`);
    const ordersFile = path.join(tmp, `${kind}-${tag}-orders.csv`);
    await writeFile(customersFile, `${customers.join('\r\n')}\r\n`);
    await writeFile(ordersFile, `${orders.join('\n')}\n`);
    for (const f of [customersFile, ordersFile]) expect((await stat(f)).size).toBeGreaterThan(1 << 20);
    return { customers: customersFile, orders: ordersFile };
  }

  const count = async () => ({ customers: await t.db.prisma.customer.count(), orders: await t.db.prisma.order.count() });

  it('an error on line N of a file of many chunks is reported as line N; set-based checks name their lines; nothing is written', async () => {
    // Physical lines of the customers file: one per customer plus one per two-line name before it.
    const twoLineBefore = (i: number) => Array.from({ length: i - 1 }, (_, k) => k + 1).filter((k) => k % 500 === 7).length;
    const customerLineOf = (i: number) => 1 + i + twoLineBefore(i);
    const badOrderLine = 28_457; // deep in the orders file, past its first read chunk
    const files = await write('bad', { orderLine: [badOrderLine, 'big-x,big-5000,2024-02-01T10:00:00Z,-1.00,1'] });
    // Another order of an unknown customer (a set-based check), and a repeated email in the customers file.
    const unknownLine = 25_001;
    const lines = (await readFile(files.orders, 'utf8')).split('\n');
    lines[unknownLine - 1] = 'big-y,ghost-1,2024-02-01T10:00:00Z,1.00,1';
    await writeFile(files.orders, lines.join('\n'));
    // Physical lines (a two-line name holds a bare LF; records end with CRLF).
    const customerLines = (await readFile(files.customers, 'utf8')).split('\n');
    const dupAt = customerLineOf(5_555);
    expect(customerLines[dupAt - 1]).toMatch(/^big-5555,/);
    customerLines[dupAt - 1] = customerLines[dupAt - 1].replace('big5555@example.com', 'big12@example.com');
    await writeFile(files.customers, customerLines.join('\n'));

    const err = await importError(importFiles(t.db, files));
    expect(err.errors.map((e) => [path.basename(e.file), e.line, e.reason])).toEqual([
      [path.basename(files.customers), dupAt, `email "big12@example.com" is also used at line ${customerLineOf(12)}`],
      [path.basename(files.orders), unknownLine, `customer "ghost-1" is neither in ${path.relative(process.cwd(), files.customers)} nor in the database`],
      [path.basename(files.orders), badOrderLine, 'amount -1.00 is negative'],
    ]);
    expect(await count()).toEqual({ customers: 0, orders: 0 });
  });

  it('imports every row of a file of many chunks exactly (quoted names across chunk boundaries, CRLF), then re-imports as a no-op', async () => {
    const files = await write('good');
    const s = await importFiles(t.db, files);
    expect(s).toMatchObject({ customerRowsRead: N, customersInserted: N, orderRowsRead: N * ORDERS_PER, ordersInserted: N * ORDERS_PER });
    const names = await t.db.prisma.customer.findMany({ where: { externalId: { startsWith: 'big-' } }, select: { externalId: true, name: true } });
    const byId = new Map(names.map((c) => [c.externalId, c.name]));
    for (let i = 1; i <= N; i++) expect(byId.get(`big-${i}`)).toBe(customerName(i));
    const o = await t.db.prisma.order.findUniqueOrThrow({ where: { externalId: 'big-4321-2' }, include: { customer: { select: { externalId: true } } } });
    expect([o.customer.externalId, o.orderedAt.toISOString(), o.amount.toFixed(2), o.itemCount]).toEqual(['big-4321', '2024-02-02T10:00:00.000Z', `${4321 % 97}.02`, 2]);
    // Bulk-inserted rows get time-ordered UUIDv7 ids (see ingest/staging.ts).
    expect(o.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);

    const again = await importFiles(t.db, files);
    expect(again).toMatchObject({ customersInserted: 0, customersExisting: N, ordersInserted: 0, ordersExisting: N * ORDERS_PER });
    expect(await count()).toEqual({ customers: N, orders: N * ORDERS_PER });
  });
});
