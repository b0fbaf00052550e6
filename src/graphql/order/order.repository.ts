// SQL for orders: the orders of a page of customers, and the idempotent write of recordOrder.
import { Prisma } from '../../generated/prisma/client.js';
import type { Database } from '../../db/client.js';
import type { Order, OrderStatus } from './order.type.js';

const { sql, empty } = Prisma;

type OrderRow = Omit<Order, 'amount' | 'status'> & { amount: Prisma.Decimal | string; status: string };

export function toOrder(row: OrderRow): Order {
  return { ...row, amount: String(row.amount), status: row.status as OrderStatus };
}

// ---- reads (DataLoader batch functions: one statement per page) ----------------------------------

const orderColumns = sql`o."id", o."customerId", o."externalId", o."orderedAt", o."amount", o."itemCount", o."currency", o."status"::text AS "status", o."createdAt"`;

/**
 * The newest orders of each customer (orderedAt DESC, id DESC): up to `first + 1` per customer,
 * so the caller can tell whether more follow. `after` positions apply to every customer in the batch.
 */
export async function ordersByCustomerIds(
  db: Database,
  ids: readonly string[],
  first: number,
  after: { orderedAt: Date; id: string } | null,
): Promise<Map<string, Order[]>> {
  const rows = await db.prisma.$queryRaw<OrderRow[]>`
    SELECT t."id", t."customerId", t."externalId", t."orderedAt", t."amount", t."itemCount", t."currency", t."status", t."createdAt"
    FROM (
      SELECT ${orderColumns},
             row_number() OVER (PARTITION BY o."customerId" ORDER BY o."orderedAt" DESC, o."id" DESC) AS rn
      FROM "Order" o
      WHERE o."customerId" = ANY(${ids}::uuid[])
      ${after ? sql`AND (o."orderedAt", o."id") < (${after.orderedAt}, ${after.id}::uuid)` : empty}
    ) t
    WHERE t.rn <= ${first + 1}
    ORDER BY t."customerId", t.rn`;
  const result = new Map<string, Order[]>();
  for (const row of rows) {
    const list = result.get(row.customerId) ?? [];
    list.push(toOrder(row));
    result.set(row.customerId, list);
  }
  return result;
}

export async function orderCountsByCustomerIds(db: Database, ids: readonly string[]): Promise<Map<string, number>> {
  const rows = await db.prisma.$queryRaw<{ customerId: string; n: number }[]>`
    SELECT o."customerId", count(*)::int AS n FROM "Order" o WHERE o."customerId" = ANY(${ids}::uuid[]) GROUP BY o."customerId"`;
  return new Map(rows.map((r) => [r.customerId, r.n]));
}

// ---- writes ---------------------------------------------------------------------------------

export interface OrderWrite {
  externalId: string;
  customer: { id: string } | { externalId: string };
  orderedAt: Date;
  amount: string;
  itemCount: number;
  currency: string;
  status: OrderStatus;
}

export type RecordOrderResult =
  | { kind: 'created' | 'existing'; order: Order }
  | { kind: 'conflict'; order: Order }
  | { kind: 'unknown-customer' };

const returning = sql`"id", "customerId", "externalId", "orderedAt", "amount", "itemCount", "currency", "status"::text AS "status", "createdAt"`;

/**
 * Idempotent insert keyed by externalId: one INSERT … ON CONFLICT DO NOTHING, so concurrent
 * retries of the same order can never create two rows. A retry returns the stored order; the same
 * key with different content is a conflict.
 */
export async function recordOrder(db: Database, w: OrderWrite): Promise<RecordOrderResult> {
  const customerMatch = 'id' in w.customer ? sql`c."id" = ${w.customer.id}::uuid` : sql`c."externalId" = ${w.customer.externalId}`;
  const inserted = await db.prisma.$queryRaw<Parameters<typeof toOrder>[0][]>`
    INSERT INTO "Order" ("customerId", "externalId", "orderedAt", "amount", "itemCount", "currency", "status")
    SELECT c."id", ${w.externalId}, ${w.orderedAt}, ${w.amount}::numeric, ${w.itemCount}, ${w.currency}, ${w.status}::"OrderStatus"
    FROM "Customer" c WHERE ${customerMatch}
    ON CONFLICT ("externalId") DO NOTHING
    RETURNING ${returning}`;
  if (inserted[0]) return { kind: 'created', order: toOrder(inserted[0]) };

  const existing = await db.prisma.$queryRaw<(Parameters<typeof toOrder>[0] & { customerExternalId: string })[]>`
    SELECT o."id", o."customerId", o."externalId", o."orderedAt", o."amount", o."itemCount", o."currency", o."status"::text AS "status",
           o."createdAt", c."externalId" AS "customerExternalId"
    FROM "Order" o JOIN "Customer" c ON c."id" = o."customerId"
    WHERE o."externalId" = ${w.externalId}`;
  const row = existing[0];
  if (!row) return { kind: 'unknown-customer' };
  const { customerExternalId, ...orderRow } = row;
  const order = toOrder(orderRow);
  const sameCustomer = 'id' in w.customer ? w.customer.id === order.customerId : w.customer.externalId === customerExternalId;
  const same =
    sameCustomer &&
    order.orderedAt.getTime() === w.orderedAt.getTime() &&
    new Prisma.Decimal(order.amount).equals(new Prisma.Decimal(w.amount)) &&
    order.itemCount === w.itemCount &&
    order.currency === w.currency &&
    order.status === w.status;
  return { kind: same ? 'existing' : 'conflict', order };
}
