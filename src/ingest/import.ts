// Bulk import of real transaction logs, all-or-nothing per run.
//
//  1. Validation pass (streaming, nothing written): every row of the customers file and the orders
//     file is checked; bad rows are collected as `FILE:LINE: reason` (the first `maxErrors`, plus a
//     count). Orders' customers must be in the customers file or already in the database; when no
//     customers file is given (e.g. CDNOW) unknown customers are created with a placeholder name
//     (`Customer <id>`) and createdAt = their first order time.
//  2. If any row is bad: ImportError, the database is untouched.
//  3. Insert pass: the files are streamed again and written in batches inside ONE interactive
//     transaction, so a failure midway leaves nothing behind. `dryRun` runs it all and rolls back.
//
// Idempotent: rows are keyed by externalId (ON CONFLICT DO NOTHING); re-importing a file inserts
// nothing new. Existing customers are not updated. Order ids come from the file (order_id) or are
// derived deterministically (see parse.ts), so the same file always yields the same ids.
import path from 'node:path';
import type { Database } from '../db/client.js';
import {
  DEFAULT_BATCH_SIZE,
  conflictingEmails,
  existingCustomerIds,
  insertCustomerBatch,
  insertOrderBatch,
  type CustomerRow,
  type OrderRow,
  type RawSqlClient,
} from './bulk.js';
import { CUSTOMER_COLUMNS, ORDER_COLUMNS } from './format.js';
import {
  FileSyntaxError,
  detectFormat,
  isCdnowHeader,
  parseCdnowRecord,
  parseCustomerRecord,
  parseOrderRecord,
  placeholderName,
  readCsv,
  readWhitespace,
  resolveColumns,
  type ColumnMap,
  type Columns,
  type CustomerColumn,
  type ImportFormat,
  type OrderColumn,
  type Parsed,
} from './parse.js';

export type { ImportFormat, ColumnMap } from './parse.js';

export interface ImportOptions {
  /** Orders file (CSV with a header, or CDNOW). */
  orders: string;
  /** Optional customers CSV file. */
  customers?: string;
  /** Orders file format; detected from its first line when absent. */
  format?: ImportFormat;
  /** Target column → column name in the files, e.g. { customer_id: 'client', amount: 'total' }. */
  map?: ColumnMap;
  /** Currency of orders without one (CDNOW, or an empty/missing currency column). Default USD. */
  currency?: string;
  /** Validate and run the inserts, then roll back. */
  dryRun?: boolean;
  /** Rows per INSERT statement (default 5,000). */
  batchSize?: number;
  /** Bad rows listed in the error (default 100); all are counted. */
  maxErrors?: number;
  /** Called about every `progressIntervalMs` (default 1,000) during each pass. */
  onProgress?: (progress: ImportProgress) => void;
  progressIntervalMs?: number;
}

export type ImportPhase = 'validating customers' | 'validating orders' | 'inserting customers' | 'inserting orders';

export interface ImportProgress {
  phase: ImportPhase;
  file: string;
  rows: number;
  rowsPerSecond: number;
}

export interface ImportSummary {
  format: ImportFormat;
  dryRun: boolean;
  customerRowsRead: number;
  orderRowsRead: number;
  /** New customers (from the customers file and placeholders). */
  customersInserted: number;
  /** Customers (file rows or referenced by orders) that were already in the database. */
  customersExisting: number;
  /** How many of the inserted customers got a placeholder name (orders-only imports). */
  placeholderCustomers: number;
  ordersInserted: number;
  /** Orders already in the database (or repeated in the file): skipped. */
  ordersSkipped: number;
  seconds: number;
}

export interface RowError {
  file: string;
  line: number;
  reason: string;
}

