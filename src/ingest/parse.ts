// Row readers and validators for the importer. Each reader streams a file and yields records with
// their 1-based line numbers; each validator turns a record into a typed row or a reason.
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { parse } from 'csv-parse';
import type { CustomerRow, OrderRow, OrderStatusValue } from './bulk.js';

export type ImportFormat = 'csv' | 'cdnow';

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };
const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const bad = (reason: string): Parsed<never> => ({ ok: false, reason });

// ─── file readers ──────────────────────────────────────────────────────────────────────────────

export interface CsvRecord {
  line: number;
  fields: string[];
}

/** The file cannot be parsed past `line` (e.g. an unclosed quote). */
export class FileSyntaxError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(message);
  }
}

/** Streams a CSV file (header included, as the first record). Empty lines are skipped. */
export async function* readCsv(file: string): AsyncGenerator<CsvRecord> {
  const parser = createReadStream(file).pipe(
    parse({ info: true, bom: true, skip_empty_lines: true, relax_column_count: true, trim: true }),
  );
  try {
    for await (const r of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      yield { line: r.info.lines, fields: r.record };
    }
  } catch (err) {
    const e = err as { code?: string; lines?: number; message: string };
    if (typeof e.code === 'string' && e.code.startsWith('CSV_')) {
      throw new FileSyntaxError(e.lines ?? 0, `CSV syntax error: ${e.message.replace(/^[^:]*: /, '')}`);
    }
    throw err;
  }
}

/** Streams a whitespace-separated file (CDNOW): tokens per non-empty line. */
export async function* readWhitespace(file: string): AsyncGenerator<CsvRecord> {
  const rl = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  let line = 0;
  for await (const text of rl) {
    line += 1;
    const t = line === 1 ? text.replace(/^\uFEFF/, '').trim() : text.trim();
    if (t.length === 0) continue;
    yield { line, fields: t.split(/\s+/) };
  }
}

/** Guesses the orders file format from its first non-empty line. */
export async function detectFormat(file: string): Promise<ImportFormat> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(64 * 1024);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    const first = buf
      .subarray(0, bytesRead)
      .toString('utf8')
      .replace(/^\uFEFF/, '')
      .split(/\r?\n/)
      .find((l) => l.trim().length > 0);
    if (first === undefined) throw new Error(`${file}: the file is empty`);
    if (first.includes(',')) return 'csv';
    const tokens = first.trim().split(/\s+/);
    if (tokens[0] === 'customer_id' || ((tokens.length === 4 || tokens.length === 5) && tokens.every((t) => /^[\d.]+$/.test(t)))) return 'cdnow';
    throw new Error(`${file}: cannot detect the format (neither CSV with a header nor CDNOW); pass --format csv|cdnow`);
  } finally {
    await fh.close();
  }
}

// ─── field validators ──────────────────────────────────────────────────────────────────────────

const MAX_AMOUNT_DIGITS = 10; // Decimal(12, 2)

/** Amount: non-negative decimal with at most 2 decimals → canonical "123.40". */
export function parseAmount(s: string, field = 'amount'): Parsed<string> {
  if (s === '') return bad(`${field} is missing`);
  const m = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(s);
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) return bad(`${field} ${JSON.stringify(s)} is not a number`);
  const [, sign, intPart, frac = ''] = m;
  if (sign === '-' && /[1-9]/.test(intPart + frac)) return bad(`${field} ${s} is negative`);
  if (frac.length > 2) return bad(`${field} ${s} has more than 2 decimals`);
  const int = intPart.replace(/^0+(?=\d)/, '') || '0';
  if (int.length > MAX_AMOUNT_DIGITS) return bad(`${field} ${s} is too large`);
  return ok(`${int}.${frac.padEnd(2, '0')}`);
}

export function parseCount(s: string, field = 'item_count'): Parsed<number> {
  if (!/^\d+$/.test(s)) return bad(`${field} ${JSON.stringify(s)} is not an integer ≥ 0`);
  const n = Number(s);
  if (n > 2_147_483_647) return bad(`${field} ${s} is too large`);
  return ok(n);
}

function validDay(y: number, m: number, d: number): number | null {
  const t = Date.UTC(y, m - 1, d);
  const dt = new Date(t);
  return dt.getUTCFullYear() === y && dt.getUTCMonth() === m - 1 && dt.getUTCDate() === d && y >= 1000 ? t : null;
}

/** YYYY-MM-DD → the same string, validated. */
export function parseDay(s: string, field: string): Parsed<string> {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m || validDay(Number(m[1]), Number(m[2]), Number(m[3])) === null) return bad(`${field} ${JSON.stringify(s)} is not a date YYYY-MM-DD`);
  return ok(s);
}

const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(Z|z|[+-]\d{2}:?\d{2})?$/;

/**
 * ISO-8601 timestamp or plain date. Without a zone the time is taken as UTC.
 * Sub-millisecond digits are truncated (the database stores milliseconds).
 */
