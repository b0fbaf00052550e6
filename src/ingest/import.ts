// Bulk import of real transaction logs, all-or-nothing per run.
//
//  1. The files are inspected first: compressed, archived or binary input is refused (file error).
//  2. In ONE transaction (ingest/session.ts): each file is streamed through a synchronous CSV scan
//     (parse.ts) and the row validators; every valid row goes, with its line number, into a
//     temporary staging table by COPY (PostgreSQL: FROM STDIN while the file is still being read;
//     embedded: FROM '/dev/blob' in blocks; through the server's socket: batched INSERTs). Memory
//     does not grow with the file. Bad rows are collected as `FILE:LINE: reason` (the first
//     `maxErrors`, plus a count).
//  3. Set-based SQL checks what one row cannot show, each answer carrying its line (staging.ts):
//     repeated customer ids and emails, emails owned by another customer, orders whose customer is
//     neither in the customers file nor in the database, an order id repeated with other content
//     or already in the database with other content (as recordOrder's IDEMPOTENCY_CONFLICT).
//     A merge into an empty table (a first import) drops that table's secondary indexes and
//     foreign keys and rebuilds them after the insert, in the same transaction (staging.ts, bulkLoad).
//     Without a customers file (e.g. CDNOW) unknown customers get a placeholder name
//     (`Customer <id>`) and createdAt = their first order time.
//  4. Any error: ImportError, the transaction rolls back, the database is untouched (kill -9 too:
//     nothing was committed). Otherwise customers, then orders are merged by one INSERT … SELECT
//     each, and the transaction commits. `dryRun` runs it all and rolls back.
//
// Idempotent: rows are keyed by externalId; re-importing a file inserts nothing new, and identical
// repeats are skipped. Existing customers are not updated. Order ids come from the file
// (order_id) or are derived deterministically (see parse.ts), so the same file yields the same ids.
// Order times obey the API's bounds (db/rules.ts, ORDER_FUTURE_TOLERANCE_SECONDS).
import path from 'node:path';
import { loadConfig } from '../config.js';
import type { Database } from '../db/client.js';
import { orderTimeProblem } from '../db/rules.js';
import type { CustomerRow } from './bulk.js';
import { checkTimeZone, dateParser, wallClockToInstant } from './dates.js';
import { CUSTOMER_COLUMNS, ORDER_COLUMNS } from './format.js';
import {
  FileSyntaxError,
  LINE_ITEM_COLUMNS,
  formatOf,
  inspectFile,
  isCdnowHeader,
  parseCdnowRecord,
  parseCustomerRecord,
  parseLineItemRecord,
  parseOrderRecord,
  parseTimestamp,
  quote,
  scanCsv,
  scanWhitespace,
  resolveColumns,
  type ColumnMap,
  type Columns,
  type CustomerColumn,
  type ImportFormat,
  type LineItemColumn,
  type OrderColumn,
  type OrderRowContext,
  type Parsed,
  type StagedLine,
  type WhenParser,
} from './parse.js';
import { withImportTransaction, type ImportSql, type StagingMethod } from './session.js';
import {
  CUSTOMER_STAGING_COLUMNS,
  LINE_COLUMNS,
  buildOrders,
  bulkLoad,
  conflictsInFile,
  conflictsWithDatabase,
  createStaging,
  customerEmailsTaken,
  customerRepeats,
  customerValues,
  insertPlaceholderCustomers,
  insertStagedCustomers,
  insertStagedOrders,
  lineValues,
  oversizedOrders,
  unknownCustomers,
  type Found,
} from './staging.js';

export type { ImportFormat, ColumnMap } from './parse.js';

export interface ImportOptions {
  /** Orders file (CSV with a header, a line-item CSV export, or CDNOW). */
  orders: string;
  /** Optional customers CSV file. */
  customers?: string;
  /** Orders file format; csv or cdnow is detected from its first line when absent. */
  format?: ImportFormat;
  /** Target column → column name in the files, e.g. { customer_id: 'client', amount: 'total' }. */
  map?: ColumnMap;
  /** Currency of orders without one (CDNOW, or an empty/missing currency column). Default USD. */
  currency?: string;
  /** Format of ordered_at / created_at (moment-style tokens, e.g. DD-MM-YYYY); default ISO 8601. */
  dateFormat?: string;
  /** IANA zone of times written without an offset (default UTC). */
  timeZone?: string;
  /** The file has no amounts: none are required or read; orders are stored with amountKnown = false. */
  noAmounts?: boolean;
  /** Line items: order ids starting with this are cancellations (refunds), e.g. "C". */
  cancelPrefix?: string;
  /** Line items: skip lines without a customer id (counted) instead of refusing them. */
  skipMissingCustomer?: boolean;
  /** Seconds an order may lie in the future (default: the configured ORDER_FUTURE_TOLERANCE_SECONDS). */
  futureToleranceSeconds?: number;
  /** The present, for the future bound (tests). */
  now?: Date;
  /** Validate and run the inserts, then roll back. */
  dryRun?: boolean;
  /** Rows per staging INSERT where COPY is not available (through the server's socket; default 5,000). */
  batchSize?: number;
  /** Bad rows listed in the error (default 100); all are counted. */
  maxErrors?: number;
  /** Called about every `progressIntervalMs` (default 1,000) during each pass. */
  onProgress?: (progress: ImportProgress) => void;
  progressIntervalMs?: number;
}

