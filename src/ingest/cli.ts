// npm run import -- --orders FILE [--customers FILE] [--format csv|cdnow|line-items] [--map target=source,…]
//                   [--date-format FMT] [--timezone ZONE] [--no-amounts] [--cancel-prefix C]
//                   [--skip-missing-customer] [--currency USD] [--dry-run] [--progress] [--batch-size N]
// Imports into the configured database (DATABASE_URL, else the embedded DATA_DIR), after applying
// pending migrations. Exit codes: 0 imported, 1 refused (bad rows or unusable file; nothing
// written) or failed, 2 usage (bad options, a file that does not exist).
import { stat } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { commandDatabase, openDatabase } from '../db/client.js';
import { applyMigrations } from '../db/migrate.js';
import { DateFormatError, checkTimeZone, toLuxonFormat } from './dates.js';
import { ImportError, checkInputFiles, importFiles, parseColumnMap, type ImportFormat, type ImportProgress } from './import.js';

const USAGE = `Usage: npm run import -- --orders FILE [--customers FILE] [--format csv|cdnow|line-items]
                         [--map target=source,...] [--date-format FMT] [--timezone ZONE]
                         [--no-amounts] [--cancel-prefix C] [--skip-missing-customer]
                         [--currency USD] [--dry-run] [--progress]

CSV columns (header names; --map renames, e.g. --map customer_id=client,amount=total):
  orders:     order_id, customer_id*, ordered_at*, amount*, item_count, currency, status
  line-items: order_id, customer_id*, ordered_at*, quantity, unit_price or line_amount*, currency
              (lines sharing order_id, or else customer_id + ordered_at, form one order)
  customers:  customer_id*, name, email, gender, birth_date, country, created_at
  * required; amount / unit_price / line_amount not with --no-amounts.
Dates: ISO 8601 by default; --date-format DD-MM-YYYY or "MM/DD/YYYY HH:mm" (tokens YYYY YY MM M
DD D HH H hh h mm m ss s SSS A, [text] literal); --timezone Europe/London for times without offset.
CDNOW: whitespace-separated "customer_id date number_of_cds dollar_value" (date YYYYMMDD), with or
without the header line, or the 5-column sample layout.`;

class UsageError extends Error {}

const fmt = (n: number) => n.toLocaleString('en-US');

/** A missing or unreadable input file is a usage error (exit 2), not a bad row. */
async function requireFile(option: string, file: string): Promise<void> {
  try {
    const st = await stat(file);
    if (!st.isFile()) throw new UsageError(`${option} ${file}: not a regular file`);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(code === 'ENOENT' ? `${option} ${file}: no such file` : `${option} ${file}: cannot be read (${code ?? (err as Error).message})`);
  }
}

