// Row readers and validators for the importer. Each reader streams a file and yields records with
// their 1-based line numbers; each validator turns a record into a typed row or a reason.
// Values from the file that a reason repeats go through `quote` (escaped, truncated), so a binary
// or hostile file cannot write raw bytes or terminal escapes to the user's screen.
import { quote } from '../text.js';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { itemCountProblem, MAX_ITEM_COUNT } from '../db/rules.js';
import type { CustomerRow, OrderStatusValue } from './bulk.js';

export type ImportFormat = 'csv' | 'cdnow' | 'line-items';

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };
const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const bad = (reason: string): Parsed<never> => ({ ok: false, reason });

// A value from the file, safe to print (quote, at most 40 characters): shared with the other modules' messages.
export { quote };

/**
 * One order line as staged for the import (ingest/staging.ts). For plain order rows a line is an
 * order; for line-item exports the lines sharing `externalId` are summed into one order.
 */
export interface StagedLine {
  line: number;
  /** The order's externalId (from the file or derived). */
  externalId: string;
  customerExternalId: string;
  orderedAt: Date;
  /** Decimal string (signed for line items); null = no amount in this line (see unitPrice / --no-amounts). */
  amount: string | null;
  /** Line items: price of one unit; the line's amount is quantity × unitPrice. */
  unitPrice: string | null;
  /** Item count (line items: signed quantity). */
  quantity: number;
  currency: string;
  status: OrderStatusValue;
}

// ─── file readers ──────────────────────────────────────────────────────────────────────────────

/** The file cannot be parsed past `line` (e.g. an unclosed quote). */
export class FileSyntaxError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(message);
  }
}

/** Called per record; a returned promise (a full COPY buffer) is awaited before the next record. */
export type OnRecord = (line: number, fields: string[]) => void | Promise<void>;

const QUOTE = 34; // "
const COMMA = 44;
const LF = 10;
const CR = 13;
const isBlank = (c: number) => c === 32 || c === 9;

/** A file's text in 1 MiB chunks, without a leading byte-order mark. */
async function* textChunks(file: string): AsyncGenerator<string> {
  let first = true;
  for await (const chunk of createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 20 }) as AsyncIterable<string>) {
    yield first && chunk.charCodeAt(0) === 0xfeff ? chunk.slice(1) : chunk;
    first = false;
  }
}

/**
 * Streams a CSV file (RFC 4180; header included, as the first record) through `onRecord`, with the
 * 1-based line each record starts on. Empty lines are skipped, fields are trimmed, a BOM is
 * dropped, CRLF and LF both end a record, quoted fields may hold commas, "" and line breaks. A
 * record may have any number of fields (the validators compare it with the header). A quote that
 * opens inside an unquoted field, text after a closing quote, or a quote never closed is a
 * FileSyntaxError at its line.
 *
 * Hand-written rather than csv-parse: the importer reads millions of rows, and a synchronous scan
 * of each chunk (String.indexOf and split on lines without quotes) is several times faster than a
 * general parser emitting one async-iterated record at a time.
 */
export async function scanCsv(file: string, onRecord: OnRecord): Promise<void> {
  let rest = '';
  let line = 1; // line of rest[0]
  for await (const chunk of textChunks(file)) {
    const text = rest + chunk;
    const r = await scanText(text, line, false, onRecord);
    rest = text.slice(r.consumed);
    line = r.line;
  }
  if (rest.length > 0) await scanText(rest, line, true, onRecord);
}

