// The orders of one import, staged in the database inside the import's transaction, so the
// importer's memory does not grow with the file: temporary tables (dropped at commit or rollback)
// hold every valid line; SQL groups lines into orders, finds conflicts and inserts.
//
//   import_line   one row per valid file line (its line number, order id, customer, time, amount…)
//   import_order  one row per order id: plain rows → the first line of that id (repeats must be
//                 identical); line items → the sum of their lines
//
// Conflicts are refused like recordOrder's IDEMPOTENCY_CONFLICT: an order id given twice in the
// file with different content, or already in the database with different content. Identical
// repeats are skipped silently (that is what makes re-imports idempotent).
import { Prisma } from '../generated/prisma/client.js';
import { MAX_ITEM_COUNT } from '../db/rules.js';
import type { RawSqlClient } from './bulk.js';
import { quote, type StagedLine } from './parse.js';

const { sql } = Prisma;

export async function createStaging(tx: RawSqlClient): Promise<void> {
  await tx.$executeRaw`
    CREATE TEMP TABLE import_line (
      line     integer     NOT NULL,
      eid      text        NOT NULL,
      ceid     text        NOT NULL,
      at       timestamptz NOT NULL,
      amount   numeric,
      items    integer     NOT NULL,
      currency text        NOT NULL,
      status   text        NOT NULL
    ) ON COMMIT DROP`;
}

/** Stages one batch of lines. A line's amount is its amount, else quantity × unit price, else null. */
export async function stageLines(tx: RawSqlClient, rows: readonly StagedLine[]): Promise<void> {
  if (rows.length === 0) return;
  await tx.$executeRaw`
    INSERT INTO import_line (line, eid, ceid, at, amount, items, currency, status)
    SELECT t.line::integer, t.eid, t.ceid, t.at::timestamptz,
           COALESCE(t.amount::numeric, t.items::integer * t.price::numeric), t.items::integer, t.currency, t.status
    FROM unnest(${rows.map((r) => String(r.line))}::text[], ${rows.map((r) => r.externalId)}::text[],
                ${rows.map((r) => r.customerExternalId)}::text[], ${rows.map((r) => r.orderedAt.toISOString())}::text[],
                ${rows.map((r) => r.amount)}::text[], ${rows.map((r) => r.unitPrice)}::text[],
                ${rows.map((r) => String(r.quantity))}::text[], ${rows.map((r) => r.currency)}::text[],
                ${rows.map((r) => r.status)}::text[])
         AS t(line, eid, ceid, at, amount, price, items, currency, status)`;
}

/**
 * Builds import_order. Line items: amount = |Σ line amounts| rounded to cents, item count = |Σ
 * quantities|, time = the earliest line's; the order is `refunded` when a line carries the
 * cancellation marker or the net (amount, else quantity) is negative, otherwise `paid`.
 */
export async function buildOrders(tx: RawSqlClient, lineItems: boolean): Promise<void> {
  await tx.$executeRaw`CREATE INDEX import_line_eid ON import_line (eid, line)`;
  if (lineItems) {
    await tx.$executeRaw`
      CREATE TEMP TABLE import_order ON COMMIT DROP AS
      SELECT min(line) AS line, eid, min(ceid) AS ceid, min(at) AS at,
             abs(round(sum(amount), 2)) AS amount, abs(sum(items))::bigint AS items, min(currency) AS currency,
             CASE WHEN bool_or(status = 'refunded') OR COALESCE(sum(amount), sum(items)) < 0 THEN 'refunded' ELSE 'paid' END AS status,
             count(*)::integer AS lines
      FROM import_line GROUP BY eid`;
  } else {
    await tx.$executeRaw`
      CREATE TEMP TABLE import_order ON COMMIT DROP AS
      SELECT DISTINCT ON (eid) line, eid, ceid, at, amount, items::bigint AS items, currency, status, 1 AS lines
      FROM import_line ORDER BY eid, line`;
  }
}

export interface Conflict {
  line: number;
  reason: string;
}

interface Side {
  ceid: string;
  at: string;
  amount: string | null;
  items: string;
  currency: string;
  status: string;
}

const FIELDS: [keyof Side, string][] = [
  ['ceid', 'customer_id'],
  ['at', 'ordered_at'],
  ['amount', 'amount'],
  ['items', 'item_count'],
  ['currency', 'currency'],
  ['status', 'status'],
];

const show = (v: string | null) => (v === null ? 'no amount' : quote(v));

function differences(here: Side, there: Side, thereName: string): string {
  return FIELDS.filter(([k]) => here[k] !== there[k])
    .map(([k, name]) => `${name} ${show(here[k])} here, ${show(there[k])} ${thereName}`)
    .join('; ');
}

type SideRow = { line: number; eid: string; total: bigint | number } & { [K in `a_${keyof Side}` | `b_${keyof Side}`]: string | null };

const side = (r: SideRow, p: 'a' | 'b'): Side => ({
  ceid: r[`${p}_ceid`]!,
  at: r[`${p}_at`]!,
  amount: r[`${p}_amount`],
  items: r[`${p}_items`]!,
  currency: r[`${p}_currency`]!.trim(),
  status: r[`${p}_status`]!,
});