async function main() {
  let values;
  try {
    ({ values } = parseArgs({
      args: process.argv.slice(2),
      options: {
        orders: { type: 'string' },
        customers: { type: 'string' },
        format: { type: 'string' },
        map: { type: 'string' },
        currency: { type: 'string', default: 'USD' },
        'date-format': { type: 'string' },
        timezone: { type: 'string' },
        'no-amounts': { type: 'boolean', default: false },
        'cancel-prefix': { type: 'string' },
        'skip-missing-customer': { type: 'boolean', default: false },
        'dry-run': { type: 'boolean', default: false },
        progress: { type: 'boolean', default: false },
        'batch-size': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) return void console.log(USAGE);
  if (!values.orders) throw new UsageError('--orders FILE is required');
  const format = values.format;
  if (format !== undefined && format !== 'csv' && format !== 'cdnow' && format !== 'line-items') throw new UsageError('--format must be csv, cdnow or line-items');
  if (format !== 'line-items' && (values['cancel-prefix'] !== undefined || values['skip-missing-customer'])) {
    throw new UsageError('--cancel-prefix and --skip-missing-customer apply to --format line-items only');
  }
  if (format === 'cdnow' && values['date-format'] !== undefined) throw new UsageError('--date-format does not apply to CDNOW (its dates are YYYYMMDD)');
  if (!/^[A-Z]{3}$/.test(values.currency)) throw new UsageError('--currency must be 3 upper-case letters (ISO 4217), e.g. EUR');
  let map;
  try {
    map = values.map ? parseColumnMap(values.map) : undefined;
    if (values['date-format'] !== undefined) toLuxonFormat(values['date-format']);
    if (values.timezone !== undefined) checkTimeZone(values.timezone);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const batchSize = values['batch-size'] === undefined ? undefined : Number(values['batch-size']);
  if (batchSize !== undefined && !(Number.isInteger(batchSize) && batchSize > 0)) throw new UsageError('--batch-size must be a positive integer');
  await requireFile('--orders', values.orders);
  if (values.customers) await requireFile('--customers', values.customers);

  const showProgress = values.progress || process.stderr.isTTY;
  const onProgress = showProgress
    ? (p: ImportProgress) => process.stderr.write(`${p.phase} ${p.file}: ${fmt(p.rows)} rows (${fmt(Math.round(p.rowsPerSecond))} rows/s)\n`)
    : undefined;

  // Unusable files are refused before the database is opened.
  await checkInputFiles({ orders: values.orders, customers: values.customers });

  const cfg = loadConfig();
  const db = await openDatabase(commandDatabase(cfg, 'npm run import'));
  try {
    await applyMigrations(db.adapterFactory);
    const s = await importFiles(db, {
      orders: values.orders,
      customers: values.customers,
      format: format as ImportFormat | undefined,
      map,
      currency: values.currency,
      dateFormat: values['date-format'],
      timeZone: values.timezone,
      noAmounts: values['no-amounts'],
      cancelPrefix: values['cancel-prefix'],
      skipMissingCustomer: values['skip-missing-customer'],
      futureToleranceSeconds: cfg.ORDER_FUTURE_TOLERANCE_SECONDS,
      dryRun: values['dry-run'],
      batchSize,
      onProgress,
    });
    const skipped = [
      ...(s.ordersExisting ? [`${fmt(s.ordersExisting)} already in the database (identical)`] : []),
      ...(s.duplicateRows ? [`${fmt(s.duplicateRows)} repeated row${s.duplicateRows === 1 ? '' : 's'} (identical) skipped`] : []),
    ];
    console.log(
      [
        `${s.dryRun ? 'Dry run (rolled back)' : 'Imported'}: ${values.orders} (${s.format})${values.customers ? ` + ${values.customers}` : ''} into ${db.kind} in ${s.seconds.toFixed(2)} s`,
        `  rows read:  ${fmt(s.orderRowsRead)} order rows → ${fmt(s.ordersInFile)} orders, ${fmt(s.customerRowsRead)} customers`,
        ...(s.rowsWithoutCustomer ? [`  skipped:    ${fmt(s.rowsWithoutCustomer)} rows without a customer id (--skip-missing-customer)`] : []),
        `  customers:  ${fmt(s.customersInserted)} inserted${s.placeholderCustomers ? ` (${fmt(s.placeholderCustomers)} with a placeholder name)` : ''}, ${fmt(s.customersExisting)} already existed`,
        `  orders:     ${fmt(s.ordersInserted)} inserted${skipped.length ? `, ${skipped.join(', ')}` : ''}${s.amountsKnown ? '' : ' — without amounts (amountKnown = false)'}`,
        `  steps:      ${Object.entries(s.steps).map(([k, v]) => `${k} ${v.toFixed(1)} s`).join(', ')} (staging by ${s.stagingMethod})`,
      ].join('\n'),
    );
  } finally {
    await db.close();
  }
}

main().catch((err: Error) => {
  if (err instanceof UsageError || err instanceof DateFormatError) {
    console.error(`${err.message}\n\n${USAGE}`);
    process.exit(2);
  }
  console.error(err instanceof ImportError ? err.message : `Import failed, nothing was written: ${err.message}`);
  process.exit(1);
});
