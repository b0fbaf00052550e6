// The rows of one import, staged in the database inside the import's transaction, so the
// importer's memory does not grow with the file: temporary tables (dropped at commit or rollback)
// are filled by COPY (ingest/session.ts) with every valid row and its line number; set-based SQL
// then validates what one row alone cannot show (repeated ids and emails, unknown customers,
// conflicts with the database — each answer carries the line it is about), groups lines into
// orders and merges everything into Customer and "Order".
//
//   import_customer  one row per valid customers-file line
//   import_line      one row per valid orders-file line (its line number, order id, customer, time, amount…)
//   import_order     one row per order id: plain rows → the first line of that id (repeats must be
//                    identical); line items → the sum of their lines. When no order id repeats
//                    (the common case) it is not built: import_line is read as it.
//
// Conflicts are refused like recordOrder's IDEMPOTENCY_CONFLICT: an order id given twice in the
// file with different content, or already in the database with different content. Identical
// repeats are skipped silently (that is what makes re-imports idempotent).
import { MAX_ITEM_COUNT } from '../db/rules.js';
import type { CustomerRow } from './bulk.js';
import { placeholderName, quote, type StagedLine } from './parse.js';
import type { ImportSql } from './session.js';

export const LINE_COLUMNS = [
  ['line', 'integer'],
  ['eid', 'text'],
  ['ceid', 'text'],
  ['at', 'timestamptz'],
  ['amount', 'numeric'],
  ['price', 'numeric'],
  ['items', 'integer'],
  ['currency', 'text'],
  ['status', 'text'],
] as const;

export const CUSTOMER_STAGING_COLUMNS = [
  ['line', 'integer'],
  ['eid', 'text'],
  ['name', 'text'],
  ['email', 'text'],
  ['gender', 'text'],
  ['birth', 'date'],
  ['country', 'text'],
  ['created', 'timestamptz'],
] as const;

const table = (name: string, columns: readonly (readonly [string, string])[]) =>
  `CREATE TEMP TABLE ${name} (${columns.map(([c, t]) => `${c} ${t}${c === 'line' || c === 'eid' ? ' NOT NULL' : ''}`).join(', ')}) ON COMMIT DROP`;

export async function createStaging(sql: ImportSql): Promise<void> {
  await sql.execute(table('import_line', LINE_COLUMNS));
  await sql.execute(table('import_customer', CUSTOMER_STAGING_COLUMNS));
}

/** A valid orders-file line as a staging row (LINE_COLUMNS). */
export function lineValues(o: StagedLine): (string | null)[] {
  return [String(o.line), o.externalId, o.customerExternalId, o.orderedAt.toISOString(), o.amount, o.unitPrice, String(o.quantity), o.currency, o.status];
}

/** A valid customers-file line as a staging row (CUSTOMER_STAGING_COLUMNS). */
export function customerValues(line: number, c: CustomerRow): (string | null)[] {
  return [String(line), c.externalId, c.name, c.email, c.gender, c.birthDate, c.country, c.createdAt === null ? null : c.createdAt.toISOString()];
}

export interface Conflict {
  line: number;
  reason: string;
}

export interface Found {
  conflicts: Conflict[];
  total: number;
}

const found = <R extends { total: unknown }>(rows: R[], reason: (r: R) => Conflict): Found => ({
  total: rows.length > 0 ? Number(rows[0].total) : 0,
  conflicts: rows.map(reason),
});

/** Customers-file lines repeating an earlier line's customer_id, or (among first lines) its email. */
export async function customerRepeats(sql: ImportSql, limit: number): Promise<Found> {
  const rows = await sql.query<{ line: number; what: string; value: string; first: number; total: unknown }>(
    `WITH c AS (SELECT line, eid, email, min(line) OVER (PARTITION BY eid) AS first FROM import_customer),
          e AS (SELECT line, email, min(line) OVER (PARTITION BY email) AS first FROM c WHERE line = first AND email IS NOT NULL),
          bad AS (SELECT line, 'id' AS what, eid AS value, first FROM c WHERE line <> first
                  UNION ALL SELECT line, 'email', email, first FROM e WHERE line <> first)
     SELECT line, what, value, first, count(*) OVER ()::integer AS total FROM bad ORDER BY line LIMIT $1`,
    [limit],
  );
  return found(rows, (r) => ({
    line: r.line,
    reason: r.what === 'id' ? `duplicate customer_id ${quote(r.value)} (first at line ${r.first})` : `email ${quote(r.value)} is also used at line ${r.first}`,
  }));
}