/** Scans the complete records of `text` (all of it when `final`); returns how far it got. */
async function scanText(text: string, startLine: number, final: boolean, onRecord: OnRecord): Promise<{ consumed: number; line: number }> {
  let pos = 0;
  let line = startLine;
  const n = text.length;
  let q = text.indexOf('"'); // the next quote at or after pos (-1: none left in text)
  while (pos < n) {
    let nl = text.indexOf('\n', pos);
    if (nl < 0) {
      if (!final) break;
      nl = n;
    }
    const end = nl > pos && text.charCodeAt(nl - 1) === CR ? nl - 1 : nl;
    if (end === pos) {
      // an empty line
      pos = nl + 1;
      line += 1;
      continue;
    }
    if (q >= 0 && q < pos) q = text.indexOf('"', pos);
    if (q < 0 || q >= end) {
      const fields = text.slice(pos, end).split(',');
      for (let i = 0; i < fields.length; i++) {
        const f = fields[i];
        if (f.length > 0 && (isBlank(f.charCodeAt(0)) || isBlank(f.charCodeAt(f.length - 1)))) fields[i] = f.trim();
      }
      const p = onRecord(line, fields);
      if (p !== undefined) await p;
      pos = nl + 1;
      line += 1;
      continue;
    }
    const r = quotedRecord(text, pos, line, final);
    if (r === null) break; // the record continues in the next chunk
    const p = onRecord(line, r.fields);
    if (p !== undefined) await p;
    pos = r.next;
    line += r.lines;
  }
  return { consumed: Math.min(pos, n), line };
}

/** One record with quotes, from `pos`; null when it is not complete in `text` (and not final). */
function quotedRecord(text: string, pos: number, line: number, final: boolean): { fields: string[]; next: number; lines: number } | null {
  const fields: string[] = [];
  const n = text.length;
  let i = pos;
  let lines = 1;
  for (;;) {
    while (i < n && isBlank(text.charCodeAt(i))) i++;
    let value: string;
    if (i < n && text.charCodeAt(i) === QUOTE) {
      const opened = line + lines - 1;
      let v = '';
      let from = i + 1;
      for (;;) {
        const close = text.indexOf('"', from);
        if (close < 0) {
          if (!final) return null;
          throw new FileSyntaxError(opened, `CSV syntax error: the quote opened at line ${opened} is never closed`);
        }
        if (close + 1 >= n && !final) return null;
        v += text.slice(from, close);
        if (text.charCodeAt(close + 1) === QUOTE) {
          v += '"';
          from = close + 2;
          continue;
        }
        i = close + 1;
        break;
      }
      for (let k = v.indexOf('\n'); k >= 0; k = v.indexOf('\n', k + 1)) lines++;
      while (i < n && isBlank(text.charCodeAt(i))) i++;
      const c = i < n ? text.charCodeAt(i) : LF;
      if (c !== COMMA && c !== LF && !(c === CR && (i + 1 >= n || text.charCodeAt(i + 1) === LF))) {
        throw new FileSyntaxError(line + lines - 1, `CSV syntax error: text after the closing quote of field ${fields.length + 1} at line ${line + lines - 1} (a quote inside a quoted field is written "")`);
      }
      value = v;
    } else {
      let j = i;
      while (j < n) {
        const c = text.charCodeAt(j);
        if (c === COMMA || c === LF) break;
        if (c === QUOTE) {
          throw new FileSyntaxError(line + lines - 1, `CSV syntax error: a quote inside the unquoted field ${fields.length + 1} at line ${line + lines - 1} (quote the whole field and write the quote as "")`);
        }
        j++;
      }
      if (j >= n && !final) return null;
      value = text.slice(i, j).trim();
      i = j;
    }
    fields.push(value);
    if (i >= n) return { fields, next: n, lines };
    const c = text.charCodeAt(i);
    if (c === COMMA) {
      i++;
      continue;
    }
    if (c === CR) i++;
    if (i >= n) return final ? { fields, next: n, lines } : null;
    // LF
    return { fields, next: i + 1, lines };
  }
}

/** Streams a whitespace-separated file (CDNOW): tokens per non-empty line. */
export async function scanWhitespace(file: string, onRecord: OnRecord): Promise<void> {
  let rest = '';
  let line = 1;
  const each = async (text: string, final: boolean) => {
    let pos = 0;
    for (;;) {
      let nl = text.indexOf('\n', pos);
      if (nl < 0) {
        if (!final || pos >= text.length) break;
        nl = text.length;
      }
      const t = text.slice(pos, nl).trim();
      if (t.length > 0) {
        const p = onRecord(line, t.split(/\s+/));
        if (p !== undefined) await p;
      }
      line += 1;
      pos = nl + 1;
    }
    return pos;
  };
  for await (const chunk of textChunks(file)) {
    const text = rest + chunk;
    rest = text.slice(await each(text, false));
  }
  if (rest.length > 0) await each(rest, true);
}

