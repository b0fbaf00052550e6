// Bulk import of real transaction logs, all-or-nothing per run.
//
//  1. The files are inspected first: compressed, archived or binary input is refused (file error).
//  2. The customers file is validated (streaming, nothing written).
//  3. In ONE interactive transaction: the orders file is validated line by line and its valid
//     lines are staged in a temporary table (ingest/staging.ts), so memory does not grow with the
//     file. SQL then forms the orders (line items are summed), and finds conflicts: an order id
//     repeated with other content, or already in the database with other content (as recordOrder's
//     IDEMPOTENCY_CONFLICT). Bad rows and conflicts are collected as `FILE:LINE: reason` (the first
//     `maxErrors`, plus a count). Orders' customers must be in the customers file or already in the
//     database; when no customers file is given (e.g. CDNOW) unknown customers are created with a
//     placeholder name (`Customer <id>`) and createdAt = their first order time.
//  4. Any error: ImportError, the transaction rolls back, the database is untouched. Otherwise
//     customers and orders are inserted in the same transaction. `dryRun` runs it all and rolls back.
//
// Idempotent: rows are keyed by externalId; re-importing a file inserts nothing new, and identical
// repeats are skipped. Existing customers are not updated. Order ids come from the file
// (order_id) or are derived deterministically (see parse.ts), so the same file yields the same ids.
// Order times obey the API's bounds (db/rules.ts, ORDER_FUTURE_TOLERANCE_SECONDS).
import path from 'node:path';
import { loadConfig } from '../config.js';
import type { Database } from '../db/client.js';
import { orderTimeProblem } from '../db/rules.js';
import {
  DEFAULT_BATCH_SIZE,
  conflictingEmails,
  existingCustomerIds,
  insertCustomerBatch,
  type CustomerRow,
  type RawSqlClient,
} from './bulk.js';
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
  placeholderName,
  quote,
  readCsv,
  readWhitespace,
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
import {
  buildOrders,
  conflictsInFile,
  conflictsWithDatabase,
  createStaging,
  insertStagedOrders,
  oversizedOrders,
  stageLines,
  stagedCounts,
  type Conflict,
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
  seconds: number;
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
  };
}