/** The import was refused: some rows are bad (or the files are unusable). Nothing was written. */
export class ImportError extends Error {
  override name = 'ImportError';
  constructor(
    readonly errors: RowError[],
    readonly errorCount: number,
  ) {
    const listed = errors.map((e) => `${e.file}:${e.line}: ${e.reason}`);
    const more = errorCount > errors.length ? [`… and ${errorCount - errors.length} more`] : [];
    super([...listed, ...more, `${errorCount} bad row${errorCount === 1 ? '' : 's'}; nothing was imported.`].join('\n'));
  }
}

class Rollback extends Error {}

const TARGETS = new Set<string>([...CUSTOMER_COLUMNS, ...ORDER_COLUMNS]);

/** Parses `target=source,target=source` (the CLI's --map). */
export function parseColumnMap(spec: string): ColumnMap {
  const map: ColumnMap = {};
  for (const part of spec.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^([^=]+)=(.+)$/.exec(part);
    if (!m) throw new Error(`--map: expected target=source, got ${JSON.stringify(part)}`);
    const target = m[1].trim();
    if (!TARGETS.has(target)) throw new Error(`--map: unknown column ${JSON.stringify(target)} (known: ${[...TARGETS].join(', ')})`);
    map[target] = m[2].trim();
  }
  return map;
}

function progressTicker(options: ImportOptions, phase: ImportPhase, file: string) {
  const interval = options.progressIntervalMs ?? 1_000;
  const started = performance.now();
  let last = started;
  let rows = 0;
  const emit = () => {
    const now = performance.now();
    options.onProgress?.({ phase, file, rows, rowsPerSecond: rows / Math.max((now - started) / 1000, 1e-9) });
    last = now;
  };
  return {
    tick() {
      rows += 1;
      if (options.onProgress && (rows & 1023) === 0 && performance.now() - last >= interval) emit();
    },
    done() {
      if (options.onProgress && rows > 0) emit();
    },
  };
}

/** One customer referenced by the orders: where first seen and the earliest order time. */
interface CustomerRef {
  line: number;
  firstOrderAt: number;
}

interface OrdersReader {
  format: ImportFormat;
  /** Streams the orders file; calls `row` for every data row (valid or not). */
  read(row: (line: number, parsed: Parsed<OrderRow>) => void | Promise<void>): Promise<void>;
}

function ordersReader(file: string, format: ImportFormat, options: ImportOptions, fail: (line: number, reason: string) => void): OrdersReader {
  const currency = options.currency ?? 'USD';
  return {
    format,
    async read(row) {
      const counts = new Map<string, number>();
      const occurrence = (key: string) => {
        const n = (counts.get(key) ?? 0) + 1;
        counts.set(key, n);
        return n;
      };
      if (format === 'cdnow') {
        let first = true;
        for await (const r of readWhitespace(file)) {
          if (first && isCdnowHeader(r.fields)) {
            first = false;
            continue;
          }
          first = false;
          await row(r.line, parseCdnowRecord(r.fields, currency, occurrence));
        }
        return;
      }
      let cols: Columns<OrderColumn> | undefined;
      let width = 0;
      for await (const r of readCsv(file)) {
        if (cols === undefined) {
          const c = resolveColumns<OrderColumn>(r.fields, ORDER_COLUMNS, ['customer_id', 'ordered_at', 'amount'], options.map ?? {});
          if (!c.ok) return fail(r.line, c.reason);
          cols = c.value;
          width = r.fields.length;
          continue;
        }
        await row(r.line, parseOrderRecord(r.fields, width, cols, { currency }, occurrence));
      }
      if (cols === undefined) fail(1, 'the file is empty (a header line is required)');
    },
  };
}

async function readCustomers(
  file: string,
  options: ImportOptions,
  fail: (line: number, reason: string) => void,
  row: (line: number, parsed: Parsed<CustomerRow>) => void | Promise<void>,
): Promise<void> {
  let cols: Columns<CustomerColumn> | undefined;
  let width = 0;
  for await (const r of readCsv(file)) {
    if (cols === undefined) {
      const c = resolveColumns<CustomerColumn>(r.fields, CUSTOMER_COLUMNS, ['customer_id'], options.map ?? {});
      if (!c.ok) return fail(r.line, c.reason);
      cols = c.value;
      width = r.fields.length;
      continue;
    }
    await row(r.line, parseCustomerRecord(r.fields, width, cols));
  }
  if (cols === undefined) fail(1, 'the file is empty (a header line is required)');
}