const SNIFF_BYTES = 64 * 1024;

/**
 * Looks at the start of a file before any row is read: compressed, archived, UTF-16 or binary
 * input is refused with what to do instead (never echoing its bytes). Returns the first non-empty
 * line for format detection, or the reason the file cannot be imported.
 */
export async function inspectFile(file: string): Promise<{ ok: true; firstLine: string } | { ok: false; reason: string }> {
  let fh;
  try {
    fh = await open(file, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { ok: false, reason: code === 'ENOENT' ? 'no such file' : `cannot be opened (${code ?? (err as Error).message})` };
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) return { ok: false, reason: 'is not a regular file' };
    const buf = Buffer.alloc(SNIFF_BYTES);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    const head = buf.subarray(0, bytesRead);
    if (bytesRead === 0) return { ok: false, reason: 'the file is empty' };
    if (head[0] === 0x1f && head[1] === 0x8b) return { ok: false, reason: 'is gzip-compressed: decompress it first (gunzip -k FILE) and import the result' };
    if (head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04) {
      return { ok: false, reason: 'is a ZIP archive (an .xlsx workbook is one): extract the CSV, or save the sheet as CSV (UTF-8)' };
    }
    if ((head[0] === 0xff && head[1] === 0xfe) || (head[0] === 0xfe && head[1] === 0xff)) return { ok: false, reason: 'is UTF-16 text: save it as UTF-8' };
    let control = 0;
    for (let i = 0; i < head.length; i++) {
      const b = head[i];
      if (b === 0) return { ok: false, reason: `is not a text file (a NUL byte at offset ${i}): binary input is not imported` };
      if ((b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d && b !== 0x0c) || b === 0x7f) control += 1;
    }
    if (control > Math.max(8, head.length / 1000)) return { ok: false, reason: `is not a text file (${control} control bytes in its first ${head.length} bytes)` };
    const firstLine = head
      .toString('utf8')
      .replace(/^\uFEFF/, '')
      .split(/\r?\n/)
      .find((l) => l.trim().length > 0);
    if (firstLine === undefined) return { ok: false, reason: 'the file is empty' };
    return { ok: true, firstLine };
  } finally {
    await fh.close();
  }
}

/** Guesses the orders file format from its first non-empty line: CSV (with a header) or CDNOW. */
export function formatOf(firstLine: string): ImportFormat | null {
  if (firstLine.includes(',')) return 'csv';
  const tokens = firstLine.trim().split(/\s+/);
  if (tokens[0] === 'customer_id' || ((tokens.length === 4 || tokens.length === 5) && tokens.every((t) => /^[\d.]+$/.test(t)))) return 'cdnow';
  return null;
}

/** Guesses the orders file format from its first non-empty line. */
export async function detectFormat(file: string): Promise<ImportFormat> {
  const inspected = await inspectFile(file);
  if (!inspected.ok) throw new Error(`${file}: ${inspected.reason}`);
  const format = formatOf(inspected.firstLine);
  if (format === null) throw new Error(`${file}: cannot detect the format (neither CSV with a header nor CDNOW); pass --format csv|cdnow|line-items`);
  return format;
}

// ─── field validators ──────────────────────────────────────────────────────────────────────────

const MAX_AMOUNT_DIGITS = 10; // Decimal(12, 2)

/**
 * A decimal number → canonical string ("042.1" → "42.10" with minDecimals 2). `signed` allows a
 * minus sign; at most `maxDecimals` decimals and `MAX_AMOUNT_DIGITS` integer digits.
 */
export function parseDecimal(s: string, field: string, opts: { signed?: boolean; maxDecimals?: number; minDecimals?: number } = {}): Parsed<string> {
  const { signed = false, maxDecimals = 2, minDecimals = 2 } = opts;
  if (s === '') return bad(`${field} is missing`);
  const m = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(s);
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) return bad(`${field} ${quote(s)} is not a number`);
  const [, sign, intPart, frac = ''] = m;
  const negative = sign === '-' && /[1-9]/.test(intPart + frac);
  if (negative && !signed) return bad(`${field} ${s} is negative`);
  if (frac.length > maxDecimals) return bad(`${field} ${s} has more than ${maxDecimals} decimals`);
  const int = intPart.replace(/^0+(?=\d)/, '') || '0';
  if (int.length > MAX_AMOUNT_DIGITS) return bad(`${field} ${s} is too large`);
  return ok(`${negative ? '-' : ''}${int}.${frac.padEnd(minDecimals, '0')}`.replace(/\.$/, ''));
}

