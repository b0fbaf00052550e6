// npm run import -- --orders FILE [--customers FILE] [--format csv|cdnow] [--map target=source,…]
//                   [--currency USD] [--dry-run] [--progress] [--batch-size N]
// Imports into the configured database (DATABASE_URL, else the embedded DATA_DIR), after applying
// pending migrations. Exit codes: 0 imported, 1 refused (bad rows; nothing written) or failed, 2 usage.
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { commandDatabase, openDatabase } from '../db/client.js';
import { applyMigrations } from '../db/migrate.js';
import { ImportError, importFiles, parseColumnMap, type ImportFormat, type ImportProgress } from './import.js';

const USAGE = `Usage: npm run import -- --orders FILE [--customers FILE] [--format csv|cdnow]
                         [--map target=source,...] [--currency USD] [--dry-run] [--progress]

CSV columns (header names; --map renames, e.g. --map customer_id=client,amount=total):
  orders:    order_id, customer_id*, ordered_at*, amount*, item_count, currency, status
  customers: customer_id*, name, email, gender, birth_date, country, created_at
CDNOW: whitespace-separated "customer_id date number_of_cds dollar_value" (date YYYYMMDD), with or
without the header line, or the 5-column sample layout.`;

class UsageError extends Error {}

const fmt = (n: number) => n.toLocaleString('en-US');

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
  if (values.format !== undefined && values.format !== 'csv' && values.format !== 'cdnow') throw new UsageError('--format must be csv or cdnow');
  let map;
  try {
    map = values.map ? parseColumnMap(values.map) : undefined;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const batchSize = values['batch-size'] === undefined ? undefined : Number(values['batch-size']);
  if (batchSize !== undefined && !(Number.isInteger(batchSize) && batchSize > 0)) throw new UsageError('--batch-size must be a positive integer');

  const showProgress = values.progress || process.stderr.isTTY;
  const onProgress = showProgress
    ? (p: ImportProgress) => process.stderr.write(`${p.phase} ${p.file}: ${fmt(p.rows)} rows (${fmt(Math.round(p.rowsPerSecond))} rows/s)\n`)
    : undefined;

  const cfg = loadConfig();
  const db = await openDatabase(commandDatabase(cfg, 'npm run import'));
  try {
    await applyMigrations(db.adapterFactory);
    const s = await importFiles(db, {
      orders: values.orders,
      customers: values.customers,
      format: values.format as ImportFormat | undefined,
      map,
      currency: values.currency,
      dryRun: values['dry-run'],
      batchSize,
      onProgress,
    });
    console.log(
      [
        `${s.dryRun ? 'Dry run (rolled back)' : 'Imported'}: ${values.orders} (${s.format})${values.customers ? ` + ${values.customers}` : ''} into ${db.kind} in ${s.seconds.toFixed(2)} s`,
        `  rows read:  ${fmt(s.orderRowsRead)} orders, ${fmt(s.customerRowsRead)} customers`,
        `  customers:  ${fmt(s.customersInserted)} inserted${s.placeholderCustomers ? ` (${fmt(s.placeholderCustomers)} with a placeholder name)` : ''}, ${fmt(s.customersExisting)} already existed`,
        `  orders:     ${fmt(s.ordersInserted)} inserted, ${fmt(s.ordersSkipped)} skipped as duplicates`,
      ].join('\n'),
    );
  } finally {
    await db.close();
  }
}

main().catch((err: Error) => {
  if (err instanceof UsageError) {
    console.error(`${err.message}\n\n${USAGE}`);
    process.exit(2);
  }
  console.error(err instanceof ImportError ? err.message : `Import failed, nothing was written: ${err.message}`);
  process.exit(1);
});