/** Runs a validation pass; a file that cannot be parsed further becomes one more bad row. */
async function syntaxChecked(fail: (line: number, reason: string) => void, pass: () => Promise<void>): Promise<void> {
  try {
    await pass();
  } catch (err) {
    if (!(err instanceof FileSyntaxError)) throw err;
    fail(err.line, err.message);
  }
}

/** Validates and imports the files; throws ImportError (nothing written) on any bad row. */
export async function importFiles(db: Pick<Database, 'prisma'>, options: ImportOptions): Promise<ImportSummary> {
  const started = performance.now();
  const maxErrors = options.maxErrors ?? 100;
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  const currency = options.currency ?? 'USD';
  if (!/^[A-Z]{3}$/.test(currency)) throw new ImportError([{ file: '--currency', line: 0, reason: `${JSON.stringify(currency)} is not 3 upper-case letters` }], 1);
  const errors: RowError[] = [];
  let errorCount = 0;
  const failIn = (file: string) => (line: number, reason: string) => {
    errorCount += 1;
    if (errors.length < maxErrors) errors.push({ file, line, reason });
  };
  const name = (f: string) => path.relative(process.cwd(), f) || f;
  const ordersName = name(options.orders);
  const customersName = options.customers ? name(options.customers) : undefined;
  const failOrders = failIn(ordersName);
  const failCustomers = failIn(customersName ?? '');

  let format: ImportFormat;
  try {
    format = options.format ?? (await detectFormat(options.orders));
  } catch (err) {
    throw new ImportError([{ file: ordersName, line: 1, reason: (err as Error).message.replace(/^.*?: /, '') }], 1);
  }
  const summary: ImportSummary = {
    format,
    dryRun: options.dryRun ?? false,
    customerRowsRead: 0,
    orderRowsRead: 0,
    customersInserted: 0,
    customersExisting: 0,
    placeholderCustomers: 0,
    ordersInserted: 0,
    ordersSkipped: 0,
    seconds: 0,
  };

  // ── pass 1: validate ──────────────────────────────────────────────────────────────────────────
  const fileCustomers = new Map<string, number>(); // externalId → line
  const emails = new Map<string, { line: number; externalId: string }>();
  if (options.customers) {
    const ticker = progressTicker(options, 'validating customers', customersName!);
    await syntaxChecked(failCustomers, () => readCustomers(options.customers!, options, failCustomers, (line, parsed) => {
      ticker.tick();
      summary.customerRowsRead += 1;
      if (!parsed.ok) return failCustomers(line, parsed.reason);
      const c = parsed.value;
      const seen = fileCustomers.get(c.externalId);
      if (seen !== undefined) return failCustomers(line, `duplicate customer_id ${JSON.stringify(c.externalId)} (first at line ${seen})`);
      if (c.email !== null) {
        const e = emails.get(c.email);
        if (e !== undefined) return failCustomers(line, `email ${c.email} is also used at line ${e.line}`);
        emails.set(c.email, { line, externalId: c.externalId });
      }
      fileCustomers.set(c.externalId, line);
    }));
    ticker.done();
  }

  const refs = new Map<string, CustomerRef>();
  const reader = ordersReader(options.orders, format, options, failOrders);
  {
    const ticker = progressTicker(options, 'validating orders', ordersName);
    await syntaxChecked(failOrders, () => reader.read((line, parsed) => {
      ticker.tick();
      summary.orderRowsRead += 1;
      if (!parsed.ok) return failOrders(line, parsed.reason);
      const o = parsed.value;
      const ref = refs.get(o.customerExternalId);
      const at = o.orderedAt.getTime();
      if (ref === undefined) refs.set(o.customerExternalId, { line, firstOrderAt: at });
      else if (at < ref.firstOrderAt) ref.firstOrderAt = at;
    }));
    ticker.done();
  }

  // Customers only the orders mention.
  const unknown = [...refs.keys()].filter((id) => !fileCustomers.has(id));
  if (options.customers) {
    const existing = await existingCustomerIds(db.prisma, unknown);
    for (const id of unknown) {
      if (!existing.has(id)) failOrders(refs.get(id)!.line, `customer ${JSON.stringify(id)} is neither in ${customersName} nor in the database`);
    }
    if (emails.size > 0) {
      const pairs = [...emails.entries()].map(([email, v]) => ({ email, externalId: v.externalId }));
      for (const [email, owner] of await conflictingEmails(db.prisma, pairs)) {
        failCustomers(emails.get(email)!.line, `email ${email} already belongs to customer ${JSON.stringify(owner)} in the database`);
      }
    }
  }
  if (errorCount > 0) {
    errors.sort((a, b) => (a.file === b.file ? a.line - b.line : a.file === customersName ? -1 : 1));
    throw new ImportError(errors, errorCount);
  }

  // ── pass 2: insert, in one transaction ────────────────────────────────────────────────────────
  const run = async (tx: RawSqlClient) => {
    let customerRows = 0;
    let batch: CustomerRow[] = [];
    const flushCustomers = async () => {
      summary.customersInserted += await insertCustomerBatch(tx, batch);
      batch = [];
    };
    if (options.customers) {
      const ticker = progressTicker(options, 'inserting customers', customersName!);
      await readCustomers(options.customers, options, failCustomers, async (line, parsed) => {
        ticker.tick();
        if (!parsed.ok) throw new Error(`${customersName}:${line}: ${parsed.reason} (the file changed during the import)`);
        const c = parsed.value;
        const first = refs.get(c.externalId)?.firstOrderAt;
        batch.push(c.createdAt === null && first !== undefined ? { ...c, createdAt: new Date(first) } : c);
        customerRows += 1;
        if (batch.length >= batchSize) await flushCustomers();
      });
      await flushCustomers();
      ticker.done();
    } else {
      const fileInsertedBefore = summary.customersInserted;
      for (const id of unknown) {
        batch.push({
          externalId: id,
          name: placeholderName(id),
          email: null,
          gender: null,
          birthDate: null,
          country: null,
          createdAt: new Date(refs.get(id)!.firstOrderAt),
        });
        customerRows += 1;
        if (batch.length >= batchSize) await flushCustomers();
      }
      await flushCustomers();
      summary.placeholderCustomers = summary.customersInserted - fileInsertedBefore;
    }
    // Customers referenced by orders but only existing in the database count as existing too.
    const referencedOnly = options.customers ? unknown.length : 0;
    summary.customersExisting = customerRows + referencedOnly - summary.customersInserted;

    let orders: OrderRow[] = [];
    const flushOrders = async () => {
      summary.ordersInserted += await insertOrderBatch(tx, orders);
      orders = [];
    };
    const ticker = progressTicker(options, 'inserting orders', ordersName);
    await reader.read(async (line, parsed) => {
      ticker.tick();
      if (!parsed.ok) throw new Error(`${ordersName}:${line}: ${parsed.reason} (the file changed during the import)`);
      orders.push(parsed.value);
      if (orders.length >= batchSize) await flushOrders();
    });
    await flushOrders();
    ticker.done();
    summary.ordersSkipped = summary.orderRowsRead - summary.ordersInserted;
    if (options.dryRun) throw new Rollback();
  };

  try {
    await db.prisma.$transaction((tx) => run(tx), { timeout: 6 * 3_600_000, maxWait: 60_000 });
  } catch (err) {
    if (!(err instanceof Rollback)) throw err;
  }
  summary.seconds = (performance.now() - started) / 1000;
  return summary;
}