/** Customers-file emails that belong to another customer in the database. */
export async function customerEmailsTaken(sql: ImportSql, limit: number): Promise<Found> {
  const rows = await sql.query<{ line: number; email: string; owner: string; total: unknown }>(
    `WITH f AS (SELECT DISTINCT ON (eid) line, eid, email FROM import_customer ORDER BY eid, line),
          e AS (SELECT DISTINCT ON (email) line, eid, email FROM f WHERE email IS NOT NULL ORDER BY email, line)
     SELECT e.line, e.email, c."externalId" AS owner, count(*) OVER ()::integer AS total
     FROM e JOIN "Customer" c ON c."email" = e.email AND c."externalId" <> e.eid
     ORDER BY e.line LIMIT $1`,
    [limit],
  );
  return found(rows, (r) => ({ line: r.line, reason: `email ${quote(r.email)} already belongs to customer ${quote(r.owner)} in the database` }));
}

/** Orders' customers that are neither in the customers file nor in the database (first line of each). */
export async function unknownCustomers(sql: ImportSql, customersFile: string, limit: number): Promise<Found> {
  const rows = await sql.query<{ line: number; ceid: string; total: unknown }>(
    `SELECT min(l.line) AS line, l.ceid, count(*) OVER ()::integer AS total
     FROM import_line l
     WHERE NOT EXISTS (SELECT 1 FROM import_customer c WHERE c.eid = l.ceid)
       AND NOT EXISTS (SELECT 1 FROM "Customer" c WHERE c."externalId" = l.ceid)
     GROUP BY l.ceid ORDER BY line LIMIT $1`,
    [limit],
  );
  return found(rows, (r) => ({ line: r.line, reason: `customer ${quote(r.ceid)} is neither in ${customersFile} nor in the database` }));
}

/**
 * Builds import_order and returns the relation to read orders from. Line items: amount = |Σ line
 * amounts| (a line's amount is its amount, else quantity × unit price) rounded to cents, item
 * count = |Σ quantities|, time = the earliest line's; the order is `refunded` when a line carries
 * the cancellation marker or the net (amount, else quantity) is negative, otherwise `paid`.
 * Plain rows: when no order id repeats, import_line itself.
 */