export function parseTimestamp(s: string, field: string): Parsed<Date> {
  if (s === '') return bad(`${field} is missing`);
  const m = TIMESTAMP.exec(s);
  const invalid = bad(`${field} ${JSON.stringify(s)} is not an ISO-8601 date/time`);
  if (!m) return invalid;
  const day = validDay(Number(m[1]), Number(m[2]), Number(m[3]));
  const [h, mi, sec] = [Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0)];
  if (day === null || h > 23 || mi > 59 || sec > 59) return invalid;
  const ms = Number((m[7] ?? '').padEnd(3, '0').slice(0, 3) || 0);
  let offset = 0;
  const z = m[8];
  if (z && z !== 'Z' && z !== 'z') {
    const zm = /^([+-])(\d{2}):?(\d{2})$/.exec(z)!;
    offset = (zm[1] === '-' ? -1 : 1) * (Number(zm[2]) * 60 + Number(zm[3])) * 60_000;
  }
  return ok(new Date(day + ((h * 60 + mi) * 60 + sec) * 1000 + ms - offset));
}

/** CDNOW date YYYYMMDD → 00:00 UTC of that day. */
export function parseCompactDay(s: string, field = 'date'): Parsed<Date> {
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(s);
  const t = m ? validDay(Number(m[1]), Number(m[2]), Number(m[3])) : null;
  return t === null ? bad(`${field} ${JSON.stringify(s)} is not a date YYYYMMDD`) : ok(new Date(t));
}

const STATUSES: readonly OrderStatusValue[] = ['paid', 'refunded', 'cancelled'];
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const ID = /^[^\s]{1,200}$/;

// ─── column mapping ────────────────────────────────────────────────────────────────────────────

/** Target column → source column in the file header (only for names that differ). */
export type ColumnMap = Record<string, string>;

export type Columns<C extends string> = Partial<Record<C, number>>;

/** Resolves the header into column positions; reports the missing required columns. */
export function resolveColumns<C extends string>(
  header: string[],
  known: readonly C[],
  required: readonly C[],
  map: ColumnMap,
): Parsed<Columns<C>> {
  const pos = new Map(header.map((h, i) => [h.trim(), i]));
  const cols: Columns<C> = {};
  const missing: string[] = [];
  for (const c of known) {
    const source = map[c] ?? c;
    const i = pos.get(source);
    if (i !== undefined) cols[c] = i;
    else if (required.includes(c)) missing.push(source === c ? `"${c}"` : `"${source}" (mapped to ${c})`);
  }
  if (missing.length > 0) return bad(`missing column ${missing.join(', ')} in the header (found: ${header.join(', ')})`);
  return ok(cols);
}

const cell = <C extends string>(fields: string[], cols: Columns<C>, c: C): string => {
  const i = cols[c];
  return i === undefined ? '' : (fields[i] ?? '');
};

// ─── row validators ────────────────────────────────────────────────────────────────────────────

export type CustomerColumn = 'customer_id' | 'name' | 'email' | 'gender' | 'birth_date' | 'country' | 'created_at';
export type OrderColumn = 'order_id' | 'customer_id' | 'ordered_at' | 'amount' | 'item_count' | 'currency' | 'status';

export const placeholderName = (id: string) => `Customer ${id}`;

/** A customers-file row; created_at stays null when absent (the importer fills it in). */
export function parseCustomerRecord(fields: string[], width: number, cols: Columns<CustomerColumn>): Parsed<CustomerRow> {
  if (fields.length !== width) return bad(`expected ${width} fields, found ${fields.length}`);
  const get = (c: CustomerColumn) => cell(fields, cols, c);
  const reasons: string[] = [];
  const id = get('customer_id');
  if (id === '') reasons.push('customer_id is missing');
  else if (!ID.test(id)) reasons.push('customer_id must be 1–200 characters without spaces');
  const email = get('email');
  if (email !== '' && !EMAIL.test(email)) reasons.push(`email ${JSON.stringify(email)} is not an email address`);
  let gender: string | null = null;
  const g = get('gender').toUpperCase();
  if (g === 'F' || g === 'FEMALE') gender = 'F';
  else if (g === 'M' || g === 'MALE') gender = 'M';
  else if (g === 'X' || g === 'OTHER') gender = 'X';
  else if (g !== '') reasons.push(`gender ${JSON.stringify(get('gender'))} must be F, M, X or empty`);
  let birthDate: string | null = null;
  if (get('birth_date') !== '') {
    const b = parseDay(get('birth_date'), 'birth_date');
    if (b.ok) birthDate = b.value;
    else reasons.push(b.reason);
  }
  const country = get('country').toUpperCase();
  if (country !== '' && !/^[A-Z]{2}$/.test(country)) reasons.push(`country ${JSON.stringify(get('country'))} is not an ISO-3166 alpha-2 code`);
  let createdAt: Date | null = null;
  if (get('created_at') !== '') {
    const c = parseTimestamp(get('created_at'), 'created_at');
    if (c.ok) createdAt = c.value;
    else reasons.push(c.reason);
  }
  if (reasons.length > 0) return bad(reasons.join('; '));
  return ok({
    externalId: id,
    name: get('name') || placeholderName(id),
    email: email || null,
    gender,
    birthDate,
    country: country || null,
    createdAt,
  });
}