/** Amount: non-negative decimal with at most 2 decimals → canonical "123.40". */
export function parseAmount(s: string, field = 'amount'): Parsed<string> {
  return parseDecimal(s, field);
}

export function parseCount(s: string, field = 'item_count'): Parsed<number> {
  if (!/^\d+$/.test(s)) return bad(`${field} ${quote(s)} is not an integer ≥ 0`);
  const n = Number(s);
  const problem = itemCountProblem(n);
  if (problem) return bad(`${field} ${s} ${problem}`);
  return ok(n);
}

/** A line item's quantity: a signed integer (negative = returned items). */
export function parseQuantity(s: string, field = 'quantity'): Parsed<number> {
  if (!/^[+-]?\d+$/.test(s)) return bad(`${field} ${quote(s)} is not an integer`);
  const n = Number(s);
  if (Math.abs(n) > MAX_ITEM_COUNT) return bad(`${field} ${s} must be from -${MAX_ITEM_COUNT} to ${MAX_ITEM_COUNT}`);
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
  if (!m || validDay(Number(m[1]), Number(m[2]), Number(m[3])) === null) return bad(`${field} ${quote(s)} is not a date YYYY-MM-DD`);
  return ok(s);
}

const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(Z|z|[+-]\d{2}:?\d{2})?$/;

/**
 * ISO-8601 timestamp or plain date. Without an offset the time is taken as UTC, or converted by
 * `localToUtc` (wall-clock time of --timezone → instant; the offset depends on the date, DST).
 * Sub-millisecond digits are truncated (the database stores milliseconds).
 */
export function parseTimestamp(s: string, field: string, localToUtc?: (wallClockMs: number) => number): Parsed<Date> {
  if (s === '') return bad(`${field} is missing`);
  const m = TIMESTAMP.exec(s);
  // Built only for a bad value: this runs for every row of a file.
  const invalid = () => bad(`${field} ${quote(s)} is not an ISO-8601 date/time`);
  if (!m) return invalid();
  const day = validDay(Number(m[1]), Number(m[2]), Number(m[3]));
  const [h, mi, sec] = [Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0)];
  if (day === null || h > 23 || mi > 59 || sec > 59) return invalid();
  const ms = Number((m[7] ?? '').padEnd(3, '0').slice(0, 3) || 0);
  const wallClock = day + ((h * 60 + mi) * 60 + sec) * 1000 + ms;
  const z = m[8];
  if (!z) return ok(new Date(localToUtc ? localToUtc(wallClock) : wallClock));
  let offset = 0;
  if (z !== 'Z' && z !== 'z') {
    const zm = /^([+-])(\d{2}):?(\d{2})$/.exec(z)!;
    offset = (zm[1] === '-' ? -1 : 1) * (Number(zm[2]) * 60 + Number(zm[3])) * 60_000;
  }
  return ok(new Date(wallClock - offset));
}

/** CDNOW date YYYYMMDD → 00:00 UTC of that day. */
export function parseCompactDay(s: string, field = 'date'): Parsed<Date> {
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(s);
  const t = m ? validDay(Number(m[1]), Number(m[2]), Number(m[3])) : null;
  return t === null ? bad(`${field} ${quote(s)} is not a date YYYYMMDD`) : ok(new Date(t));
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
    else if (required.includes(c)) missing.push(source === c ? `"${c}"` : `${quote(source)} (mapped to ${c})`);
  }
  if (missing.length > 0) {
    const found = header.slice(0, 12).map((h) => quote(h)).join(', ') + (header.length > 12 ? `, … (${header.length} columns)` : '');
    return bad(`missing column ${missing.join(', ')} (found: ${found})`);
  }
  return ok(cols);
}