export async function buildOrders(sql: ImportSql, lineItems: boolean): Promise<{ orders: string; lines: number; count: number }> {
  if (lineItems) {
    await sql.execute(`
      CREATE TEMP TABLE import_order ON COMMIT DROP AS
      SELECT min(line) AS line, eid, min(ceid) AS ceid, min(at) AS at,
             abs(round(sum(COALESCE(amount, items * price)), 2)) AS amount, abs(sum(items))::bigint AS items, min(currency) AS currency,
             CASE WHEN bool_or(status = 'refunded') OR COALESCE(sum(COALESCE(amount, items * price)), sum(items)) < 0 THEN 'refunded' ELSE 'paid' END AS status,
             count(*)::integer AS lines
      FROM import_line GROUP BY eid`);
    const [r] = await sql.query<{ lines: number; orders: number }>(
      `SELECT (SELECT count(*) FROM import_line)::integer AS lines, (SELECT count(*) FROM import_order)::integer AS orders`,
    );
    await sql.execute(`CREATE INDEX import_line_eid ON import_line (eid, line)`);
    return { orders: 'import_order', lines: r.lines, count: r.orders };
  }
  const [r] = await sql.query<{ lines: number; orders: number }>(`SELECT count(*)::integer AS lines, count(DISTINCT eid)::integer AS orders FROM import_line`);
  if (r.lines === r.orders) {
    return { orders: `(SELECT line, eid, ceid, at, amount, items::bigint AS items, currency, status, 1 AS lines FROM import_line)`, lines: r.lines, count: r.orders };
  }
  await sql.execute(`CREATE INDEX import_line_eid ON import_line (eid, line)`);
  await sql.execute(`
    CREATE TEMP TABLE import_order ON COMMIT DROP AS
    SELECT DISTINCT ON (eid) line, eid, ceid, at, amount, items::bigint AS items, currency, status, 1 AS lines
    FROM import_line ORDER BY eid, line`);
  return { orders: 'import_order', lines: r.lines, count: r.orders };
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

type SideRow = { line: number; eid: string; total: unknown } & { [K in `a_${keyof Side}` | `b_${keyof Side}`]: string | null };

const side = (r: SideRow, p: 'a' | 'b'): Side => ({
  ceid: r[`${p}_ceid`]!,
  at: r[`${p}_at`]!,
  amount: r[`${p}_amount`],
  items: r[`${p}_items`]!,
  currency: r[`${p}_currency`]!.trim(),
  status: r[`${p}_status`]!,
});

const iso = (col: string) => `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * Lines that repeat an order id with other content. Plain rows: any field differs from the id's
 * first line. Line items: the customer or currency differs (lines of one order are summed, and
 * may differ in time: the earliest counts).
 */
export async function conflictsInFile(sql: ImportSql, lineItems: boolean, limit: number): Promise<Found> {
  const differs = lineItems
    ? `(l.ceid, l.currency) IS DISTINCT FROM (o.ceid, o.currency)`
    : `(l.ceid, l.at, l.amount, l.items, l.currency, l.status) IS DISTINCT FROM (o.ceid, o.at, o.amount, o.items, o.currency, o.status)`;
  const first = lineItems ? `(SELECT DISTINCT ON (eid) * FROM import_line ORDER BY eid, line)` : `import_order`;
  const rows = await sql.query<SideRow & { first_line: number }>(
    `SELECT l.line, l.eid, o.line AS first_line, count(*) OVER ()::integer AS total,
           l.ceid AS a_ceid, ${iso('l.at')} AS a_at, l.amount::text AS a_amount, l.items::text AS a_items, l.currency AS a_currency, l.status AS a_status,
           o.ceid AS b_ceid, ${iso('o.at')} AS b_at, o.amount::text AS b_amount, o.items::text AS b_items, o.currency AS b_currency, o.status AS b_status
    FROM import_line l JOIN ${first} o ON o.eid = l.eid
    WHERE l.line <> o.line AND ${differs}
    ORDER BY l.line LIMIT $1`,
    [limit],
  );
  return found(rows, (r) => {
    const a = side(r, 'a');
    const b = side(r, 'b');
    if (lineItems) {
      const what = differences({ ...a, at: b.at, amount: b.amount, items: b.items, status: b.status }, b, 'there');
      return { line: r.line, reason: `a line of order ${quote(r.eid)} differs from its line ${r.first_line}: ${what} (the lines of one order share customer and currency)` };
    }
    return { line: r.line, reason: `order_id ${quote(r.eid)} repeats line ${r.first_line} with different content: ${differences(a, b, 'there')}` };
  });
}

/** Orders whose id is already in the database with other content (as recordOrder's IDEMPOTENCY_CONFLICT). */
export async function conflictsWithDatabase(sql: ImportSql, orders: string, limit: number): Promise<Found> {
  const rows = await sql.query<SideRow>(
    `SELECT i.line, i.eid, count(*) OVER ()::integer AS total,
           i.ceid AS a_ceid, ${iso('i.at')} AS a_at, i.amount::text AS a_amount, i.items::text AS a_items, i.currency AS a_currency, i.status AS a_status,
           c."externalId" AS b_ceid, ${iso('o."orderedAt"')} AS b_at, CASE WHEN o."amountKnown" THEN o."amount"::text END AS b_amount,
           o."itemCount"::text AS b_items, o."currency"::text AS b_currency, o."status"::text AS b_status
    FROM ${orders} i
    JOIN "Order" o ON o."externalId" = i.eid
    JOIN "Customer" c ON c."id" = o."customerId"
    WHERE (c."externalId", o."orderedAt", CASE WHEN o."amountKnown" THEN o."amount" END, o."itemCount"::bigint, o."currency"::text, o."status"::text)
          IS DISTINCT FROM (i.ceid, i.at, i.amount, i.items, i.currency, i.status)
    ORDER BY i.line LIMIT $1`,
    [limit],
  );
  return found(rows, (r) => ({
    line: r.line,
    reason: `order ${quote(r.eid)} is already in the database with different content (IDEMPOTENCY_CONFLICT): ${differences(side(r, 'a'), side(r, 'b'), 'in the database')}`,
  }));
}

/** Summed orders beyond what an order may hold (line items only; plain rows are checked per row). */
export async function oversizedOrders(sql: ImportSql, limit: number): Promise<Found> {
  const rows = await sql.query<{ line: number; eid: string; amount: string | null; items: string; lines: number; total: unknown }>(
    `SELECT line, eid, amount::text AS amount, items::text AS items, lines, count(*) OVER ()::integer AS total
    FROM import_order WHERE amount >= 10000000000 OR items > ${MAX_ITEM_COUNT}
    ORDER BY line LIMIT $1`,
    [limit],
  );
  return found(rows, (r) => ({
    line: r.line,
    reason: `order ${quote(r.eid)} (${r.lines} lines) sums to ${r.items} items and ${r.amount ?? 'no'} amount: at most ${MAX_ITEM_COUNT} items and 9,999,999,999.99`,
  }));
}

/**
 * A UUIDv7 (RFC 9562) for the n-th row a merge inserts: the import's start in milliseconds, then n
 * as a 44-bit counter (the spec's "fixed bit-length dedicated counter"), then 30 random bits. Rows
 * of one import get increasing ids and later imports larger ones, so the primary-key and
 * (customerId, …) indexes grow at their right edge instead of taking random inserts all over a
 * B-tree far larger than the server's buffers — what made the merge of millions of rows slow with
 * gen_random_uuid(). Ids made by the API (gen_random_uuid) stay as they are.
 */
export function uuidV7(startMs: number, n: string): string {
  const ms = Math.trunc(startMs);
  return `(lpad(to_hex(${ms}::bigint), 12, '0') || '7' || lpad(to_hex((${n} >> 32) & 4095), 3, '0')
          || to_hex(32768 | ((${n} >> 18) & 16383))
          || lpad(to_hex(((${n} & 262143) << 30) | floor(random() * 1073741824)::bigint), 12, '0'))::uuid`;
}

/**
 * 'merge': rows whose externalId exists are skipped (ON CONFLICT DO NOTHING); 'empty': the table
 * is empty and locked (bulkLoad), and the staged rows have distinct ids (the checks refused
 * repeats), so nothing can conflict — and the unique index ON CONFLICT needs is not there yet.
 */
export type Into = 'merge' | 'empty';
const onConflict = (into: Into) => (into === 'merge' ? 'ON CONFLICT ("externalId") DO NOTHING' : '');

export interface CustomerMerge {
  /** Customer rows considered: customers-file rows, or the distinct customers of the orders. */
  rows: number;
  inserted: number;
  /** Orders' customers not in the customers file (they are in the database). */
  referencedOnly: number;
}

/**
 * Inserts the customers-file rows that are new (existing externalIds are left as they are);
 * created_at, when the file has none, is the customer's first order in the file (only those
 * customers' lines are aggregated: a file with created_at everywhere costs no GROUP BY).
 */
export async function insertStagedCustomers(sql: ImportSql, startMs: number, into: Into = 'merge'): Promise<CustomerMerge> {
  const inserted = await sql.execute(`
    INSERT INTO "Customer" ("id", "externalId", "name", "email", "gender", "birthDate", "country", "createdAt", "updatedAt")
    SELECT ${uuidV7(startMs, '(row_number() OVER (ORDER BY c.line))')}, c.eid, c.name, c.email, c.gender, c.birth, c.country, COALESCE(c.created, f.first_at, CURRENT_TIMESTAMP), CURRENT_TIMESTAMP
    FROM import_customer c
    LEFT JOIN (SELECT ceid, min(at) AS first_at FROM import_line
               WHERE ceid IN (SELECT eid FROM import_customer WHERE created IS NULL) GROUP BY ceid) f ON f.ceid = c.eid
    ORDER BY c.line
    ${onConflict(into)}`);
  const [r] = await sql.query<{ rows: number; referenced: number }>(
    `SELECT (SELECT count(*) FROM import_customer)::integer AS rows,
            (SELECT count(DISTINCT l.ceid) FROM import_line l WHERE NOT EXISTS (SELECT 1 FROM import_customer c WHERE c.eid = l.ceid))::integer AS referenced`,
  );
  return { rows: r.rows, inserted, referencedOnly: r.referenced };
}

/** Orders-only imports: a placeholder customer (`Customer <id>`, created at its first order) per unknown id. */
export async function insertPlaceholderCustomers(sql: ImportSql, startMs: number, into: Into = 'merge'): Promise<CustomerMerge> {
  const inserted = await sql.execute(
    `INSERT INTO "Customer" ("id", "externalId", "name", "createdAt", "updatedAt")
     SELECT ${uuidV7(startMs, '(row_number() OVER (ORDER BY min(line)))')}, ceid, $1 || ceid, min(at), CURRENT_TIMESTAMP
     FROM import_line GROUP BY ceid ORDER BY min(line)
     ${onConflict(into)}`,
    [placeholderName('')],
  );
  const [r] = await sql.query<{ rows: number }>(`SELECT count(DISTINCT ceid)::integer AS rows FROM import_line`);
  return { rows: r.rows, inserted, referencedOnly: 0 };
}

/**
 * Inserts the orders into "Order" (identical existing orders are skipped); returns how many were
 * new. In (customer, time) order, the order of the (customerId, orderedAt, id) index.
 */
export async function insertStagedOrders(sql: ImportSql, orders: string, startMs: number, into: Into = 'merge'): Promise<number> {
  return sql.execute(`
    INSERT INTO "Order" ("id", "customerId", "externalId", "orderedAt", "amount", "itemCount", "currency", "status", "amountKnown")
    SELECT ${uuidV7(startMs, '(row_number() OVER (ORDER BY c."id", i.at, i.line))')}, c."id", i.eid, i.at, COALESCE(i.amount, 0), i.items::integer, i.currency, i.status::"OrderStatus", i.amount IS NOT NULL
    FROM ${orders} i JOIN "Customer" c ON c."externalId" = i.ceid
    ORDER BY c."id", i.at, i.line
    ${onConflict(into)}`);
}

/** A table being bulk-loaded without its secondary indexes and foreign keys (see bulkLoad). */
export interface BulkLoad {
  /** Recreates the indexes (each built in one sort) and the foreign keys (each checked in one join). */
  rebuild(): Promise<void>;
}

/**
 * A merge into an EMPTY table (a first import) inserts far faster without the table's secondary
 * indexes and foreign keys: maintained row by row, the order merge spends most of its time on
 * random B-tree inserts and a foreign-key look-up (and row lock) per order. So when `table` is
 * empty, it is locked (ACCESS EXCLUSIVE, to the end of the import's transaction: the API's queries
 * on it wait — the table is empty, there is nothing to serve yet), its secondary indexes (not the
 * primary key or indexes behind constraints) and its foreign keys are dropped, and rebuild() puts
 * them back from their catalogue definitions after the insert — inside the same transaction, so a
 * failed or killed import rolls the drops back with everything else. A rebuilt unique index or
 * foreign key that does not hold fails the import as the row-by-row checks would have. Returns
 * null (nothing changed, no lock taken) when the table has rows.
 */
export async function bulkLoad(sql: ImportSql, table: 'Customer' | 'Order'): Promise<BulkLoad | null> {
  const empty = async () => (await sql.query<{ empty: boolean }>(`SELECT NOT EXISTS (SELECT 1 FROM "${table}") AS empty`))[0].empty;
  if (!(await empty())) return null;
  await sql.execute(`LOCK TABLE "${table}" IN ACCESS EXCLUSIVE MODE`);
  if (!(await empty())) return null; // rows committed between the look and the lock: the usual merge
  const indexes = await sql.query<{ name: string; def: string }>(
    `SELECT quote_ident(c.relname) AS name, pg_get_indexdef(i.indexrelid) AS def
     FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
     WHERE i.indrelid = '"${table}"'::regclass AND NOT i.indisprimary
       AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
     ORDER BY c.relname`,
  );
  const keys = await sql.query<{ name: string; def: string }>(
    `SELECT quote_ident(conname) AS name, pg_get_constraintdef(oid) AS def FROM pg_constraint
     WHERE conrelid = '"${table}"'::regclass AND contype = 'f' ORDER BY conname`,
  );
  for (const k of keys) await sql.execute(`ALTER TABLE "${table}" DROP CONSTRAINT ${k.name}`);
  for (const i of indexes) await sql.execute(`DROP INDEX ${i.name}`);
  return {
    async rebuild() {
      for (const i of indexes) await sql.execute(i.def);
      for (const k of keys) await sql.execute(`ALTER TABLE "${table}" ADD CONSTRAINT ${k.name} ${k.def}`);
    },
  };
}
