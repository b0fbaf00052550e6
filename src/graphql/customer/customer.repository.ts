// SQL for customers. Every function takes a batch (ids) or a whole page, so that resolvers and
// DataLoaders cost a constant number of statements per request, whatever the page size.
import { Prisma } from '../../generated/prisma/client.js';
import type { Database } from '../../db/client.js';
import { isValidCursorValue, type CursorPosition, type CursorValueType } from '../common/connection.js';
import { CustomerSortField, SortDirection, type CustomerFilter, type CustomerOrderBy } from './customer.input.js';
import type { Customer, CustomerStats, Gender } from './customer.type.js';

const { sql, join, empty, raw } = Prisma;

type CustomerRow = {
  id: string;
  externalId: string;
  email: string | null;
  name: string;
  gender: string | null;
  birthDate: Date | string | null;
  country: string | null;
  createdAt: Date;
  updatedAt: Date;
};

export function toCustomer(row: CustomerRow): Customer {
  const birth = row.birthDate instanceof Date ? row.birthDate.toISOString().slice(0, 10) : row.birthDate;
  return { ...row, gender: row.gender as Gender | null, birthDate: birth };
}

const customerColumns = sql`c."id", c."externalId", c."email", c."name", c."gender", c."birthDate", c."country", c."createdAt", c."updatedAt"`;

export async function customersByIds(db: Database, ids: readonly string[]): Promise<Customer[]> {
  const rows = await db.prisma.$queryRaw<CustomerRow[]>`
    SELECT ${customerColumns} FROM "Customer" c WHERE c."id" = ANY(${ids}::uuid[])`;
  return rows.map(toCustomer);
}

export async function customersByExternalIds(db: Database, externalIds: readonly string[]): Promise<Customer[]> {
  const rows = await db.prisma.$queryRaw<CustomerRow[]>`
    SELECT ${customerColumns} FROM "Customer" c WHERE c."externalId" = ANY(${externalIds}::text[])`;
  return rows.map(toCustomer);
}

// ---- listing ---------------------------------------------------------------------------------

/** Paid-order aggregates, joined only when a filter or the ordering needs them. */
const statsJoin = sql`LEFT JOIN LATERAL (
    SELECT count(*)::int AS order_count, coalesce(sum(o."amount"), 0) AS total_spent, max(o."orderedAt") AS last_order_at
    FROM "Order" o WHERE o."customerId" = c."id" AND o."status" = 'paid'
  ) s ON true`;

type SortColumn = { expr: Prisma.Sql; type: CursorValueType; needsStats: boolean; needsScore?: boolean };

const sortColumns: Record<Exclude<CustomerSortField, CustomerSortField.PROBABILITY | CustomerSortField.PREDICTED_CLV>, SortColumn> = {
  [CustomerSortField.CREATED_AT]: { expr: sql`c."createdAt"`, type: 'timestamptz', needsStats: false },
  [CustomerSortField.EXTERNAL_ID]: { expr: sql`c."externalId"`, type: 'text', needsStats: false },
  [CustomerSortField.ORDER_COUNT]: { expr: sql`s.order_count`, type: 'int', needsStats: true },
  [CustomerSortField.TOTAL_SPENT]: { expr: sql`s.total_spent`, type: 'numeric', needsStats: true },
  // Customers without paid orders sort first ascending, as if they had bought at the start of time.
  [CustomerSortField.LAST_ORDER_AT]: { expr: sql`coalesce(s.last_order_at, '-infinity'::timestamptz)`, type: 'timestamptz', needsStats: true },
};

/** A forged cursor whose sort value PostgreSQL cannot read as the ordering's type never reaches the database. */
export function isValidSortValue(field: CustomerSortField, value: string | null): boolean {
  return isValidCursorValue(sortColumn(field, false, null, false).type, value);
}

/**
 * The stored probability (CustomerScore). With an inner join (a score filter is present) every row
 * has one and the (model, [segment,] probability, customerId) indexes serve the order; with a left
 * join, customers without a stored score come last in either direction (±Infinity).
 */
function sortColumn(field: CustomerSortField, desc: boolean, scoreJoin: 'inner' | 'left' | null, clvFiltered: boolean): SortColumn {
  if (field === CustomerSortField.PREDICTED_CLV) {
    // Nullable even for customers with a stored score (a card without lifetime parameters, a
    // customer without paid orders): those come last in either direction, unless the
    // minPredictedClv filter already left them out (then the (model, predictedClv, customerId) index serves the order).
    const expr = clvFiltered
      ? sql`cs."predictedClv"`
      : desc
        ? sql`coalesce(cs."predictedClv", '-Infinity'::float8)`
        : sql`coalesce(cs."predictedClv", 'Infinity'::float8)`;
    return { expr, type: 'float8', needsStats: false, needsScore: true };
  }
  if (field !== CustomerSortField.PROBABILITY) return sortColumns[field];
  const expr =
    scoreJoin === 'inner'
      ? sql`cs."probability"`
      : desc
        ? sql`coalesce(cs."probability", '-Infinity'::float8)`
        : sql`coalesce(cs."probability", 'Infinity'::float8)`;
  return { expr, type: 'float8', needsStats: false, needsScore: true };
}