/**
 * An orders-file CSV row. Without an order_id column the id is derived deterministically as
 * `<customer_id>-<ordered_at as yyyymmddThhmmssSSS>-<n>` (n = occurrence of that pair in the file, zero-padded to 6 digits so ids sort in file order),
 * by the caller through `occurrence`.
 */
export function parseOrderRecord(
  fields: string[],
  width: number,
  cols: Columns<OrderColumn>,
  defaults: { currency: string },
  occurrence: (key: string) => number,
): Parsed<OrderRow> {
  if (fields.length !== width) return bad(`expected ${width} fields, found ${fields.length}`);
  const get = (c: OrderColumn) => cell(fields, cols, c);
  const reasons: string[] = [];
  const customer = get('customer_id');
  if (customer === '') reasons.push('customer_id is missing');
  else if (!ID.test(customer)) reasons.push('customer_id must be 1–200 characters without spaces');
  const orderId = get('order_id');
  if (cols.order_id !== undefined) {
    if (orderId === '') reasons.push('order_id is missing');
    else if (!ID.test(orderId)) reasons.push('order_id must be 1–200 characters without spaces');
  }
  const at = parseTimestamp(get('ordered_at'), 'ordered_at');
  if (!at.ok) reasons.push(at.reason);
  const amount = parseAmount(get('amount'));
  if (!amount.ok) reasons.push(amount.reason);
  const items = get('item_count') === '' ? ok(1) : parseCount(get('item_count'));
  if (!items.ok) reasons.push(items.reason);
  const currency = get('currency') || defaults.currency;
  if (!/^[A-Z]{3}$/.test(currency)) reasons.push(`currency ${JSON.stringify(currency)} is not 3 upper-case letters`);
  const status = (get('status') || 'paid') as OrderStatusValue;
  if (!STATUSES.includes(status)) reasons.push(`status ${JSON.stringify(status)} must be one of ${STATUSES.join(', ')}`);
  if (reasons.length > 0 || !at.ok || !amount.ok || !items.ok) return bad(reasons.join('; '));
  let externalId = orderId;
  if (cols.order_id === undefined) {
    const stamp = at.value.toISOString().replace(/[-:.Z]/g, '');
    const key = `${customer}-${stamp}`;
    externalId = `${key}-${String(occurrence(key)).padStart(6, '0')}`;
  }
  return ok({ externalId, customerExternalId: customer, orderedAt: at.value, amount: amount.value, itemCount: items.value, currency, status });
}

export const cdnowCustomerId = (id: string) => `cdnow-${id}`;

/** CDNOW has no time of day: orders are stamped at 12:00:00.000Z, as python-export/segments/data.py does. */
export const CDNOW_TIME_OF_DAY_MS = 12 * 3_600_000;

/**
 * A CDNOW row: `customer_id date number_of_cds dollar_value` (master) or
 * `customer_id sample_id date number_of_cds dollar_value` (sample). Ids:
 * customer `cdnow-<id>`, order `cdnow-<id>-<yyyymmdd>-<nnnnnn>` (occurrence of that customer-day, zero-padded so
 * ids sort in file order, as the training pipeline orders same-day rows).
 * orderedAt = 12:00 UTC of the day (so midnight cutoffs never coincide with an order).
 */
export function parseCdnowRecord(fields: string[], currency: string, occurrence: (key: string) => number): Parsed<OrderRow> {
  if (fields.length !== 4 && fields.length !== 5) return bad(`expected 4 or 5 whitespace-separated fields, found ${fields.length}`);
  const [id, day, cds, dollars] = fields.length === 4 ? fields : [fields[0], fields[2], fields[3], fields[4]];
  const reasons: string[] = [];
  if (!/^[A-Za-z0-9_-]{1,100}$/.test(id)) reasons.push(`customer_id ${JSON.stringify(id)} is not an identifier`);
  const at = parseCompactDay(day);
  if (!at.ok) reasons.push(at.reason);
  const items = parseCount(cds, 'number_of_cds');
  if (!items.ok) reasons.push(items.reason);
  const amount = parseAmount(dollars, 'dollar_value');
  if (!amount.ok) reasons.push(amount.reason);
  if (reasons.length > 0 || !at.ok || !items.ok || !amount.ok) return bad(reasons.join('; '));
  const key = `${cdnowCustomerId(id)}-${day}`;
  return ok({
    externalId: `${key}-${String(occurrence(key)).padStart(6, '0')}`,
    customerExternalId: cdnowCustomerId(id),
    orderedAt: new Date(at.value.getTime() + CDNOW_TIME_OF_DAY_MS),
    amount: amount.value,
    itemCount: items.value,
    currency,
    status: 'paid',
  });
}

/** Is this CDNOW line the master file's header? */
export const isCdnowHeader = (fields: string[]) => fields[0] === 'customer_id';
