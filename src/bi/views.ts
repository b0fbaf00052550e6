// The `bi` schema: read-only SQL views for BI tools (Metabase, Superset, Tableau, Power BI) over
// customers, orders, stored scores and scoring runs. Which columns a view shows, masks or leaves out
// is not a second list: it is read from the GraphQL field policy of the `bi` role
// (src/graphql/auth/policy.ts), column by column through the GraphQL field each column backs.
// The committed migration holds the SQL generated here; test/bi.views.test.ts fails when the two
// drift (regenerate with `npm run bi -- sql`).
import { ruleFor } from '../graphql/auth/policy.js';

export const BI_SCHEMA = 'bi';
export const BI_ROLE = 'bi';

interface Column {
  /** Column of the base table (quoted as Prisma names it). */
  source: string;
  /** Column name in the view (snake_case for SQL users). */
  as: string;
  /** The GraphQL field whose policy rule governs this column: `Type.field`. */
  field: string;
  /** SQL type of a masked non-text value (its NULL needs a type). */
  type: 'text' | 'date' | 'timestamptz' | 'numeric' | 'int' | 'float8' | 'jsonb' | 'uuid';
}

interface View {
  name: string;
  table: string;
  comment: string;
  columns: Column[];
}

const col = (source: string, as: string, field: string, type: Column['type'] = 'text'): Column => ({ source, as, field, type });

export const views: View[] = [
  {
    name: 'customers',
    table: 'Customer',
    comment: 'One row per customer, personal data masked as for the bi API role.',
    columns: [
      col('id', 'customer_id', 'Customer.id', 'uuid'),
      col('externalId', 'external_id', 'Customer.externalId'),
      col('name', 'name', 'Customer.name'),
      col('email', 'email', 'Customer.email'),
      col('gender', 'gender', 'Customer.gender'),
      col('birthDate', 'birth_date', 'Customer.birthDate', 'date'),
      col('country', 'country', 'Customer.country'),
      col('createdAt', 'created_at', 'Customer.createdAt', 'timestamptz'),
      col('updatedAt', 'updated_at', 'Customer.updatedAt', 'timestamptz'),
    ],
  },
  {
    name: 'orders',
    table: 'Order',
    comment: 'One row per order (paid, refunded or cancelled).',
    columns: [
      col('id', 'order_id', 'Order.id', 'uuid'),
      col('customerId', 'customer_id', 'Order.customerId', 'uuid'),
      col('externalId', 'external_id', 'Order.externalId'),
      col('orderedAt', 'ordered_at', 'Order.orderedAt', 'timestamptz'),
      col('amount', 'amount', 'Order.amount', 'numeric'),
      col('itemCount', 'item_count', 'Order.itemCount', 'int'),
      col('currency', 'currency', 'Order.currency'),
      col('status', 'status', 'Order.status'),
      col('createdAt', 'created_at', 'Order.createdAt', 'timestamptz'),
    ],
  },
  {
    name: 'customer_scores',
    table: 'CustomerScore',
    comment: 'Stored scores of `npm run score`: one row per customer and model.',
    columns: [
      col('customerId', 'customer_id', 'Customer.id', 'uuid'),
      col('model', 'model', 'StoredScore.model'),
      col('modelVersion', 'model_version', 'StoredScore.modelVersion'),
      col('segment', 'segment', 'StoredScore.segment'),
      col('probability', 'probability', 'StoredScore.probability', 'float8'),
      col('probabilities', 'segment_probabilities', 'StoredScore.segmentProbabilities', 'jsonb'),
      col('asOf', 'as_of', 'StoredScore.asOf', 'timestamptz'),
      col('scoredAt', 'scored_at', 'StoredScore.scoredAt', 'timestamptz'),
      col('runId', 'run_id', 'ScoreRunInfo.id', 'int'),
      // Lifetime figures (90 days), derived from the orders: the policy of their sources applies.
      col('pAlive', 'p_alive', 'StoredScore.pAlive', 'float8'),
      col('expectedOrders', 'expected_orders_90d', 'StoredScore.expectedOrders', 'float8'),
      col('predictedClv', 'predicted_clv_90d', 'StoredScore.predictedClv', 'float8'),
    ],
  },
  {
    name: 'score_runs',
    table: 'ScoreRun',
    comment: 'Batch-scoring runs: which model version, as of when, how far, how fresh.',
    columns: [
      col('id', 'run_id', 'ScoreRunInfo.id', 'int'),
      col('model', 'model', 'SegmentSummary.model'),
      col('modelVersion', 'model_version', 'ScoreRunInfo.modelVersion'),
      col('asOf', 'as_of', 'ScoreRunInfo.asOf', 'timestamptz'),
      col('status', 'status', 'ScoreRunInfo.status'),
      col('customersScored', 'customers_scored', 'ScoreRunInfo.customersScored', 'int'),
      col('startedAt', 'started_at', 'ScoreRunInfo.startedAt', 'timestamptz'),
      col('updatedAt', 'updated_at', 'ScoreRunInfo.updatedAt', 'timestamptz'),
      col('finishedAt', 'finished_at', 'ScoreRunInfo.finishedAt', 'timestamptz'),
    ],
  },
];