const iso = (col: Prisma.Sql) => sql`to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * Lines that repeat an order id with other content. Plain rows: any field differs from the id's
 * first line. Line items: the customer or currency differs (lines of one order are summed, and
 * may differ in time: the earliest counts).
 */
export async function conflictsInFile(tx: RawSqlClient, lineItems: boolean, limit: number): Promise<{ conflicts: Conflict[]; total: number }> {
  const differs = lineItems
    ? sql`(l.ceid, l.currency) IS DISTINCT FROM (o.ceid, o.currency)`
    : sql`(l.ceid, l.at, l.amount, l.items, l.currency, l.status) IS DISTINCT FROM (o.ceid, o.at, o.amount, o.items, o.currency, o.status)`;
  const first = lineItems ? sql`(SELECT DISTINCT ON (eid) * FROM import_line ORDER BY eid, line)` : sql`import_order`;
  const rows = await tx.$queryRaw<(SideRow & { first_line: number })[]>`
    SELECT l.line, l.eid, o.line AS first_line, count(*) OVER () AS total,
           l.ceid AS a_ceid, ${iso(sql`l.at`)} AS a_at, l.amount::text AS a_amount, l.items::text AS a_items, l.currency AS a_currency, l.status AS a_status,
           o.ceid AS b_ceid, ${iso(sql`o.at`)} AS b_at, o.amount::text AS b_amount, o.items::text AS b_items, o.currency AS b_currency, o.status AS b_status
    FROM import_line l JOIN ${first} o ON o.eid = l.eid
    WHERE l.line <> o.line AND ${differs}
    ORDER BY l.line LIMIT ${limit}`;
  return {
    total: rows.length > 0 ? Number(rows[0].total) : 0,
    conflicts: rows.map((r) => {
      const a = side(r, 'a');
      const b = side(r, 'b');
      if (lineItems) {
        const what = differences({ ...a, at: b.at, amount: b.amount, items: b.items, status: b.status }, b, 'there');
        return { line: r.line, reason: `a line of order ${quote(r.eid)} differs from its line ${r.first_line}: ${what} (the lines of one order share customer and currency)` };
      }
      return { line: r.line, reason: `order_id ${quote(r.eid)} repeats line ${r.first_line} with different content: ${differences(a, b, 'there')}` };
    }),
  };
}

/** Orders whose id is already in the database with other content (as recordOrder's IDEMPOTENCY_CONFLICT). */
export async function conflictsWithDatabase(tx: RawSqlClient, limit: number): Promise<{ conflicts: Conflict[]; total: number }> {
  const rows = await tx.$queryRaw<SideRow[]>`
    SELECT i.line, i.eid, count(*) OVER () AS total,
           i.ceid AS a_ceid, ${iso(sql`i.at`)} AS a_at, i.amount::text AS a_amount, i.items::text AS a_items, i.currency AS a_currency, i.status AS a_status,
           c."externalId" AS b_ceid, ${iso(sql`o."orderedAt"`)} AS b_at, CASE WHEN o."amountKnown" THEN o."amount"::text END AS b_amount,
           o."itemCount"::text AS b_items, o."currency"::text AS b_currency, o."status"::text AS b_status
    FROM import_order i
    JOIN "Order" o ON o."externalId" = i.eid
    JOIN "Customer" c ON c."id" = o."customerId"
    WHERE (c."externalId", o."orderedAt", CASE WHEN o."amountKnown" THEN o."amount" END, o."itemCount"::bigint, o."currency"::text, o."status"::text)
          IS DISTINCT FROM (i.ceid, i.at, i.amount, i.items, i.currency, i.status)
    ORDER BY i.line LIMIT ${limit}`;
  return {
    total: rows.length > 0 ? Number(rows[0].total) : 0,
    conflicts: rows.map((r) => ({
      line: r.line,
      reason: `order ${quote(r.eid)} is already in the database with different content (IDEMPOTENCY_CONFLICT): ${differences(side(r, 'a'), side(r, 'b'), 'in the database')}`,
    })),
  };
}

/** Summed orders beyond what an order may hold (line items only; plain rows are checked per row). */
export async function oversizedOrders(tx: RawSqlClient, limit: number): Promise<{ conflicts: Conflict[]; total: number }> {
  const rows = await tx.$queryRaw<{ line: number; eid: string; amount: string | null; items: string; lines: number; total: bigint | number }[]>`
    SELECT line, eid, amount::text AS amount, items::text AS items, lines, count(*) OVER () AS total
    FROM import_order WHERE amount >= 10000000000 OR items > ${MAX_ITEM_COUNT}
    ORDER BY line LIMIT ${limit}`;
  return {
    total: rows.length > 0 ? Number(rows[0].total) : 0,
    conflicts: rows.map((r) => ({
      line: r.line,
      reason: `order ${quote(r.eid)} (${r.lines} lines) sums to ${r.items} items and ${r.amount ?? 'no'} amount: at most ${MAX_ITEM_COUNT} items and 9,999,999,999.99`,
    })),
  };
}

export interface StagedCounts {
  lines: number;
  orders: number;
}

export async function stagedCounts(tx: RawSqlClient): Promise<StagedCounts> {
  const [r] = await tx.$queryRaw<{ lines: bigint | number; orders: bigint | number }[]>`
    SELECT (SELECT count(*) FROM import_line) AS lines, (SELECT count(*) FROM import_order) AS orders`;
  return { lines: Number(r.lines), orders: Number(r.orders) };
}

/** Inserts import_order into "Order" (identical existing orders are skipped); returns how many were new. */
export async function insertStagedOrders(tx: RawSqlClient): Promise<number> {
  return tx.$executeRaw`
    INSERT INTO "Order" ("customerId", "externalId", "orderedAt", "amount", "itemCount", "currency", "status", "amountKnown")
    SELECT c."id", i.eid, i.at, COALESCE(i.amount, 0), i.items::integer, i.currency, i.status::"OrderStatus", i.amount IS NOT NULL
    FROM import_order i JOIN "Customer" c ON c."externalId" = i.ceid
    ON CONFLICT ("externalId") DO NOTHING`;
}