const cell = <C extends string>(fields: string[], cols: Columns<C>, c: C): string => {
  const i = cols[c];
  return i === undefined ? '' : (fields[i] ?? '');
};

// ─── row validators ────────────────────────────────────────────────────────────────────────────

export type CustomerColumn = 'customer_id' | 'name' | 'email' | 'gender' | 'birth_date' | 'country' | 'created_at';
export type OrderColumn = 'order_id' | 'customer_id' | 'ordered_at' | 'amount' | 'item_count' | 'currency' | 'status';
export type LineItemColumn = 'order_id' | 'customer_id' | 'ordered_at' | 'quantity' | 'unit_price' | 'line_amount' | 'currency';
export const LINE_ITEM_COLUMNS: readonly LineItemColumn[] = ['order_id', 'customer_id', 'ordered_at', 'quantity', 'unit_price', 'line_amount', 'currency'];

export const placeholderName = (id: string) => `Customer ${id}`;

/** Parses a date/time cell (ordered_at, created_at) into an instant, or says why it cannot. */
export type WhenParser = (text: string, field: string) => Parsed<Date>;

/** How rows become orders: shared by every orders format. */
export interface OrderRowContext {
  /** Currency of rows without one. */
  currency: string;
  /** n-th occurrence of a derived id key in this file (1-based). */
  occurrence: (key: string) => number;
  /** Reads ordered_at (ISO 8601 by default, or --date-format / --timezone). */
  when: WhenParser;
  /** The API's bounds for an order time (db/rules.ts); null = fine. */
  timeProblem: (at: Date) => string | null;
  /** --no-amounts: ignore / do not require amount columns; orders are stored with amountKnown = false. */
  noAmounts: boolean;
}

const checkedWhen = (ctx: Pick<OrderRowContext, 'when' | 'timeProblem'>, text: string, field: string): Parsed<Date> => {
  const at = ctx.when(text, field);
  if (!at.ok) return at;
  const problem = ctx.timeProblem(at.value);
  return problem ? bad(`${field} ${quote(text)} ${problem}`) : at;
};

/** A customers-file row; created_at stays null when absent (the importer fills it in). */
export function parseCustomerRecord(
  fields: string[],
  width: number,
  cols: Columns<CustomerColumn>,
  ctx?: Pick<OrderRowContext, 'when' | 'timeProblem'>,
): Parsed<CustomerRow> {
  if (fields.length !== width) return bad(`expected ${width} fields, found ${fields.length}`);
  const reasons: string[] = [];
  const id = cell(fields, cols, 'customer_id');
  if (id === '') reasons.push('customer_id is missing');
  else if (!ID.test(id)) reasons.push('customer_id must be 1–200 characters without spaces');
  const email = cell(fields, cols, 'email');
  if (email !== '' && !EMAIL.test(email)) reasons.push(`email ${quote(email)} is not an email address`);
  let gender: string | null = null;
  const genderText = cell(fields, cols, 'gender');
  const g = genderText.toUpperCase();
  if (g === 'F' || g === 'FEMALE') gender = 'F';
  else if (g === 'M' || g === 'MALE') gender = 'M';
  else if (g === 'X' || g === 'OTHER') gender = 'X';
  else if (g !== '') reasons.push(`gender ${quote(genderText)} must be F, M, X or empty`);
  let birthDate: string | null = null;
  const birthText = cell(fields, cols, 'birth_date');
  if (birthText !== '') {
    const b = parseDay(birthText, 'birth_date');
    if (b.ok) birthDate = b.value;
    else reasons.push(b.reason);
  }
  const countryText = cell(fields, cols, 'country');
  const country = countryText.toUpperCase();
  if (country !== '' && !/^[A-Z]{2}$/.test(country)) reasons.push(`country ${quote(countryText)} is not an ISO-3166 alpha-2 code`);
  let createdAt: Date | null = null;
  const createdText = cell(fields, cols, 'created_at');
  if (createdText !== '') {
    const c = ctx ? checkedWhen(ctx, createdText, 'created_at') : parseTimestamp(createdText, 'created_at');
    if (c.ok) createdAt = c.value;
    else reasons.push(c.reason);
  }
  if (reasons.length > 0) return bad(reasons.join('; '));
  return ok({
    externalId: id,
    name: cell(fields, cols, 'name') || placeholderName(id),
    email: email || null,
    gender,
    birthDate,
    country: country || null,
    createdAt,
  });
}

