import { Prisma } from '../../generated/prisma/client.js';
import type { Database } from '../../db/client.js';
import { toOrder } from '../customer/customer.repository.js';
import type { Order, OrderStatus } from './order.type.js';

const { sql } = Prisma;

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
