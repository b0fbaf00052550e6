// Streams the shop's training data out of the configured database into the training pipeline's data
// interface (python-export/README.md "Data interface"): customers.csv and orders.csv in a folder.
// An order without a known amount (imported with --no-amounts) is exported with an empty amount,
// which the pipeline reads as "unknown" (features.json conventions.unknown_amount), never as 0.00.
// Only paid orders are exported (the only ones the features and labels count); customer names and
// emails are left empty — the models never read them, so personal data does not leave the database.
// PostgreSQL: COPY … TO STDOUT (pg-copy-streams) straight into the file. PGlite: keyset pages of a
// plain SELECT. Memory stays flat either way. Each file's sha256 goes into the model cards.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import type { Database } from '../db/client.js';

export interface ExportedFile {
  path: string;
  sha256: string;
  rows: number;
}

export interface TrainingSource {
  name: string;
  kind: 'database';
  database: string;
  exportedAt: string;
  customers: number;
  paid_orders: number;
  /** Paid orders whose amount is unknown (Order.amountKnown = false). */
  paid_orders_without_amount: number;
  customers_with_orders: number;
  first_order: string | null;
  last_order: string | null;
  currency: string | null;
  currencies: string[];
  files: ExportedFile[];
  export_seconds: number;
}

const ISO = `'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`;
const ORDERS_SELECT = `
  SELECT o."externalId" AS order_id, c."externalId" AS customer_id,
         to_char(o."orderedAt" AT TIME ZONE 'UTC', ${ISO}) AS ordered_at,
         CASE WHEN o."amountKnown" THEN o."amount"::text END AS amount, o."itemCount" AS item_count, o."currency"::text AS currency, o."status"::text AS status
  FROM "Order" o JOIN "Customer" c ON c."id" = o."customerId"
  WHERE o."status" = 'paid'`;
const CUSTOMERS_SELECT = `
  SELECT c."externalId" AS customer_id, NULL::text AS name, NULL::text AS email, c."gender" AS gender,
         to_char(c."birthDate", 'YYYY-MM-DD') AS birth_date, c."country"::text AS country,
         to_char(c."createdAt" AT TIME ZONE 'UTC', ${ISO}) AS created_at
  FROM "Customer" c`;
const ORDER_COLUMNS = ['order_id', 'customer_id', 'ordered_at', 'amount', 'item_count', 'currency', 'status'];
const CUSTOMER_COLUMNS = ['customer_id', 'name', 'email', 'gender', 'birth_date', 'country', 'created_at'];

/** A database URL without its password, for the model card. */
export function describeDatabase(databaseUrl: string | undefined, dataDir: string): string {
  if (!databaseUrl) return `embedded PGlite (${path.relative(process.cwd(), dataDir) || dataDir})`;
  const u = new URL(databaseUrl);
  return `postgresql://${u.username ? `${u.username}@` : ''}${u.host}${u.pathname}`;
}

/** Hashes and counts lines of what passes through. */
function hashing(): Transform & { sha256(): string; lines(): number } {
  const hash = createHash('sha256');
  let lines = 0;
  const t = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines += 1;
      done(null, chunk);
    },
  });
  return Object.assign(t, { sha256: () => hash.digest('hex'), lines: () => lines });
}

const csvField = (v: unknown) => {
  const s = v === null || v === undefined ? '' : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

async function copyOut(databaseUrl: string, select: string, file: string): Promise<ExportedFile> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const h = hashing();
    await pipeline(client.query(copyTo(`COPY (${select}) TO STDOUT WITH (FORMAT csv, HEADER true)`)), h, createWriteStream(file));
    return { path: path.basename(file), sha256: h.sha256(), rows: h.lines() - 1 };
  } finally {
    await client.end();
  }
}