export type ImportPhase = 'validating customers' | 'validating orders' | 'checking' | 'inserting customers' | 'inserting orders';

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
  /** Data rows (lines) of the orders file. */
  orderRowsRead: number;
  /** Distinct orders in the file (line items: after grouping lines into orders). */
  ordersInFile: number;
  /** New customers (from the customers file and placeholders). */
  customersInserted: number;
  /** Customers (file rows or referenced by orders) that were already in the database. */
  customersExisting: number;
  /** How many of the inserted customers got a placeholder name (orders-only imports). */
  placeholderCustomers: number;
  ordersInserted: number;
  /** Orders already in the database with identical content: skipped. */
  ordersExisting: number;
  /** Rows repeating an earlier row of the file identically (plain orders files): skipped. */
  duplicateRows: number;
  /** Line items without a customer id, skipped with --skip-missing-customer. */
  rowsWithoutCustomer: number;
  /** Orders stored without an amount (--no-amounts). */
  amountsKnown: boolean;
  /** How rows reached the staging tables (ingest/session.ts). */
  stagingMethod?: StagingMethod;
  seconds: number;
  /** Seconds per step: reading (parse, validate and stage) each file, the set-based checks, each merge, the commit. */
  steps: Partial<Record<'customers file' | 'orders file' | 'checks' | 'customers merge' | 'orders merge' | 'commit', number>>;
}

export interface RowError {
  file: string;
  /** 1-based line; 0 = the file as a whole. */
  line: number;
  reason: string;
  /** A problem of the file itself (not readable, binary, its header), not of a row. */
  fileError?: boolean;
}

/** The import was refused: some rows are bad (or the files are unusable). Nothing was written. */
export class ImportError extends Error {
  override name = 'ImportError';
  constructor(
    readonly errors: RowError[],
    readonly errorCount: number,
    readonly fileErrorCount = errors.filter((e) => e.fileError).length,
  ) {
    const listed = errors.map((e) => (e.line > 0 ? `${e.file}:${e.line}: ${e.reason}` : `${e.file}: ${e.reason}`));
    const more = errorCount > errors.length ? [`… and ${errorCount - errors.length} more`] : [];
    const rows = errorCount - fileErrorCount;
    const counts = [
      ...(fileErrorCount > 0 ? [`${fileErrorCount} file error${fileErrorCount === 1 ? '' : 's'}`] : []),
      ...(rows > 0 || fileErrorCount === 0 ? [`${rows} bad row${rows === 1 ? '' : 's'}`] : []),
    ];
    super([...listed, ...more, `${counts.join(', ')}; nothing was imported.`].join('\n'));
  }
}

class Rollback extends Error {}

const TARGETS = new Set<string>([...CUSTOMER_COLUMNS, ...ORDER_COLUMNS, ...LINE_ITEM_COLUMNS]);

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
    /** Reports the phase as started (0 rows so far). */
    begin() {
      options.onProgress?.({ phase, file, rows: 0, rowsPerSecond: 0 });
    },
    tick() {
      rows += 1;
      if (options.onProgress && (rows & 1023) === 0 && performance.now() - last >= interval) emit();
    },
    done() {
      if (options.onProgress && rows > 0) emit();
    },
    /** A set-based step is over: it handled `n` rows. */
    finished(n: number) {
      rows = n;
      if (n > 0) emit();
    },
  };
}

type Fail = (line: number, reason: string) => void;