const stamp = (at: Date) => at.toISOString().replace(/[-:.Z]/g, '');

/**
 * An orders-file CSV row. Without an order_id column the id is derived deterministically as
 * `<customer_id>-<ordered_at as yyyymmddThhmmssSSS>-<n>` (n = occurrence of that pair in the file, zero-padded to 6 digits so ids sort in file order),
 * by the caller through `occurrence`.
 */
export function parseOrderRecord(fields: string[], width: number, cols: Columns<OrderColumn>, line: number, ctx: OrderRowContext): Parsed<StagedLine> {
  if (fields.length !== width) return bad(`expected ${width} fields, found ${fields.length}`);
  const reasons: string[] = [];
  const customer = cell(fields, cols, 'customer_id');
  if (customer === '') reasons.push('customer_id is missing');
  else if (!ID.test(customer)) reasons.push('customer_id must be 1–200 characters without spaces');
  const orderId = cell(fields, cols, 'order_id');
  if (cols.order_id !== undefined) {
    if (orderId === '') reasons.push('order_id is missing');
    else if (!ID.test(orderId)) reasons.push('order_id must be 1–200 characters without spaces');
  }
  const at = checkedWhen(ctx, cell(fields, cols, 'ordered_at'), 'ordered_at');
  if (!at.ok) reasons.push(at.reason);
  const amount: Parsed<string | null> = ctx.noAmounts ? ok(null) : parseAmount(cell(fields, cols, 'amount'));
  if (!amount.ok) reasons.push(amount.reason);
  const items = cell(fields, cols, 'item_count') === '' ? ok(1) : parseCount(cell(fields, cols, 'item_count'));
  if (!items.ok) reasons.push(items.reason);
  const currency = cell(fields, cols, 'currency') || ctx.currency;
  if (!/^[A-Z]{3}$/.test(currency)) reasons.push(`currency ${quote(currency)} is not 3 upper-case letters`);
  const status = (cell(fields, cols, 'status') || 'paid') as OrderStatusValue;
  if (!STATUSES.includes(status)) reasons.push(`status ${quote(status)} must be one of ${STATUSES.join(', ')}`);
  if (reasons.length > 0 || !at.ok || !amount.ok || !items.ok) return bad(reasons.join('; '));
  let externalId = orderId;
  if (cols.order_id === undefined) {
    const key = `${customer}-${stamp(at.value)}`;
    externalId = `${key}-${String(ctx.occurrence(key)).padStart(6, '0')}`;
  }
  return ok({ line, externalId, customerExternalId: customer, orderedAt: at.value, amount: amount.value, unitPrice: null, quantity: items.value, currency, status });
}

/** Options of line-item exports (--format line-items). */
export interface LineItemOptions {
  /** Order ids starting with this are cancellations (UCI Online Retail: "C"). */
  cancelPrefix?: string;
  /** Skip (and count) lines without a customer id instead of refusing them. */
  skipMissingCustomer?: boolean;
}

/**
 * A line of a line-item export. The lines sharing an order id form one order (ingest/staging.ts
 * sums them). Without an order_id column, the lines of one customer at one ordered_at form one
 * order `<customer_id>-<yyyymmddThhmmssSSS>` (a basket log such as Member_number,Date,itemDescription).
 * Returns `null` for a line skipped because it has no customer id (with `skipMissingCustomer`).
 */