const ident = (s: string) => `"${s.replace(/"/g, '""')}"`;

/** What the `bi` role gets for a column: the value, a mask, or nothing. */
export function columnRule(field: string): 'allow' | 'mask' | 'deny' {
  const [type, name] = field.split('.');
  const rule = ruleFor(BI_ROLE, type, name);
  // A guard decides per request from GraphQL arguments; a view has none, so it counts as denied.
  return rule === 'allow' || rule === 'mask' ? rule : 'deny';
}

function selectExpression(c: Column): string | null {
  const rule = columnRule(c.field);
  if (rule === 'deny') return null;
  if (rule === 'allow') return `${ident(c.source)} AS ${ident(c.as)}`;
  // As the API masks: a string that is set reads "***", anything else reads NULL.
  return c.type === 'text'
    ? `CASE WHEN ${ident(c.source)} IS NULL THEN NULL ELSE '***' END AS ${ident(c.as)}`
    : `NULL::${c.type} AS ${ident(c.as)}`;
}

/** The SQL that (re)creates the `bi` schema and its views. Idempotent. */
export function biViewsSql(): string {
  const parts = [
    '-- Generated by src/bi/views.ts from the bi role\'s field policy (npm run bi -- sql). Do not edit by hand:',
    '-- test/bi.views.test.ts compares this file with the generator.',
    `CREATE SCHEMA IF NOT EXISTS ${BI_SCHEMA};`,
  ];
  for (const v of views) {
    const columns = v.columns.map(selectExpression).filter((s): s is string => s !== null);
    // CREATE OR REPLACE keeps the grants of existing views (a dropped view would lose them). A later
    // change that removes or retypes a column must drop the view; `ALTER DEFAULT PRIVILEGES` (set by
    // `npm run bi -- grant`) then grants the recreated view to the BI roles again.
    parts.push(
      `CREATE OR REPLACE VIEW ${BI_SCHEMA}.${ident(v.name)} AS\n  SELECT\n    ${columns.join(',\n    ')}\n  FROM public.${ident(v.table)};`,
      `COMMENT ON VIEW ${BI_SCHEMA}.${ident(v.name)} IS '${v.comment.replace(/'/g, "''")}';`,
    );
  }
  return `${parts.join('\n')}\n`;
}

/** Statements that make `role` a read-only reader of the `bi` schema of `database`, and of nothing else. */
export function grantStatements(role: string, database: string, password?: string): string[] {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(role)) throw new Error(`Role name must be lower-case letters, digits and _ (got ${JSON.stringify(role)})`);
  const r = ident(role);
  const lit = (s: string) => `'${s.replace(/'/g, "''")}'`;
  return [
    `DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = ${lit(role)}) THEN CREATE ROLE ${r}; END IF; END $$`,
    `ALTER ROLE ${r} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS${password ? ` PASSWORD ${lit(password)}` : ''}`,
    // Read-only in every session, and the views first on its path.
    `ALTER ROLE ${r} IN DATABASE ${ident(database)} SET default_transaction_read_only = on`,
    `ALTER ROLE ${r} IN DATABASE ${ident(database)} SET search_path = ${BI_SCHEMA}`,
    `GRANT CONNECT ON DATABASE ${ident(database)} TO ${r}`,
    // Base tables are never granted; PUBLIC's default USAGE on schema public is taken away for this role's
    // sake by not granting anything in it (tables in public carry no PUBLIC grants).
    `REVOKE ALL ON ALL TABLES IN SCHEMA public FROM ${r}`,
    `REVOKE CREATE ON SCHEMA ${BI_SCHEMA} FROM ${r}`,
    `GRANT USAGE ON SCHEMA ${BI_SCHEMA} TO ${r}`,
    `GRANT SELECT ON ALL TABLES IN SCHEMA ${BI_SCHEMA} TO ${r}`,
    // Views that later migrations add (run as this same user) are readable too.
    `ALTER DEFAULT PRIVILEGES IN SCHEMA ${BI_SCHEMA} GRANT SELECT ON TABLES TO ${r}`,
  ];
}

/** Statements that take the role's access away again (the role itself is dropped when it owns nothing). */
export function revokeStatements(role: string, database: string): string[] {
  const r = ident(role);
  return [
    `REVOKE ALL ON ALL TABLES IN SCHEMA ${BI_SCHEMA} FROM ${r}`,
    `ALTER DEFAULT PRIVILEGES IN SCHEMA ${BI_SCHEMA} REVOKE SELECT ON TABLES FROM ${r}`,
    `REVOKE USAGE ON SCHEMA ${BI_SCHEMA} FROM ${r}`,
    `REVOKE CONNECT ON DATABASE ${ident(database)} FROM ${r}`,
    `ALTER ROLE ${r} IN DATABASE ${ident(database)} RESET ALL`,
    `ALTER ROLE ${r} NOLOGIN`,
  ];
}