/** Reads ordered_at / created_at as the options say: ISO 8601 (zone-less = --timezone) or --date-format. */
function whenParser(options: ImportOptions): WhenParser {
  const zone = checkTimeZone(options.timeZone ?? 'UTC');
  if (options.dateFormat !== undefined) {
    const parseWith = dateParser(options.dateFormat, zone);
    return (text, field) => {
      if (text === '') return { ok: false, reason: `${field} is missing` };
      const at = parseWith(text);
      return at ? { ok: true, value: at } : { ok: false, reason: `${field} ${quote(text)} does not match --date-format ${options.dateFormat}${zone === 'UTC' ? '' : ` (in ${zone})`}` };
    };
  }
  if (zone === 'UTC') return (text, field) => parseTimestamp(text, field);
  const localToUtc = wallClockToInstant(zone);
  return (text, field) => parseTimestamp(text, field, localToUtc);
}

/** Ends a scan early (a header the rest of the file cannot be read with). */
class StopScan extends Error {}

const stopping = async (scan: Promise<void>) => {
  try {
    await scan;
  } catch (err) {
    if (!(err instanceof StopScan)) throw err;
  }
};

/** Streams the orders file: calls `row` for every data row (valid or not; null = skipped line). */
async function readOrders(
  file: string,
  format: ImportFormat,
  options: ImportOptions,
  ctx: OrderRowContext,
  failHeader: Fail,
  row: (line: number, parsed: Parsed<StagedLine | null>) => void | Promise<void>,
): Promise<void> {
  if (format === 'cdnow') {
    let first = true;
    return scanWhitespace(file, (line, fields) => {
      if (first && isCdnowHeader(fields)) {
        first = false;
        return;
      }
      first = false;
      return row(line, parseCdnowRecord(fields, line, ctx));
    });
  }
  const map = options.map ?? {};
  let parseRow: ((fields: string[], line: number) => Parsed<StagedLine | null>) | undefined;
  const header = (line: number, fields: string[]) => {
    const width = fields.length;
    if (format === 'line-items') {
      const required: LineItemColumn[] = ['customer_id', 'ordered_at'];
      const c = resolveColumns<LineItemColumn>(fields, LINE_ITEM_COLUMNS, required, map);
      if (!c.ok) throw (failHeader(line, c.reason), new StopScan());
      const cols: Columns<LineItemColumn> = c.value;
      if (!ctx.noAmounts && cols.unit_price === undefined && cols.line_amount === undefined) {
        failHeader(line, `a line-item file needs a "unit_price" or a "line_amount" column (map one with --map, or pass --no-amounts); found: ${fields.slice(0, 12).map((h) => quote(h)).join(', ')}`);
        throw new StopScan();
      }
      const lineOptions = { cancelPrefix: options.cancelPrefix, skipMissingCustomer: options.skipMissingCustomer };
      parseRow = (f, l) => parseLineItemRecord(f, width, cols, l, ctx, lineOptions);
    } else {
      const required: OrderColumn[] = ctx.noAmounts ? ['customer_id', 'ordered_at'] : ['customer_id', 'ordered_at', 'amount'];
      const c = resolveColumns<OrderColumn>(fields, ORDER_COLUMNS, required, map);
      if (!c.ok) throw (failHeader(line, c.reason), new StopScan());
      const cols: Columns<OrderColumn> = c.value;
      parseRow = (f, l) => parseOrderRecord(f, width, cols, l, ctx);
    }
  };
  let empty = true;
  await stopping(
    scanCsv(file, (line, fields) => {
      empty = false;
      if (parseRow === undefined) return header(line, fields);
      return row(line, parseRow(fields, line));
    }),
  );
  if (empty) failHeader(1, 'the file is empty (a header line is required)');
}

async function readCustomers(
  file: string,
  options: ImportOptions,
  ctx: Pick<OrderRowContext, 'when' | 'timeProblem'>,
  failHeader: Fail,
  row: (line: number, parsed: Parsed<CustomerRow>) => void | Promise<void>,
): Promise<void> {
  let cols: Columns<CustomerColumn> | undefined;
  let width = 0;
  let empty = true;
  await stopping(
    scanCsv(file, (line, fields) => {
      empty = false;
      if (cols === undefined) {
        const c = resolveColumns<CustomerColumn>(fields, CUSTOMER_COLUMNS, ['customer_id'], options.map ?? {});
        if (!c.ok) throw (failHeader(line, c.reason), new StopScan());
        cols = c.value;
        width = fields.length;
        return;
      }
      return row(line, parseCustomerRecord(fields, width, cols, ctx));
    }),
  );
  if (empty) failHeader(1, 'the file is empty (a header line is required)');
}