export function parseLineItemRecord(
  fields: string[],
  width: number,
  cols: Columns<LineItemColumn>,
  line: number,
  ctx: OrderRowContext,
  opts: LineItemOptions,
): Parsed<StagedLine | null> {
  if (fields.length !== width) return bad(`expected ${width} fields, found ${fields.length}`);
  const reasons: string[] = [];
  const customer = cell(fields, cols, 'customer_id');
  if (customer === '') {
    if (opts.skipMissingCustomer) return ok(null);
    reasons.push('customer_id is missing (--skip-missing-customer skips such lines and counts them)');
  } else if (!ID.test(customer)) reasons.push('customer_id must be 1–200 characters without spaces');
  const orderId = cell(fields, cols, 'order_id');
  if (cols.order_id !== undefined) {
    if (orderId === '') reasons.push('order_id is missing');
    else if (!ID.test(orderId)) reasons.push('order_id must be 1–200 characters without spaces');
  }
  const at = checkedWhen(ctx, cell(fields, cols, 'ordered_at'), 'ordered_at');
  if (!at.ok) reasons.push(at.reason);
  const quantity = cols.quantity === undefined ? ok(1) : parseQuantity(cell(fields, cols, 'quantity'));
  if (!quantity.ok) reasons.push(quantity.reason);
  let amount: Parsed<string | null> = ok(null);
  let unitPrice: Parsed<string | null> = ok(null);
  if (!ctx.noAmounts) {
    if (cols.line_amount !== undefined) amount = parseDecimal(cell(fields, cols, 'line_amount'), 'line_amount', { signed: true, maxDecimals: 4 });
    else unitPrice = parseDecimal(cell(fields, cols, 'unit_price'), 'unit_price', { maxDecimals: 4 });
  }
  if (!amount.ok) reasons.push(amount.reason);
  if (!unitPrice.ok) reasons.push(unitPrice.reason);
  const currency = cell(fields, cols, 'currency') || ctx.currency;
  if (!/^[A-Z]{3}$/.test(currency)) reasons.push(`currency ${quote(currency)} is not 3 upper-case letters`);
  if (reasons.length > 0 || !at.ok || !quantity.ok || !amount.ok || !unitPrice.ok) return bad(reasons.join('; '));
  const cancelled = opts.cancelPrefix !== undefined && opts.cancelPrefix !== '' && orderId.startsWith(opts.cancelPrefix);
  return ok({
    line,
    externalId: cols.order_id === undefined ? `${customer}-${stamp(at.value)}` : orderId,
    customerExternalId: customer,
    orderedAt: at.value,
    amount: amount.value,
    unitPrice: unitPrice.value,
    quantity: quantity.value,
    currency,
    status: cancelled ? 'refunded' : 'paid',
  });
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
export function parseCdnowRecord(fields: string[], line: number, ctx: OrderRowContext): Parsed<StagedLine> {
  if (fields.length !== 4 && fields.length !== 5) return bad(`expected 4 or 5 whitespace-separated fields, found ${fields.length}`);
  const [id, day, cds, dollars] = fields.length === 4 ? fields : [fields[0], fields[2], fields[3], fields[4]];
  const reasons: string[] = [];
  if (!/^[A-Za-z0-9_-]{1,100}$/.test(id)) reasons.push(`customer_id ${quote(id)} is not an identifier`);
  const at = parseCompactDay(day);
  if (!at.ok) reasons.push(at.reason);
  else {
    const problem = ctx.timeProblem(new Date(at.value.getTime() + CDNOW_TIME_OF_DAY_MS));
    if (problem) reasons.push(`date ${day} ${problem}`);
  }
  const items = parseCount(cds, 'number_of_cds');
  if (!items.ok) reasons.push(items.reason);
  const amount: Parsed<string | null> = ctx.noAmounts ? ok(null) : parseAmount(dollars, 'dollar_value');
  if (!amount.ok) reasons.push(amount.reason);
  if (reasons.length > 0 || !at.ok || !items.ok || !amount.ok) return bad(reasons.join('; '));
  const key = `${cdnowCustomerId(id)}-${day}`;
  return ok({
    line,
    externalId: `${key}-${String(ctx.occurrence(key)).padStart(6, '0')}`,
    customerExternalId: cdnowCustomerId(id),
    orderedAt: new Date(at.value.getTime() + CDNOW_TIME_OF_DAY_MS),
    amount: amount.value,
    unitPrice: null,
    quantity: items.value,
    currency: ctx.currency,
    status: 'paid',
  });
}

/** Is this CDNOW line the master file's header? */
export const isCdnowHeader = (fields: string[]) => fields[0] === 'customer_id';