/** The stored scores of one model; inner = only customers that have one. */
const scoreJoin = (kind: 'inner' | 'left', model: string) =>
  sql`${raw(kind === 'inner' ? 'JOIN' : 'LEFT JOIN')} "CustomerScore" cs ON cs."customerId" = c."id" AND cs."model" = ${model}`;

function filterConditions(filter: CustomerFilter | null | undefined): { conditions: Prisma.Sql[]; needsStats: boolean; needsScore: boolean } {
  const f = filter ?? {};
  const conditions: Prisma.Sql[] = [];
  if (f.countries?.length) conditions.push(sql`c."country" = ANY(${f.countries}::text[])`);
  if (f.gender) conditions.push(sql`c."gender" = ${f.gender}`);
  if (f.createdFrom) conditions.push(sql`c."createdAt" >= ${f.createdFrom}`);
  if (f.createdTo) conditions.push(sql`c."createdAt" < ${f.createdTo}`);
  const statsConditions: Prisma.Sql[] = [];
  if (f.minOrderCount != null) statsConditions.push(sql`s.order_count >= ${f.minOrderCount}`);
  if (f.maxOrderCount != null) statsConditions.push(sql`s.order_count <= ${f.maxOrderCount}`);
  if (f.minTotalSpent != null) statsConditions.push(sql`s.total_spent >= ${f.minTotalSpent}::numeric`);
  if (f.maxTotalSpent != null) statsConditions.push(sql`s.total_spent <= ${f.maxTotalSpent}::numeric`);
  if (f.lastOrderFrom) statsConditions.push(sql`s.last_order_at >= ${f.lastOrderFrom}`);
  if (f.lastOrderTo) statsConditions.push(sql`(s.last_order_at < ${f.lastOrderTo} OR s.last_order_at IS NULL)`);
  const scoreConditions: Prisma.Sql[] = [];
  if (f.segment != null) scoreConditions.push(sql`cs."segment" = ${f.segment}`);
  if (f.minProbability != null) scoreConditions.push(sql`cs."probability" >= ${String(f.minProbability)}::float8`);
  if (f.maxProbability != null) scoreConditions.push(sql`cs."probability" <= ${String(f.maxProbability)}::float8`);
  if (f.minPredictedClv != null) scoreConditions.push(sql`cs."predictedClv" >= ${String(f.minPredictedClv)}::float8`);
  return {
    conditions: [...conditions, ...scoreConditions, ...statsConditions],
    needsStats: statsConditions.length > 0,
    needsScore: scoreConditions.length > 0,
  };
}

const where = (conditions: Prisma.Sql[]) => (conditions.length ? sql`WHERE ${join(conditions, ' AND ')}` : empty);

export interface CustomerListArgs {
  filter?: CustomerFilter | null;
  orderBy: CustomerOrderBy;
  first: number;
  after?: CursorPosition | null;
  /** Model whose stored scores the score filters and the PROBABILITY ordering use. */
  scoreModel: string;
}

/** One keyset page: `first` rows after the cursor, plus whether more follow. */
export async function listCustomers(
  db: Database,
  args: CustomerListArgs,
): Promise<{ rows: { customer: Customer; sortValue: string | null }[]; hasNextPage: boolean }> {
  const desc = args.orderBy.direction === SortDirection.DESC;
  const { conditions, needsStats, needsScore } = filterConditions(args.filter);
  const sort = sortColumn(args.orderBy.field, desc, needsScore ? 'inner' : 'left', args.filter?.minPredictedClv != null);
  const joinScores = needsScore ? scoreJoin('inner', args.scoreModel) : sort.needsScore ? scoreJoin('left', args.scoreModel) : empty;
  if (args.after) {
    const cmp = raw(desc ? '<' : '>');
    const value = args.after.value === null ? sql`NULL` : sql`${args.after.value}::${raw(sort.type)}`;
    conditions.push(sql`(${sort.expr}, c."id") ${cmp} (${value}, ${args.after.id}::uuid)`);
  }
  const dir = raw(desc ? 'DESC' : 'ASC');
  const rows = await db.prisma.$queryRaw<(CustomerRow & { sort_value: string | null })[]>`
    SELECT ${customerColumns}, (${sort.expr})::text AS sort_value
    FROM "Customer" c ${joinScores} ${needsStats || sort.needsStats ? statsJoin : empty}
    ${where(conditions)}
    ORDER BY ${sort.expr} ${dir}, c."id" ${dir}
    LIMIT ${args.first + 1}`;
  return {
    rows: rows.slice(0, args.first).map(({ sort_value, ...row }) => ({ customer: toCustomer(row), sortValue: sort_value })),
    hasNextPage: rows.length > args.first,
  };
}