/** Runs a validation pass; a file that cannot be parsed further is a file error at that line. */
async function syntaxChecked(failFile: Fail, pass: () => Promise<void>): Promise<void> {
  try {
    await pass();
  } catch (err) {
    if (!(err instanceof FileSyntaxError)) throw err;
    failFile(err.line, err.message);
  }
}

/**
 * The input files as files: they exist and are plain text (not gzip, ZIP/xlsx, UTF-16 or binary).
 * Throws ImportError with file errors; returns the orders file's first line (format detection).
 * The CLI runs it before opening the database; importFiles runs it again.
 */
export async function checkInputFiles(options: Pick<ImportOptions, 'orders' | 'customers'>): Promise<string> {
  const name = (f: string) => path.relative(process.cwd(), f) || f;
  const errors: RowError[] = [];
  const orders = await inspectFile(options.orders);
  if (!orders.ok) errors.push({ file: name(options.orders), line: 0, reason: orders.reason, fileError: true });
  if (options.customers) {
    const customers = await inspectFile(options.customers);
    if (!customers.ok) errors.push({ file: name(options.customers), line: 0, reason: customers.reason, fileError: true });
  }
  if (errors.length > 0 || !orders.ok) throw new ImportError(errors, errors.length, errors.length);
  return orders.firstLine;
}

