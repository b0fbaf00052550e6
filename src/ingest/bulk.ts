// Batched inserts of the demo seeder (customers and orders; the importer stages rows by COPY and
// merges them set-based instead, see ingest/staging.ts). One statement per batch:
// `INSERT … SELECT … FROM unnest($1::text[], …) ON CONFLICT ("externalId") DO NOTHING`.
// Array parameters work with both driver adapters (PGlite and pg); a raw call must hold exactly
// one statement (PGlite rejects several). Every value travels as text and is cast in SQL, so the
// adapters' parameter type inference never matters. Re-inserting a row is a no-op (idempotent).
import type { PrismaClient } from '../generated/prisma/client.js';

export type OrderStatusValue = 'paid' | 'refunded' | 'cancelled';

export interface CustomerRow {
  externalId: string;
  name: string;
  email: string | null;
  gender: string | null;
  /** YYYY-MM-DD */
  birthDate: string | null;
  /** ISO-3166 alpha-2, upper case */
  country: string | null;
  /** null: the database default (now). */
  createdAt: Date | null;
}

export interface OrderRow {
  externalId: string;
  /** The customer's externalId; resolved to Customer.id inside the INSERT. */
  customerExternalId: string;
  orderedAt: Date;
  /** Decimal string with at most 2 decimals, e.g. "12.30". */
  amount: string;
  itemCount: number;
  currency: string;
  status: OrderStatusValue;
}

/** Anything that can run raw SQL: the client itself or an interactive-transaction client. */
export type RawSqlClient = Pick<PrismaClient, '$executeRaw' | '$queryRaw'>;

const iso = (d: Date | null) => (d === null ? null : d.toISOString());

/** Inserts one batch of customers; returns how many were new (existing externalIds are skipped). */
export async function insertCustomerBatch(client: RawSqlClient, rows: readonly CustomerRow[]): Promise<number> {
  if (rows.length === 0) return 0;
  const externalIds = rows.map((r) => r.externalId);
  const names = rows.map((r) => r.name);
  const emails = rows.map((r) => r.email);
  const genders = rows.map((r) => r.gender);
  const birthDates = rows.map((r) => r.birthDate);
  const countries = rows.map((r) => r.country);
  const createdAts = rows.map((r) => iso(r.createdAt));
  return client.$executeRaw`
    INSERT INTO "Customer" ("externalId", "name", "email", "gender", "birthDate", "country", "createdAt", "updatedAt")
    SELECT t.eid, t.name, t.email, t.gender, t.birth::date, t.country, COALESCE(t.created::timestamptz, CURRENT_TIMESTAMP), CURRENT_TIMESTAMP
    FROM unnest(${externalIds}::text[], ${names}::text[], ${emails}::text[], ${genders}::text[],
                ${birthDates}::text[], ${countries}::text[], ${createdAts}::text[])
         AS t(eid, name, email, gender, birth, country, created)
    ON CONFLICT ("externalId") DO NOTHING`;
}

/**
 * Inserts one batch of orders; returns how many were new. Orders whose customer does not exist are
 * dropped by the join (callers make sure customers are inserted first).
 */
export async function insertOrderBatch(client: RawSqlClient, rows: readonly OrderRow[]): Promise<number> {
  if (rows.length === 0) return 0;
  const externalIds = rows.map((r) => r.externalId);
  const customerIds = rows.map((r) => r.customerExternalId);
  const orderedAts = rows.map((r) => r.orderedAt.toISOString());
  const amounts = rows.map((r) => r.amount);
  const itemCounts = rows.map((r) => String(r.itemCount));
  const currencies = rows.map((r) => r.currency);
  const statuses = rows.map((r) => r.status);
  return client.$executeRaw`
    INSERT INTO "Order" ("customerId", "externalId", "orderedAt", "amount", "itemCount", "currency", "status")
    SELECT c."id", t.eid, t.at::timestamptz, t.amount::numeric, t.items::integer, t.currency, t.status::"OrderStatus"
    FROM unnest(${externalIds}::text[], ${customerIds}::text[], ${orderedAts}::text[], ${amounts}::text[],
                ${itemCounts}::text[], ${currencies}::text[], ${statuses}::text[])
         AS t(eid, ceid, at, amount, items, currency, status)
    JOIN "Customer" c ON c."externalId" = t.ceid
    ON CONFLICT ("externalId") DO NOTHING`;
}
