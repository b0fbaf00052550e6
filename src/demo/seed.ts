// Seeds the database with the synthetic demo set: the generator streams customers, which are
// written in batches (customers first, then their orders) with the shared bulk-insert helpers.
// Seeding is idempotent (ON CONFLICT DO NOTHING on externalId), so an interrupted seed can be re-run.
import type { Database } from '../db/client.js';
import { insertCustomerBatch, insertOrderBatch, type CustomerRow, type OrderRow } from '../ingest/bulk.js';
import { generateCustomers, todayUtc } from './generator.js';

export interface SeedOptions {
  customers: number;
  seed: number;
  /** Anchor day YYYY-MM-DD (UTC); default today. */
  anchor?: string;
  /** Customers per batch (default 2,000; their orders go in statements of at most 5,000 rows). */
  batchSize?: number;
  onProgress?: (progress: SeedProgress) => void;
}

export interface SeedProgress {
  customersDone: number;
  customersTotal: number;
  ordersInserted: number;
  seconds: number;
}

export interface SeedSummary {
  anchor: string;
  customersGenerated: number;
  customersInserted: number;
  ordersGenerated: number;
  ordersInserted: number;
  seconds: number;
}

/** True when the database holds no customer. */
export async function isDatabaseEmpty(db: Pick<Database, 'prisma'>): Promise<boolean> {
  const one = await db.prisma.customer.findFirst({ select: { id: true } });
  return one === null;
}

const ORDER_STATEMENT_ROWS = 5_000;

export async function seedDemo(db: Pick<Database, 'prisma'>, options: SeedOptions): Promise<SeedSummary> {
  const started = performance.now();
  const anchor = options.anchor ?? todayUtc();
  const batchSize = options.batchSize ?? 2_000;
  const summary: SeedSummary = { anchor, customersGenerated: 0, customersInserted: 0, ordersGenerated: 0, ordersInserted: 0, seconds: 0 };
  let customers: CustomerRow[] = [];
  let orders: OrderRow[] = [];

  const flush = async () => {
    summary.customersInserted += await insertCustomerBatch(db.prisma, customers);
    for (let i = 0; i < orders.length; i += ORDER_STATEMENT_ROWS) {
      summary.ordersInserted += await insertOrderBatch(db.prisma, orders.slice(i, i + ORDER_STATEMENT_ROWS));
    }
    customers = [];
    orders = [];
    options.onProgress?.({
      customersDone: summary.customersGenerated,
      customersTotal: options.customers,
      ordersInserted: summary.ordersInserted,
      seconds: (performance.now() - started) / 1000,
    });
  };

  for (const c of generateCustomers({ customers: options.customers, seed: options.seed, anchor })) {
    customers.push({
      externalId: c.externalId,
      name: c.name,
      email: c.email,
      gender: c.gender,
      birthDate: c.birthDate,
      country: c.country,
      createdAt: c.createdAt,
    });
    for (const o of c.orders) orders.push(o);
    summary.customersGenerated += 1;
    summary.ordersGenerated += c.orders.length;
    if (customers.length >= batchSize) await flush();
  }
  if (customers.length > 0) await flush();
  summary.seconds = (performance.now() - started) / 1000;
  return summary;
}

/**
 * What the server does at start-up: on an embedded database with no customer, seed `customers`
 * demo customers (when > 0). Returns the summary, or null when nothing was seeded.
 */
export async function seedDemoIfEmpty(
  db: Pick<Database, 'prisma' | 'kind'>,
  options: SeedOptions,
): Promise<SeedSummary | null> {
  if (db.kind !== 'pglite' || options.customers <= 0) return null;
  if (!(await isDatabaseEmpty(db))) return null;
  return seedDemo(db, options);
}