/** Validates and imports the files; throws ImportError (nothing written) on any bad row. */
export async function importFiles(db: Pick<Database, 'bulk'>, options: ImportOptions): Promise<ImportSummary> {
  const started = performance.now();
  const maxErrors = options.maxErrors ?? 100;
  const currency = options.currency ?? 'USD';
  if (!/^[A-Z]{3}$/.test(currency)) throw new ImportError([{ file: '--currency', line: 0, reason: `${quote(currency)} is not 3 upper-case letters`, fileError: true }], 1);
  const errors: RowError[] = [];
  let errorCount = 0;
  let fileErrorCount = 0;
  const failIn =
    (file: string, fileError = false): Fail =>
    (line, reason) => {
      errorCount += 1;
      if (fileError) fileErrorCount += 1;
      if (errors.length < maxErrors) errors.push({ file, line, reason, ...(fileError ? { fileError } : {}) });
    };
  const name = (f: string) => path.relative(process.cwd(), f) || f;
  const ordersName = name(options.orders);
  const customersName = options.customers ? name(options.customers) : undefined;
  const failOrders = failIn(ordersName);
  const failCustomers = failIn(customersName ?? '');
  const refuse = () => {
    errors.sort((a, b) => (a.file === b.file ? a.line - b.line : a.file === customersName ? -1 : 1));
    return new ImportError(errors, errorCount, fileErrorCount);
  };

  // ── the files themselves ───────────────────────────────────────────────────────────────────────
  const firstLine = await checkInputFiles(options);
  let format: ImportFormat;
  if (options.format) format = options.format;
  else {
    const detected = formatOf(firstLine);
    if (detected === null) throw (failIn(ordersName, true)(1, 'cannot detect the format (neither CSV with a header nor CDNOW); pass --format csv|cdnow|line-items'), refuse());
    format = detected;
  }
  const failOrdersFile = failIn(ordersName, true);
  const failCustomersFile = failIn(customersName ?? '', true);
  const headerError = (fail: Fail): Fail => (line, reason) => fail(line, `header: ${reason}`);

  const tolerance = options.futureToleranceSeconds ?? loadConfig().ORDER_FUTURE_TOLERANCE_SECONDS;
  const now = (options.now ?? new Date()).getTime();
  const counts = new Map<string, number>();
  const ctx: OrderRowContext = {
    currency,
    occurrence: (key) => {
      const n = (counts.get(key) ?? 0) + 1;
      counts.set(key, n);
      return n;
    },
    when: whenParser(options),
    timeProblem: (at) => orderTimeProblem(at, tolerance, now),
    noAmounts: options.noAmounts ?? false,
  };
  const summary: ImportSummary = {
    format,
    dryRun: options.dryRun ?? false,
    customerRowsRead: 0,
    orderRowsRead: 0,
    ordersInFile: 0,
    customersInserted: 0,
    customersExisting: 0,
    placeholderCustomers: 0,
    ordersInserted: 0,
    ordersExisting: 0,
    duplicateRows: 0,
    rowsWithoutCustomer: 0,
    amountsKnown: !ctx.noAmounts,
    seconds: 0,
    steps: {},
  };
  let stepStart = performance.now();
  const step = (name: keyof ImportSummary['steps']) => {
    const now = performance.now();
    summary.steps[name] = (now - stepStart) / 1000;
    stepStart = now;
  };

  // ── one transaction: stage both files (COPY), check them set-based, then merge ─────────────────
  const run = async (sql: ImportSql) => {
    const startMs = Date.now();
    summary.stagingMethod = sql.method;
    await createStaging(sql);
    const room = () => Math.max(maxErrors - errors.length, 1);
    const report = (fail: Fail, { conflicts, total }: Found) => {
      for (const c of conflicts) fail(c.line, c.reason);
      errorCount += total - conflicts.length;
    };

    // Customers file: every valid row is staged with its line; rows with bad fields are listed.
    if (options.customers) {
      const ticker = progressTicker(options, 'validating customers', customersName!);
      const out = sql.writer('import_customer', CUSTOMER_STAGING_COLUMNS);
      await syntaxChecked(failCustomersFile, () =>
        readCustomers(options.customers!, options, ctx, headerError(failCustomersFile), (line, parsed) => {
          ticker.tick();
          summary.customerRowsRead += 1;
          if (!parsed.ok) return failCustomers(line, parsed.reason);
          return out.row(customerValues(line, parsed.value));
        }),
      );
      await out.end();
      ticker.done();
      step('customers file');
    }

    // Orders file, likewise.
    const ticker = progressTicker(options, 'validating orders', ordersName);
    const out = sql.writer('import_line', LINE_COLUMNS);
    await syntaxChecked(failOrdersFile, () =>
      readOrders(options.orders, format, options, ctx, headerError(failOrdersFile), (line, parsed) => {
        ticker.tick();
        summary.orderRowsRead += 1;
        if (!parsed.ok) return failOrders(line, parsed.reason);
        if (parsed.value === null) return void (summary.rowsWithoutCustomer += 1);
        return out.row(lineValues(parsed.value));
      }),
    );
    await out.end();
    ticker.done();
    counts.clear();
    step('orders file');

    // Set-based checks (also when some rows were bad, so that one run lists every problem).
    const checking = progressTicker(options, 'checking', ordersName);
    checking.begin();
    const lineItems = format === 'line-items';
    if (options.customers) {
      report(failCustomers, await customerRepeats(sql, room()));
      report(failOrders, await unknownCustomers(sql, customersName!, room()));
      report(failCustomers, await customerEmailsTaken(sql, room()));
    }
    const built = await buildOrders(sql, lineItems);
    if (built.lines > built.count) report(failOrders, await conflictsInFile(sql, lineItems, room()));
    if (lineItems) report(failOrders, await oversizedOrders(sql, room()));
    report(failOrders, await conflictsWithDatabase(sql, built.orders, room()));
    step('checks');
    if (errorCount > 0) throw refuse();
    summary.ordersInFile = built.count;
    summary.duplicateRows = lineItems ? 0 : built.lines - built.count;

    // Merge: customers (from the file, or placeholders for ids not yet in the database), then orders.
    const merging = progressTicker(options, 'inserting customers', customersName ?? ordersName);
    merging.begin();
    // Into an empty table: without its secondary indexes and foreign keys, rebuilt afterwards (bulkLoad).
    const customersBulk = await bulkLoad(sql, 'Customer');
    const into = customersBulk ? 'empty' : 'merge';
    const merged = options.customers ? await insertStagedCustomers(sql, startMs, into) : await insertPlaceholderCustomers(sql, startMs, into);
    await customersBulk?.rebuild();
    summary.customersInserted = merged.inserted;
    if (!options.customers) summary.placeholderCustomers = merged.inserted;
    // Customers referenced by orders but only existing in the database count as existing too.
    summary.customersExisting = merged.rows + merged.referencedOnly - merged.inserted;
    step('customers merge');

    const inserting = progressTicker(options, 'inserting orders', ordersName);
    // The set-based insert is one statement: say that it has begun, or a terminal shows nothing
    // until it is over (and the phase's line would only appear just before the commit).
    inserting.begin();
    const ordersBulk = await bulkLoad(sql, 'Order');
    summary.ordersInserted = await insertStagedOrders(sql, built.orders, startMs, ordersBulk ? 'empty' : 'merge');
    await ordersBulk?.rebuild();
    inserting.finished(summary.ordersInserted);
    summary.ordersExisting = summary.ordersInFile - summary.ordersInserted;
    step('orders merge');
    if (options.dryRun) throw new Rollback();
  };

  try {
    await withImportTransaction(db.bulk, run, { insertBatchRows: options.batchSize });
    step('commit');
  } catch (err) {
    if (!(err instanceof Rollback)) throw err;
  }
  summary.seconds = (performance.now() - started) / 1000;
  return summary;
}