async function pagedOut(db: Database, select: string, key: string, columns: string[], file: string, pageSize = 20_000): Promise<ExportedFile> {
  const h = hashing();
  const out = createWriteStream(file);
  const done = pipeline(h, out);
  const write = (w: Writable, text: string) => (w.write(text) ? Promise.resolve() : new Promise<void>((r) => w.once('drain', () => r())));
  await write(h, `${columns.join(',')}\n`);
  let after: string | null = null;
  for (;;) {
    const rows: Record<string, unknown>[] = await db.prisma.$queryRawUnsafe(
      `SELECT * FROM (${select}) x WHERE $1::text IS NULL OR x."${key}" > $1::text ORDER BY x."${key}" LIMIT ${pageSize}`,
      after,
    );
    if (rows.length === 0) break;
    await write(h, rows.map((r) => columns.map((c) => csvField(r[c])).join(',')).join('\n') + '\n');
    after = String(rows[rows.length - 1][key]);
    if (rows.length < pageSize) break;
  }
  h.end();
  await done;
  return { path: path.basename(file), sha256: h.sha256(), rows: h.lines() - 1 };
}

/** Writes DIR/customers.csv and DIR/orders.csv and describes them. */
export async function exportTrainingData(
  db: Database,
  options: { databaseUrl?: string; dataDir: string; dir: string; onProgress?: (line: string) => void },
): Promise<TrainingSource> {
  const started = performance.now();
  const [summary] = await db.prisma.$queryRawUnsafe<
    { customers: number; paid: number; unknown: number; buyers: number; first: Date | null; last: Date | null; currencies: string[] | null }[]
  >(`SELECT (SELECT count(*)::int FROM "Customer") AS customers, count(*)::int AS paid, count(DISTINCT o."customerId")::int AS buyers,
            (count(*) FILTER (WHERE NOT o."amountKnown"))::int AS unknown,
            min(o."orderedAt") AS first, max(o."orderedAt") AS last,
            array_agg(DISTINCT o."currency"::text) FILTER (WHERE o."currency" IS NOT NULL AND o."amountKnown") AS currencies
     FROM "Order" o WHERE o."status" = 'paid'`);
  options.onProgress?.(`exporting ${summary.customers.toLocaleString('en-US')} customers and ${summary.paid.toLocaleString('en-US')} paid orders (${db.kind === 'postgresql' ? 'COPY' : 'keyset pages'})…`);
  const customersFile = path.join(options.dir, 'customers.csv');
  const ordersFile = path.join(options.dir, 'orders.csv');
  // Ordered by external id, so the same data exports to the same bytes (and sha256).
  const customersSql = `${CUSTOMERS_SELECT} ORDER BY c."externalId"`;
  const ordersSql = `${ORDERS_SELECT} ORDER BY o."externalId"`;
  const files =
    db.kind === 'postgresql' && options.databaseUrl
      ? [await copyOut(options.databaseUrl, customersSql, customersFile), await copyOut(options.databaseUrl, ordersSql, ordersFile)]
      : [
          await pagedOut(db, CUSTOMERS_SELECT, 'customer_id', CUSTOMER_COLUMNS, customersFile),
          await pagedOut(db, ORDERS_SELECT, 'order_id', ORDER_COLUMNS, ordersFile),
        ];
  const currencies = (summary.currencies ?? []).sort();
  const database = describeDatabase(options.databaseUrl, options.dataDir);
  return {
    name: `database ${database}`,
    kind: 'database',
    database,
    exportedAt: new Date().toISOString(),
    customers: summary.customers,
    paid_orders: summary.paid,
    paid_orders_without_amount: summary.unknown,
    customers_with_orders: summary.buyers,
    first_order: summary.first ? new Date(summary.first).toISOString() : null,
    last_order: summary.last ? new Date(summary.last).toISOString() : null,
    currency: currencies.length === 1 ? currencies[0] : null,
    currencies,
    files,
    export_seconds: Math.round((performance.now() - started) / 100) / 10,
  };
}
