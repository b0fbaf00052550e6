// Demo data commands.
//   npm run demo:export -- --customers N --seed S --anchor YYYY-MM-DD --out DIR
//       writes DIR/customers.csv and DIR/orders.csv (the importer's default CSV format)
//   npm run db:seed -- --customers N --seed S --anchor YYYY-MM-DD
//       (tsx src/demo/cli.ts seed …) migrates, then seeds the configured database (DATABASE_URL or
//       the embedded DATA_DIR). Defaults: DEMO_CUSTOMERS, DEMO_SEED, DEMO_ANCHOR or today (UTC).
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { commandDatabase, openDatabase } from '../db/client.js';
import { applyMigrations } from '../db/migrate.js';
import { exportDemoCsv } from './export.js';
import { anchorTime, todayUtc } from './generator.js';
import { seedDemo } from './seed.js';

const USAGE = `Usage:
  demo/cli.ts [export] --out DIR [--customers N] [--seed S] [--anchor YYYY-MM-DD]
  demo/cli.ts seed [--customers N] [--seed S] [--anchor YYYY-MM-DD]`;

class UsageError extends Error {}

function nonNegativeInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value)) throw new UsageError(`--${name} must be a non-negative integer (got ${JSON.stringify(value)})`);
  return Number(value);
}

function anchorArg(value: string | undefined, fallback: string): string {
  const anchor = value ?? fallback;
  try {
    anchorTime(anchor);
  } catch (err) {
    throw new UsageError(`--anchor: ${(err as Error).message}`);
  }
  return anchor;
}

const common = {
  customers: { type: 'string' },
  seed: { type: 'string' },
  anchor: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const mb = (n: number) => `${Math.round(n / 2 ** 20)} MB`;

async function exportCommand(args: string[]) {
  const { values } = parseArgs({ args, options: { ...common, out: { type: 'string' } } });
  if (values.help) return void console.log(USAGE);
  if (!values.out) throw new UsageError('--out DIR is required');
  const customers = nonNegativeInt('customers', values.customers, 10_000);
  const seed = nonNegativeInt('seed', values.seed, 42);
  const anchor = anchorArg(values.anchor, todayUtc());
  let peakRss = process.memoryUsage().rss;
  const showProgress = process.stderr.isTTY;
  const summary = await exportDemoCsv({
    customers,
    seed,
    anchor,
    outDir: values.out,
    onProgress: (done) => {
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
      if (showProgress) process.stderr.write(`\r${done.toLocaleString('en-US')} / ${customers.toLocaleString('en-US')} customers`);
    },
  });
  if (showProgress) process.stderr.write('\n');
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  console.log(
    `Wrote ${summary.customers} customers to ${summary.customersFile} and ${summary.orders} orders to ${summary.ordersFile} ` +
      `(seed ${seed}, anchor ${anchor}) in ${summary.seconds.toFixed(1)} s, peak RSS ${mb(peakRss)}.`,
  );
}

async function seedCommand(args: string[]) {
  const { values } = parseArgs({ args, options: common });
  if (values.help) return void console.log(USAGE);
  const cfg = loadConfig();
  const customers = nonNegativeInt('customers', values.customers, cfg.DEMO_CUSTOMERS);
  const seed = nonNegativeInt('seed', values.seed, cfg.DEMO_SEED);
  const anchor = anchorArg(values.anchor, cfg.DEMO_ANCHOR ?? todayUtc());
  const db = await openDatabase(commandDatabase(cfg, 'npm run db:seed'));
  try {
    await applyMigrations(db.adapterFactory);
    const showProgress = process.stderr.isTTY;
    const summary = await seedDemo(db, {
      customers,
      seed,
      anchor,
      onProgress: (p) => {
        if (showProgress) process.stderr.write(`\r${p.customersDone.toLocaleString('en-US')} / ${p.customersTotal.toLocaleString('en-US')} customers, ${p.ordersInserted.toLocaleString('en-US')} orders`);
      },
    });
    if (showProgress) process.stderr.write('\n');
    console.log(
      `Seeded ${db.kind}: ${summary.customersInserted} of ${summary.customersGenerated} customers and ` +
        `${summary.ordersInserted} of ${summary.ordersGenerated} orders inserted (others existed), ` +
        `seed ${seed}, anchor ${anchor}, in ${summary.seconds.toFixed(1)} s.`,
    );
  } finally {
    await db.close();
  }
}

async function main() {
  const [first, ...rest] = process.argv.slice(2);
  if (first === 'seed') await seedCommand(rest);
  else if (first === 'export') await exportCommand(rest);
  else await exportCommand(process.argv.slice(2));
}

main().catch((err: Error) => {
  console.error(err instanceof UsageError ? `${err.message}\n${USAGE}` : err.message);
  process.exit(err instanceof UsageError ? 2 : 1);
});