/** One customer referenced by the orders: where first seen and the earliest order time. */
interface CustomerRef {
  line: number;
  firstOrderAt: number;
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
    for await (const r of readWhitespace(file)) {
      if (first && isCdnowHeader(r.fields)) {
        first = false;
        continue;
      }
      first = false;
      await row(r.line, parseCdnowRecord(r.fields, r.line, ctx));
    }
    return;
  }
  const map = options.map ?? {};
  let parseRow: ((fields: string[], line: number) => Parsed<StagedLine | null>) | undefined;
  for await (const r of readCsv(file)) {
    if (parseRow === undefined) {
      const width = r.fields.length;
      if (format === 'line-items') {
        const required: LineItemColumn[] = ['customer_id', 'ordered_at'];
        const c = resolveColumns<LineItemColumn>(r.fields, LINE_ITEM_COLUMNS, required, map);
        if (!c.ok) return failHeader(r.line, c.reason);
        const cols: Columns<LineItemColumn> = c.value;
        if (!ctx.noAmounts && cols.unit_price === undefined && cols.line_amount === undefined) {
          return failHeader(r.line, `a line-item file needs a "unit_price" or a "line_amount" column (map one with --map, or pass --no-amounts); found: ${r.fields.slice(0, 12).map((h) => quote(h)).join(', ')}`);
        }
        const lineOptions = { cancelPrefix: options.cancelPrefix, skipMissingCustomer: options.skipMissingCustomer };
        parseRow = (fields, line) => parseLineItemRecord(fields, width, cols, line, ctx, lineOptions);
      } else {
        const required: OrderColumn[] = ctx.noAmounts ? ['customer_id', 'ordered_at'] : ['customer_id', 'ordered_at', 'amount'];
        const c = resolveColumns<OrderColumn>(r.fields, ORDER_COLUMNS, required, map);
        if (!c.ok) return failHeader(r.line, c.reason);
        const cols: Columns<OrderColumn> = c.value;
        parseRow = (fields, line) => parseOrderRecord(fields, width, cols, line, ctx);
      }
      continue;
    }
    await row(r.line, parseRow(r.fields, r.line));
  }
  if (parseRow === undefined) failHeader(1, 'the file is empty (a header line is required)');
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
  for await (const r of readCsv(file)) {
    if (cols === undefined) {
      const c = resolveColumns<CustomerColumn>(r.fields, CUSTOMER_COLUMNS, ['customer_id'], options.map ?? {});
      if (!c.ok) return failHeader(r.line, c.reason);
      cols = c.value;
      width = r.fields.length;
      continue;
    }
    await row(r.line, parseCustomerRecord(r.fields, width, cols, ctx));
  }
  if (cols === undefined) failHeader(1, 'the file is empty (a header line is required)');
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
export async function importFiles(db: Pick<Database, 'prisma'>, options: ImportOptions): Promise<ImportSummary> {
  const started = performance.now();
  const maxErrors = options.maxErrors ?? 100;
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
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
  };

  // ── customers file: validate (nothing written) ─────────────────────────────────────────────────
  const fileCustomers = new Map<string, number>(); // externalId → line
  const emails = new Map<string, { line: number; externalId: string }>();
  if (options.customers) {
    const ticker = progressTicker(options, 'validating customers', customersName!);
    await syntaxChecked(failCustomersFile, () =>
      readCustomers(options.customers!, options, ctx, headerError(failCustomersFile), (line, parsed) => {
        ticker.tick();
        summary.customerRowsRead += 1;
        if (!parsed.ok) return failCustomers(line, parsed.reason);
        const c = parsed.value;
        const seen = fileCustomers.get(c.externalId);
        if (seen !== undefined) return failCustomers(line, `duplicate customer_id ${quote(c.externalId)} (first at line ${seen})`);
        if (c.email !== null) {
          const e = emails.get(c.email);
          if (e !== undefined) return failCustomers(line, `email ${quote(c.email)} is also used at line ${e.line}`);
          emails.set(c.email, { line, externalId: c.externalId });
        }
        fileCustomers.set(c.externalId, line);
      }),
    );
    ticker.done();
  }

  // ── one transaction: stage and check the orders, then write ───────────────────────────────────
  const run = async (tx: RawSqlClient) => {
    await createStaging(tx);
    const refs = new Map<string, CustomerRef>();
    let staged: StagedLine[] = [];
    const flush = async () => {
      await stageLines(tx, staged);
      staged = [];
    };
    const ticker = progressTicker(options, 'validating orders', ordersName);
    await syntaxChecked(failOrdersFile, () =>
      readOrders(options.orders, format, options, ctx, headerError(failOrdersFile), async (line, parsed) => {
        ticker.tick();
        summary.orderRowsRead += 1;
        if (!parsed.ok) return failOrders(line, parsed.reason);
        const o = parsed.value;
        if (o === null) return void (summary.rowsWithoutCustomer += 1);
        const ref = refs.get(o.customerExternalId);
        const at = o.orderedAt.getTime();
        if (ref === undefined) refs.set(o.customerExternalId, { line, firstOrderAt: at });
        else if (at < ref.firstOrderAt) ref.firstOrderAt = at;
        staged.push(o);
        if (staged.length >= batchSize) await flush();
      }),
    );
    await flush();
    ticker.done();

    // Customers only the orders mention.
    const unknown = [...refs.keys()].filter((id) => !fileCustomers.has(id));
    if (options.customers) {
      const existing = await existingCustomerIds(tx, unknown);
      for (const id of unknown) {
        if (!existing.has(id)) failOrders(refs.get(id)!.line, `customer ${quote(id)} is neither in ${customersName} nor in the database`);
      }
      if (emails.size > 0) {
        const pairs = [...emails.entries()].map(([email, v]) => ({ email, externalId: v.externalId }));
        for (const [email, owner] of await conflictingEmails(tx, pairs)) {
          failCustomers(emails.get(email)!.line, `email ${quote(email)} already belongs to customer ${quote(owner)} in the database`);
        }
      }
    }

    // Orders: grouped, then checked against each other and against the database (also when some
    // rows were bad, so that one run lists every problem).
    const lineItems = format === 'line-items';
    await buildOrders(tx, lineItems);
    const room = () => Math.max(maxErrors - errors.length, 1);
    const report = ({ conflicts, total }: { conflicts: Conflict[]; total: number }) => {
      for (const c of conflicts) failOrders(c.line, c.reason);
      errorCount += total - conflicts.length;
    };
    report(await conflictsInFile(tx, lineItems, room()));
    if (lineItems) report(await oversizedOrders(tx, room()));
    report(await conflictsWithDatabase(tx, room()));
    if (errorCount > 0) throw refuse();
    const { lines, orders } = await stagedCounts(tx);
    summary.ordersInFile = orders;
    summary.duplicateRows = lineItems ? 0 : lines - orders;

    // Customers: from the file, or placeholders for ids not yet in the database.
    let customerRows = 0;
    let batch: CustomerRow[] = [];
    const flushCustomers = async () => {
      summary.customersInserted += await insertCustomerBatch(tx, batch);
      batch = [];
    };
    if (options.customers) {
      const ticker = progressTicker(options, 'inserting customers', customersName!);
      await readCustomers(options.customers, options, ctx, failCustomersFile, async (line, parsed) => {
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
      summary.placeholderCustomers = summary.customersInserted;
    }
    // Customers referenced by orders but only existing in the database count as existing too.
    const referencedOnly = options.customers ? unknown.length : 0;
    summary.customersExisting = customerRows + referencedOnly - summary.customersInserted;

    const inserting = progressTicker(options, 'inserting orders', ordersName);
    // The set-based insert is one statement: say that it has begun, or a terminal shows nothing
    // until it is over (and the phase's line would only appear just before the commit).
    inserting.begin();
    summary.ordersInserted = await insertStagedOrders(tx);
    for (let i = 0; i < summary.ordersInserted; i++) inserting.tick();
    inserting.done();
    summary.ordersExisting = summary.ordersInFile - summary.ordersInserted;
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