export async function countCustomers(db: Database, filter: CustomerFilter | null | undefined, scoreModel: string): Promise<number> {
  const { conditions, needsStats, needsScore } = filterConditions(filter);
  const [row] = await db.prisma.$queryRaw<{ n: number }[]>`
    SELECT count(*)::int AS n FROM "Customer" c ${needsScore ? scoreJoin('inner', scoreModel) : empty} ${needsStats ? statsJoin : empty} ${where(conditions)}`;
  return row.n;
}

// ---- per-customer aggregates and orders (DataLoader batch functions) --------------------------

export async function statsByCustomerIds(db: Database, ids: readonly string[]): Promise<Map<string, CustomerStats>> {
  const rows = await db.prisma.$queryRaw<
    { customerId: string; order_count: number; total_spent: Prisma.Decimal; first_order_at: Date | null; last_order_at: Date | null }[]
  >`
    SELECT o."customerId", count(*)::int AS order_count, sum(o."amount") AS total_spent,
           min(o."orderedAt") AS first_order_at, max(o."orderedAt") AS last_order_at
    FROM "Order" o
    WHERE o."customerId" = ANY(${ids}::uuid[]) AND o."status" = 'paid'
    GROUP BY o."customerId"`;
  const result = new Map<string, CustomerStats>();
  for (const r of rows) {
    const total = new Prisma.Decimal(r.total_spent);
    result.set(r.customerId, {
      orderCount: r.order_count,
      totalSpent: total.toFixed(2),
      averageOrderValue: total.div(r.order_count).toFixed(2),
      firstOrderAt: r.first_order_at,
      lastOrderAt: r.last_order_at,
    });
  }
  return result;
}

export const emptyStats: CustomerStats = { orderCount: 0, totalSpent: '0.00', averageOrderValue: null, firstOrderAt: null, lastOrderAt: null };

// ---- writes ---------------------------------------------------------------------------------

/** Validated fields of an upsert; `undefined` means "leave unchanged", null clears. */
export interface CustomerWrite {
  externalId: string;
  name?: string;
  email?: string | null;
  gender?: string | null;
  birthDate?: string | null;
  country?: string | null;
  createdAt?: Date | null;
}

const writableColumns = ['name', 'email', 'gender', 'birthDate', 'country'] as const;

/**
 * Inserts or updates by externalId in one atomic statement (safe under concurrent retries).
 * Returns null when the customer does not exist and no name was given to create it.
 */
export async function upsertCustomer(db: Database, w: CustomerWrite): Promise<Customer | null> {
  const given = writableColumns.filter((col) => w[col] !== undefined);
  const setList = join(
    [...given.map((col) => sql`${raw(`"${col}"`)} = EXCLUDED.${raw(`"${col}"`)}`), sql`"updatedAt" = now()`],
    ', ',
  );
  if (w.name === undefined) {
    if (given.length === 0) {
      return (await customersByExternalIds(db, [w.externalId]))[0] ?? null;
    }
    const rows = await db.prisma.$queryRaw<CustomerRow[]>`
      UPDATE "Customer" c SET ${join(
        [...given.map((col) => sql`${raw(`"${col}"`)} = ${col === 'birthDate' ? sql`${w[col]}::date` : sql`${w[col]}`}`), sql`"updatedAt" = now()`],
        ', ',
      )}
      WHERE c."externalId" = ${w.externalId}
      RETURNING ${customerColumns}`;
    return rows[0] ? toCustomer(rows[0]) : null;
  }
  const rows = await db.prisma.$queryRaw<CustomerRow[]>`
    INSERT INTO "Customer" AS c ("externalId", "name", "email", "gender", "birthDate", "country", "createdAt")
    VALUES (${w.externalId}, ${w.name}, ${w.email ?? null}, ${w.gender ?? null}, ${w.birthDate ?? null}::date,
            ${w.country ?? null}, coalesce(${w.createdAt ?? null}::timestamptz, now()))
    ON CONFLICT ("externalId") DO UPDATE SET ${setList}
    RETURNING ${customerColumns}`;
  return toCustomer(rows[0]);
}
