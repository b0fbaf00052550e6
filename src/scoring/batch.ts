// Batch scoring: every customer → features → model → one row per (customer, model) in
// "CustomerScore". Used by `npm run score` (src/scoring/cli.ts), its BullMQ workers
// (src/scoring/distributed.ts) and the tests.
//
// Keyset pages by Customer.id, two statements' worth of work per page:
//   1. the page itself: loadFeatureInputsPage — the feature query pages on its own
//      (`WHERE id > $last ORDER BY id LIMIT $n`), no separate ids query;
//   2. the writes, one short transaction: on PostgreSQL it starts by advancing the run's (or the id
//      range's) keyset position — only if nobody else moved it — then the page's scores are COPYed
//      (pg-copy-streams) straight into "CustomerScore" when none of the page's rows exists yet, else
//      into a temporary staging table and merged by ONE set-based INSERT … SELECT … ON CONFLICT DO
//      UPDATE (copyWriter). The embedded database (PGlite, in-process or through its owner's
//      socket) has no COPY FROM STDIN through Prisma, so there the same merge reads the page from
//      unnest() of text arrays in one statement.
// The columns written are one list (SCORE_COLUMNS): a new "CustomerScore" column is one entry
// there, and both writers, the staging table and the merge follow it.
// The scores of a page and the run's progress commit together, so a re-run with the same model,
// version and asOf continues after the last committed page, and never scores a customer twice.
// Memory is bounded by three pages (one being fetched, one inferred, one written), whatever the
// number of customers. Only row locks are taken (the page's score rows and the run's row), so the
// API keeps serving while this runs.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Database } from '../db/client.js';
import { Prisma } from '../generated/prisma/client.js';
import { computeFeatures, computeSequence, FEATURE_COUNT, loadFeatureInputsPage, SEQUENCE_MAX_ORDERS, SEQUENCE_TOKEN_WIDTH } from '../features/index.js';
import type { LoadedModel } from '../inference/registry.js';
import type { ModelRow } from '../inference/tensors.js';
import type { Scored, Scoring } from './scoring.js';
import { lifetimeOf } from '../lifetime/btyd.js';
import { lifetimeParams } from '../lifetime/card.js';
import { occasionsOf } from '../lifetime/summary.js';
import { outOfScoringRange, SCORING_TIME_RANGE } from './as-of.js';

/** Horizon of the stored lifetime figures (CustomerScore.expectedOrders / predictedClv). */
export const STORED_LIFETIME_HORIZON_DAYS = 90;

const { sql, join, raw, empty } = Prisma;

export const DEFAULT_SCORE_PAGE_SIZE = 5000;
export const MAX_SCORE_PAGE_SIZE = 50_000;

export type ScoreRunStatus = 'running' | 'interrupted' | 'finished' | 'failed' | 'superseded';

export interface ScoreOptions {
  /** Model name; default: the Scoring's default model (DEFAULT_MODEL). */
  model?: string | null;
  /** Model version; default: the promoted version of the model. */
  version?: string | null;
  /** Scoring time; default: Scoring.asOf() (SCORING_AS_OF, else the end of the current UTC day). */
  asOf?: Date | null;
  /** Customers per page (1 … MAX_SCORE_PAGE_SIZE). */
  pageSize?: number;
  /** Start a new run from the first customer even if a run with the same key exists. */
  restart?: boolean;
  /** Stop (resumably) after this many pages in this invocation. */
  maxPages?: number;
  /** Stop (resumably) after the page in progress when aborted. */
  signal?: AbortSignal;
  /** Fetch page n+1 and write page n-1 while page n is inferred (default: on PostgreSQL, off on PGlite). */
  pipeline?: boolean;
  /** Called after every committed page. */
  onProgress?: (progress: ScoreProgress) => void;
  /** Called once the run is chosen, before the first page (e.g. to say "resuming run 3"). */
  onStart?: (start: ScoreStart) => void;
}

export interface ScoreStart {
  runId: number;
  model: string;
  modelVersion: string;
  asOf: Date;
  resumed: boolean;
  /** Customers the run had already scored before this invocation. */
  alreadyScored: number;
  /** Customers in the database when this invocation started. */
  customersTotal: number;
  /** Customers left to score (id after the run's position). */
  customersRemaining: number;
}

export interface ScoreProgress {
  runId: number;
  /** Customers scored by this invocation so far. */
  scored: number;
  /** Customers left when this invocation started. */
  remaining: number;
  pages: number;
  elapsedSeconds: number;
  /** Customers per second over this invocation. */
  rate: number;
}

/** Milliseconds spent in each part (busy time; with pipelining, parts overlap and sum to more than the wall time). */
export interface ScoreTimings {
  /** Statement 1: the keyset page with its feature inputs (database + transfer). */
  featureSql: number;
  /** JSON decoding and feature computation in JavaScript. */
  featureCompute: number;
  /** ONNX Runtime (through the inference service). */
  inference: number;
  /** The writes: COPY into staging + the merge and the run's progress (or the unnest upsert). */
  writes: number;
}

export interface ScoreSummary {
  runId: number;
  model: string;
  modelVersion: string;
  asOf: Date;
  /** finished: every customer scored; alreadyFinished: nothing to do (a finished run has this key); interrupted: stopped, resumable. */
  outcome: 'finished' | 'alreadyFinished' | 'interrupted';
  resumed: boolean;
  /** Customers scored by this invocation. */
  scored: number;
  /** Customers scored by the run in total (across resumptions). */
  runScored: number;
  pages: number;
  seconds: number;
  rate: number;
  timings: ScoreTimings;
  pipelined: boolean;
  /** How the pages were written: `copy` (COPY + merge, PostgreSQL) or `unnest` (one statement, PGlite). */
  writer: WriterKind;
  /** SQL statements sent by this invocation for its pages (reads and writes, including BEGIN/COMMIT). */
  statements: number;
  /** Pages COPYed straight into "CustomerScore" (none of their rows existed); the rest were merged. */
  directPages: number;
}

export class ScoreRunConflictError extends Error {
  override name = 'ScoreRunConflictError';
}

export class ScoreOptionsError extends Error {
  override name = 'ScoreOptionsError';
}

export interface RunRow {
  id: number;
  status: ScoreRunStatus;
  lastCustomerId: string | null;
  customersScored: number;
  pages: number;
  /** Set for a distributed run (its number of id ranges). */
  ranges: number | null;
}

/** What names a run: a customer is scored once per model version and asOf. */
export interface RunKey {
  model: string;
  modelVersion: string;
  asOfIso: string;
}

type Tx = Parameters<Parameters<Database['prisma']['$transaction']>[0]>[0];

/** The run's scoring time: the caller's, else the default; refused outside SCORING_TIME_RANGE, as the API refuses it. */
export function runAsOf(scoring: Scoring, requested: Date | null | undefined): Date {
  const asOf = scoring.asOf(requested ?? null);
  if (outOfScoringRange(asOf)) throw new ScoreOptionsError(`asOf must be ${SCORING_TIME_RANGE} (got ${Number.isNaN(asOf.getTime()) ? 'an invalid date' : asOf.toISOString()})`);
  return asOf;
}

/** The run's page size: the default, or the caller's when it is an integer in range (else ScoreOptionsError). */
export function runPageSize(requested: number | undefined): number {
  const pageSize = requested ?? DEFAULT_SCORE_PAGE_SIZE;
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_SCORE_PAGE_SIZE) {
    throw new ScoreOptionsError(`page size must be an integer from 1 to ${MAX_SCORE_PAGE_SIZE} (got ${pageSize})`);
  }
  return pageSize;
}

const RUN_COLUMNS = sql`"id", "status", "lastCustomerId"::text AS "lastCustomerId", "customersScored", "pages", "ranges"`;

/** The newest run of this key, whatever its status. */
export async function latestRun(db: Database, key: RunKey): Promise<RunRow | undefined> {
  const [row] = await db.prisma.$queryRaw<RunRow[]>`
    SELECT ${RUN_COLUMNS} FROM "ScoreRun"
    WHERE "model" = ${key.model} AND "modelVersion" = ${key.modelVersion} AND "asOf" = ${key.asOfIso}::timestamptz
    ORDER BY "id" DESC LIMIT 1`;
  return row;
}

/** Sets a stopped run running again, with this invocation's page size. */
export async function resumeRun(db: Database, run: RunRow, pageSize: number): Promise<void> {
  await db.prisma.$executeRaw`UPDATE "ScoreRun" SET "status" = 'running', "updatedAt" = now(), "pageSize" = ${pageSize} WHERE "id" = ${run.id}`;
}

/**
 * A new run of this key, in one transaction: the key's unfinished runs are superseded (their
 * workers stop at their next page: runGuard / rangeGuard), the run is inserted, and `then` adds
 * what belongs to it (a distributed run's ranges), so no run is ever left half made.
 */
export async function newRun(
  db: Database,
  key: RunKey,
  pageSize: number,
  options: { ranges?: number; then?: (tx: Tx, runId: number) => Promise<void> } = {},
): Promise<RunRow> {
  return db.prisma.$transaction(async (tx) => {
    await tx.$executeRaw`
      UPDATE "ScoreRun" SET "status" = 'superseded', "updatedAt" = now()
      WHERE "model" = ${key.model} AND "modelVersion" = ${key.modelVersion} AND "asOf" = ${key.asOfIso}::timestamptz AND "status" NOT IN ('finished', 'superseded')`;
    const [run] = await tx.$queryRaw<RunRow[]>`
      INSERT INTO "ScoreRun" ("model", "modelVersion", "asOf", "status", "pageSize", "ranges")
      VALUES (${key.model}, ${key.modelVersion}, ${key.asOfIso}::timestamptz, 'running', ${pageSize}, ${options.ranges ?? null}::int)
      RETURNING ${RUN_COLUMNS}`;
    await options.then?.(tx, run.id);
    return run;
  });
}

/**
 * Finishes a running run and records its segment mix ("ScoreRunSegment") in ONE statement, so a
 * run is finished exactly when its mix is recorded ("CustomerScore" keeps only each customer's
 * latest score: the next run would erase it). `extra`: a further condition on the run (distributed
 * runs: every range done). Yields one row, `finished` = 1 when this statement finished the run.
 */
export function finishRunStatement(runId: number, extra: Prisma.Sql = empty): Prisma.Sql {
  return sql`
    WITH done AS (
      UPDATE "ScoreRun" SET "status" = 'finished', "finishedAt" = now(), "updatedAt" = now()
       WHERE "id" = ${runId} AND "status" = 'running' ${extra}
      RETURNING "id", "model"
    ), mix AS (
      INSERT INTO "ScoreRunSegment" ("runId", "segment", "count", "meanProbability")
      SELECT done."id", cs."segment", count(*)::int, avg(cs."probability")
      FROM done JOIN "CustomerScore" cs ON cs."runId" = done."id" AND cs."model" = done."model"
      GROUP BY done."id", cs."segment"
    )
    SELECT count(*)::int AS "finished" FROM done`;
}

// ── what is written ──────────────────────────────────────────────────────────────────────────────

/** A scored page, as the writers see it. */
export interface ScoredPage {
  /** Customer ids in id order. */
  ids: string[];
  /** Model output per customer (class probabilities, in the model card's class order). */
  probabilities: Float32Array[];
  /** The class the scoring service's rule chose per customer (index into `classes`). */
  segments: number[];
  /** Lifetime figures over STORED_LIFETIME_HORIZON_DAYS, as text (null: no card parameters or no paid order). */
  pAlive: (string | null)[];
  expectedOrders: (string | null)[];
  predictedClv: (string | null)[];
  /** The model's class keys. */
  classes: readonly string[];
}

/**
 * One per-customer column of "CustomerScore" that batch scoring writes. `value` returns the text
 * form PostgreSQL parses for `type` (null = SQL NULL). The staging table, the COPY rows, the
 * unnest arrays, the merge's column list and its ON CONFLICT update all come from this list; the
 * run's constants (model, modelVersion, asOf, scoredAt, runId) are added by the merge.
 */
export interface ScoreColumn {
  name: string;
  type: 'uuid' | 'text' | 'float8' | 'jsonb' | 'int4';
  value: (page: ScoredPage, i: number) => string | null;
}

function probabilitiesJson(page: ScoredPage, i: number): string {
  // The float32 outputs' shortest decimal forms: float8/jsonb parse them back to the same doubles.
  const p = page.probabilities[i];
  let json = '{';
  for (let c = 0; c < page.classes.length; c++) json += `${c ? ',' : ''}${JSON.stringify(page.classes[c])}:${String(p[c])}`;
  return `${json}}`;
}

export const SCORE_COLUMNS: readonly ScoreColumn[] = [
  { name: 'customerId', type: 'uuid', value: (page, i) => page.ids[i] },
  { name: 'segment', type: 'text', value: (page, i) => page.classes[page.segments[i]] },
  { name: 'probability', type: 'float8', value: (page, i) => String(page.probabilities[i][page.segments[i]]) },
  { name: 'probabilities', type: 'jsonb', value: probabilitiesJson },
  { name: 'pAlive', type: 'float8', value: (page, i) => page.pAlive[i] },
  { name: 'expectedOrders', type: 'float8', value: (page, i) => page.expectedOrders[i] },
  { name: 'predictedClv', type: 'float8', value: (page, i) => page.predictedClv[i] },
];

/** Constants of a run that every row gets. */
interface RunConstants {
  runId: number;
  model: string;
  modelVersion: string;
  asOfIso: string;
}

/**
 * The guard of a page's write. `cte`: a data-modifying CTE named `g` that yields the run's id (one
 * row) only when the page may be written — it advances the run's (or range's) keyset position from
 * `previous` to `last`; when it yields nothing, nothing is inserted and the page is refused.
 * `after` (optional): a statement run after the merge in the same transaction that must change one
 * row, else the page is rolled back — for a row many writers share (the run's counters), so its
 * lock is held from that statement to the commit only, not for the whole merge.
 */
export type PageGuard = (previous: string | null, last: string, count: number) => { cte: Prisma.Sql; after?: Prisma.Sql };

/** The run's own keyset position (a run scored by one process). */
export function runGuard(runId: number): PageGuard {
  return (previous, last, count) => ({
    cte: sql`g AS (
    UPDATE "ScoreRun"
       SET "lastCustomerId" = ${last}::uuid, "customersScored" = "customersScored" + ${count},
           "pages" = "pages" + 1, "updatedAt" = now()
     WHERE "id" = ${runId} AND "status" = 'running'
       AND "lastCustomerId" IS NOT DISTINCT FROM ${previous}::uuid
    RETURNING "id")`,
  });
}

/**
 * An id range of a distributed run: its position advances in the merge (one writer per range), the
 * run's counters after it (every worker shares that row).
 */
export function rangeGuard(runId: number, index: number): PageGuard {
  return (previous, last, count) => ({
    cte: sql`g AS (
    UPDATE "ScoreRunRange"
       SET "lastCustomerId" = ${last}::uuid, "customersScored" = "customersScored" + ${count},
           "pages" = "pages" + 1, "updatedAt" = now()
     WHERE "runId" = ${runId} AND "index" = ${index} AND "status" <> 'done'
       AND "lastCustomerId" IS NOT DISTINCT FROM ${previous}::uuid
    RETURNING "runId" AS "id")`,
    after: sql`
    UPDATE "ScoreRun" SET "customersScored" = "customersScored" + ${count}, "pages" = "pages" + 1, "updatedAt" = now()
     WHERE "id" = ${runId} AND "status" = 'running'`,
  });
}

const quoted = (name: string) => `"${name}"`;

/** INSERT … SELECT <columns, constants> FROM g, <source> ON CONFLICT DO UPDATE — the one set-based merge. */
function mergeSql(guard: Prisma.Sql, source: Prisma.Sql, sourceColumns: string[], run: RunConstants): Prisma.Sql {
  const targets = [...SCORE_COLUMNS.map((c) => c.name), 'model', 'modelVersion', 'asOf', 'scoredAt', 'runId'];
  const updates = targets.filter((c) => c !== 'customerId' && c !== 'model').map((c) => `${quoted(c)} = EXCLUDED.${quoted(c)}`);
  return sql`
    WITH ${guard}
    INSERT INTO "CustomerScore" AS s (${raw(targets.map(quoted).join(', '))})
    SELECT ${raw(sourceColumns.join(', '))}, ${run.model}, ${run.modelVersion}, ${run.asOfIso}::timestamptz, now(), g."id"
    FROM g, ${source}
    ON CONFLICT ("customerId", "model") DO UPDATE SET ${raw(updates.join(', '))}`;
}

export type WriterKind = 'copy' | 'unnest';

/** Writes scored pages: one transaction per page. */
export interface PageWriter {
  readonly kind: WriterKind;
  /** Statements sent so far. */
  statements: number;
  /** Pages COPYed straight into "CustomerScore" (no row of theirs existed yet); the others were merged. */
  directPages: number;
  /** Writes the page if `guard` lets it; returns the rows written (page.ids.length, or 0 when refused). */
  write(page: ScoredPage, guard: PageGuard, previous: string | null, run: RunConstants): Promise<number>;
  /** Runs a small statement on the writer's connection (outside a page). */
  execute(statement: Prisma.Sql): Promise<number>;
  close(): Promise<void>;
}

/** COPY text format: backslash, tab, newline and carriage return escaped; \N is NULL. */
function copyText(value: string | null): string {
  if (value === null) return '\\N';
  return /[\\\t\n\r]/.test(value) ? value.replace(/[\\\t\n\r]/g, (ch) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' })[ch]!) : value;
}

const STAGE = 'cia_score_stage';

class GuardRefused extends Error {}

/**
 * PostgreSQL (a dedicated connection), one transaction per page that starts with the page's guard
 * (advances the run's or range's position; refused = nothing written), which also says whether any
 * row of this model already exists in the page's id range:
 *   - none (a first run, new customers): the page is COPYed straight into "CustomerScore", the
 *     run's constants on every line — no staging table, no INSERT … SELECT, no conflict handling;
 *   - some (re-scoring): COPY into a temporary staging table, then one set-based
 *     INSERT … SELECT … ON CONFLICT DO UPDATE.
 * Either way the page's rows and the position commit together. Should rows appear between the
 * check and the COPY (another run of the same model writing the same customers), the COPY fails on
 * the primary key and the page is written again through the merge.
 */
async function copyWriter(pool: pg.Pool): Promise<PageWriter> {
  const client = await pool.connect();
  const columns = SCORE_COLUMNS.map((c) => `${quoted(c.name)} ${c.type}`).join(', ');
  // Temporary: never WAL-logged, private to this connection, emptied by every commit.
  await client.query(`CREATE TEMPORARY TABLE IF NOT EXISTS ${STAGE} (${columns}) ON COMMIT DELETE ROWS`);
  const copySql = `COPY ${STAGE} (${SCORE_COLUMNS.map((c) => quoted(c.name)).join(', ')}) FROM STDIN`;
  const constants = ['model', 'modelVersion', 'asOf', 'scoredAt', 'runId'];
  const directSql = `COPY "CustomerScore" (${[...SCORE_COLUMNS.map((c) => c.name), ...constants].map(quoted).join(', ')}) FROM STDIN`;
  const source = raw(STAGE);
  const sourceColumns = SCORE_COLUMNS.map((c) => `${STAGE}.${quoted(c.name)}`);
  let broken = false;
  const copy = (text: string, statement: string) => pipeline(Readable.from([Buffer.from(text)]), client.query(copyFrom(statement)));
  const query = (statement: Prisma.Sql) => client.query(statement.text, statement.values as unknown[]);

  /** The page's columns as COPY lines; `suffix` (the run's constants, tab-led) ends every line. */
  function lines(page: ScoredPage, suffix: string): string {
    let text = '';
    for (let i = 0; i < page.ids.length; i++) {
      for (let c = 0; c < SCORE_COLUMNS.length; c++) text += (c ? '\t' : '') + copyText(SCORE_COLUMNS[c].value(page, i));
      text += `${suffix}\n`;
    }
    return text;
  }

  /** One transaction; 'direct' when the COPY into "CustomerScore" hit an existing row (rolled back). */
  async function attempt(page: ScoredPage, guard: PageGuard, previous: string | null, run: RunConstants, merge: boolean): Promise<number | 'conflict'> {
    const n = page.ids.length;
    const first = page.ids[0];
    const last = page.ids[n - 1];
    const g = guard(previous, last, n);
    try {
      await client.query('BEGIN');
      const [row] = (
        await query(sql`
          WITH ${g.cte}
          SELECT g."id", to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS "now",
                 EXISTS (SELECT 1 FROM "CustomerScore" s
                          WHERE s."model" = ${run.model} AND s."customerId" >= ${first}::uuid AND s."customerId" <= ${last}::uuid) AS "taken"
          FROM g`)
      ).rows as { id: number; now: string; taken: boolean }[];
      let ok = row !== undefined;
      if (ok && (merge || row.taken)) {
        await copy(lines(page, ''), copySql);
        const result = await query(mergeSql(sql`g AS (SELECT ${run.runId}::int AS "id")`, source, sourceColumns, run));
        writer.statements += 2;
        ok = result.rowCount === n;
      } else if (ok) {
        const suffix = ['', run.model, run.modelVersion, run.asOfIso, row.now, String(row.id)].map((v, i) => (i ? copyText(v) : v)).join('\t');
        try {
          await copy(lines(page, suffix), directSql);
        } catch (err) {
          if ((err as { code?: string }).code !== '23505') throw err;
          await client.query('ROLLBACK');
          writer.statements += 4;
          return 'conflict';
        }
        writer.statements += 1;
        writer.directPages += 1;
      }
      writer.statements += 2; // BEGIN and the guard
      if (ok && g.after) {
        writer.statements += 1;
        ok = (await query(g.after)).rowCount === 1;
      }
      writer.statements += 1;
      if (!ok) {
        await client.query('ROLLBACK');
        return 0;
      }
      await client.query('COMMIT');
      return n;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => (broken = true));
      throw err;
    }
  }

  const writer: PageWriter = {
    kind: 'copy',
    statements: 0,
    directPages: 0,
    async write(page, guard, previous, run) {
      const result = await attempt(page, guard, previous, run, false);
      return result === 'conflict' ? ((await attempt(page, guard, previous, run, true)) as number) : result;
    },
    async execute(statement) {
      writer.statements += 1;
      return (await query(statement)).rowCount ?? 0;
    },
    async close() {
      client.release(broken ? true : undefined);
    },
  };
  return writer;
}

/** The embedded database: the same merge, reading the page from unnest() of text arrays, one statement. */
function unnestWriter(db: Database): PageWriter {
  const writer: PageWriter = {
    kind: 'unnest',
    statements: 0,
    directPages: 0,
    async write(page, guard, previous, run) {
      const n = page.ids.length;
      const arrays = SCORE_COLUMNS.map((col) => {
        const values = new Array<string | null>(n);
        for (let i = 0; i < n; i++) values[i] = col.value(page, i);
        return sql`${values}::text[]`;
      });
      const aliases = SCORE_COLUMNS.map((_, c) => `c${c}`);
      const source = sql`unnest(${join(arrays, ', ')}) AS u(${raw(aliases.join(', '))})`;
      const sourceColumns = SCORE_COLUMNS.map((col, c) => `u.c${c}::${col.type}`);
      const g = guard(previous, page.ids[n - 1], n);
      const merge = mergeSql(g.cte, source, sourceColumns, run);
      if (!g.after) {
        writer.statements += 1;
        return db.prisma.$executeRaw(merge);
      }
      const after = g.after;
      writer.statements += 2;
      return db.prisma
        .$transaction(async (tx) => {
          const written = await tx.$executeRaw(merge);
          if (written !== n || (await tx.$executeRaw(after)) !== 1) throw new GuardRefused();
          return written;
        })
        .catch((err: unknown) => {
          if (err instanceof GuardRefused) return 0;
          throw err;
        });
    },
    async execute(statement) {
      writer.statements += 1;
      return db.prisma.$executeRaw(statement);
    },
    async close() {},
  };
  return writer;
}

export async function openPageWriter(db: Database): Promise<PageWriter> {
  return db.pgPool ? copyWriter(db.pgPool) : unnestWriter(db);
}

// ── pages ────────────────────────────────────────────────────────────────────────────────────────

interface Page {
  ids: string[];
  rows: ModelRow[];
  pAlive: (string | null)[];
  expectedOrders: (string | null)[];
  predictedClv: (string | null)[];
}

/** An id interval: from (inclusive) … before (exclusive); null = unbounded. */
export interface IdRange {
  from: string | null;
  before: string | null;
}

interface PagesOptions {
  pageSize: number;
  pipelined: boolean;
  /** Keyset position inside the range: continue after this id (null: from `range.from`). */
  start: string | null;
  range: IdRange;
  guard: PageGuard;
  shouldStop?: (pages: number) => boolean;
  onPage?: (scored: number, pages: number) => void;
  timings: ScoreTimings;
}

interface PagesResult {
  scored: number;
  pages: number;
  /** The range is exhausted. */
  complete: boolean;
  /** Keyset position after the last committed page. */
  last: string | null;
  statements: number;
  directPages: number;
}

/**
 * Scores the customers of `range` after `start`, page by page, each page committed through `guard`.
 * Throws ScoreRunConflictError when the guard refuses a page (another process moved the position).
 */
export async function scorePages(
  db: Database,
  scoring: Scoring,
  model: LoadedModel,
  asOf: Date,
  writer: PageWriter,
  run: RunConstants,
  o: PagesOptions,
): Promise<PagesResult> {
  const asOfMs = asOf.getTime();
  const featureCount = model.layout.featureCount;
  if (featureCount !== FEATURE_COUNT) throw new Error(`${model.name}: expects ${featureCount} features, the service computes ${FEATURE_COUNT}`);
  const sequenceSize = SEQUENCE_MAX_ORDERS * SEQUENCE_TOKEN_WIDTH;
  const { timings } = o;
  let reads = 0;
  // BG/NBD + Gamma-Gamma parameters of this model version's card (null: the lifetime columns stay null).
  const lifetime = lifetimeParams(model.card);

  async function fetchPage(after: string | null): Promise<Page> {
    let sqlMs = 0;
    const t = performance.now();
    // A range's first page starts at its `from` (inclusive); later pages after the last id.
    const { ids, inputs } = await loadFeatureInputsPage(
      db,
      after === null && o.range.from !== null ? { after: null, from: o.range.from, before: o.range.before, limit: o.pageSize } : { after, before: o.range.before, limit: o.pageSize },
      asOf,
      { onQuery: (info) => (sqlMs = info.milliseconds) },
    );
    reads += 1;
    timings.featureSql += sqlMs;
    // One buffer per page for the feature rows (and the sequences of sequence models).
    const features = new Float64Array(ids.length * featureCount);
    const sequences = model.layout.sequence ? new Float32Array(ids.length * sequenceSize) : null;
    const rows = new Array<ModelRow>(ids.length);
    const pAlive = new Array<string | null>(ids.length);
    const expectedOrders = new Array<string | null>(ids.length);
    const predictedClv = new Array<string | null>(ids.length);
    for (let i = 0; i < ids.length; i++) {
      const input = inputs[i];
      computeFeatures(input.customer, input.paidOrders, asOfMs, features, i * featureCount);
      const row: ModelRow = { features: features.subarray(i * featureCount, (i + 1) * featureCount) };
      if (sequences) {
        const tokens = sequences.subarray(i * sequenceSize, (i + 1) * sequenceSize);
        row.sequence = tokens;
        row.sequenceLength = computeSequence(input.paidOrders, asOfMs, tokens).length;
      }
      rows[i] = row;
      const f = lifetime ? lifetimeOf(lifetime, occasionsOf(input.paidOrders, asOfMs), asOfMs, STORED_LIFETIME_HORIZON_DAYS) : null;
      pAlive[i] = f ? String(f.pAlive) : null;
      expectedOrders[i] = f ? String(f.expectedOrders) : null;
      predictedClv[i] = f ? String(f.predictedClv) : null;
    }
    timings.featureCompute += performance.now() - t - sqlMs;
    return { ids, rows, pAlive, expectedOrders, predictedClv };
  }

  let last = o.start;
  let scored = 0;
  let pages = 0;
  let complete = false;
  const writesBefore = writer.statements;
  const directBefore = writer.directPages;

  async function writePage(page: Page, decided: Scored[]): Promise<void> {
    const t = performance.now();
    const scoredPage: ScoredPage = {
      ids: page.ids,
      probabilities: decided.map((x) => x.probabilities),
      segments: decided.map((x) => x.segment),
      classes: model.classes,
      pAlive: page.pAlive,
      expectedOrders: page.expectedOrders,
      predictedClv: page.predictedClv,
    };
    const written = await writer.write(scoredPage, o.guard, last, run);
    timings.writes += performance.now() - t;
    if (written !== page.ids.length) {
      throw new ScoreRunConflictError(
        `run ${run.runId} was advanced or stopped by another process (another \`npm run score\` with the same model and asOf?); this page was not written`,
      );
    }
    last = page.ids[page.ids.length - 1];
    scored += page.ids.length;
    pages += 1;
    o.onPage?.(scored, pages);
  }

  // A prefetch or a write runs while other work is awaited; marked handled at once, so that its
  // failure is not an unhandled rejection meanwhile (it is rethrown where it is awaited).
  const handled = <T>(p: Promise<T>): Promise<T> => {
    p.catch(() => {});
    return p;
  };
  let next: Promise<Page> | null = o.shouldStop?.(0) ? null : handled(fetchPage(last));
  let writing: Promise<void> | null = null;
  const settle = async () => {
    await next?.catch(() => {}); // a prefetch or write in flight must not become an unhandled rejection
    await writing?.catch(() => {});
  };
  try {
    while (next) {
      const page: Page = await next;
      next = null;
      if (page.ids.length === 0) {
        complete = true;
        break;
      }
      const more = page.ids.length === o.pageSize;
      const through = page.ids[page.ids.length - 1];
      // The last page wanted (maxPages) once this one is written?
      const lastWanted = o.shouldStop?.(pages + (writing ? 2 : 1)) ?? false;
      // Pipelining: the next page is read while this one is inferred and the previous one written.
      if (more && o.pipelined && !lastWanted) next = handled(fetchPage(through));
      const t = performance.now();
      const decided = await scoring.score(model, page.rows);
      timings.inference += performance.now() - t;
      if (writing) {
        await writing; // pages commit in order: each one's guard expects the previous position
        writing = null;
        if (o.shouldStop?.(pages)) break; // stop requested meanwhile: this page is not written
      }
      writing = handled(writePage(page, decided));
      if (!o.pipelined) {
        await writing;
        writing = null;
      }
      if (!more) {
        complete = true;
        break;
      }
      if (lastWanted || (!o.pipelined && o.shouldStop?.(pages))) break;
      if (!o.pipelined) next = handled(fetchPage(through));
    }
    if (writing) await writing;
    writing = null;
  } catch (err) {
    await settle();
    throw err;
  }
  await settle();
  return { scored, pages, complete, last, statements: reads + writer.statements - writesBefore, directPages: writer.directPages - directBefore };
}

// ── a run in one process ─────────────────────────────────────────────────────────────────────────

export async function scoreCustomers(db: Database, scoring: Scoring, options: ScoreOptions = {}): Promise<ScoreSummary> {
  const model: LoadedModel = scoring.model(options.model ?? null, options.version ?? null); // UnknownModelError lists the models
  const asOf = runAsOf(scoring, options.asOf);
  const pageSize = runPageSize(options.pageSize);
  // Zero pages would open a run, score nothing and leave it "interrupted".
  if (options.maxPages !== undefined && (!Number.isInteger(options.maxPages) || options.maxPages < 1)) {
    throw new ScoreOptionsError(`maxPages must be a positive integer (got ${options.maxPages})`);
  }
  const pipelined = options.pipeline ?? db.kind === 'postgresql';
  const prisma = db.prisma;
  const asOfIso = asOf.toISOString();
  const writerKind: WriterKind = db.pgPool ? 'copy' : 'unnest';

  // ── choose the run ───────────────────────────────────────────────────────────────────────────
  const key: RunKey = { model: model.name, modelVersion: model.version, asOfIso };
  const latest = await latestRun(db, key);
  const zeroTimings: ScoreTimings = { featureSql: 0, featureCompute: 0, inference: 0, writes: 0 };
  if (latest && latest.status === 'finished' && !options.restart) {
    return {
      runId: latest.id,
      model: model.name,
      modelVersion: model.version,
      asOf,
      outcome: 'alreadyFinished',
      resumed: false,
      scored: 0,
      runScored: latest.customersScored,
      pages: 0,
      seconds: 0,
      rate: 0,
      timings: zeroTimings,
      pipelined,
      writer: writerKind,
      statements: 0,
      directPages: 0,
    };
  }
  // A distributed run (id ranges) is resumed by its workers (`--workers`), not page by page here.
  const resumed = Boolean(latest) && !options.restart && latest!.ranges === null;
  let run: RunRow;
  if (resumed) {
    run = latest!;
    await resumeRun(db, run, pageSize);
  } else {
    run = await newRun(db, key, pageSize);
  }
  const [counts] = await prisma.$queryRaw<{ total: number; remaining: number }[]>`
    SELECT count(*)::int AS "total",
           count(*) FILTER (WHERE ${run.lastCustomerId}::uuid IS NULL OR "id" > ${run.lastCustomerId}::uuid)::int AS "remaining"
    FROM "Customer"`;
  options.onStart?.({
    runId: run.id,
    model: model.name,
    modelVersion: model.version,
    asOf,
    resumed,
    alreadyScored: run.customersScored,
    customersTotal: counts.total,
    customersRemaining: counts.remaining,
  });

  const timings: ScoreTimings = { ...zeroTimings };
  const started = performance.now();
  const writer = await openPageWriter(db);
  let result: PagesResult;
  try {
    result = await scorePages(db, scoring, model, asOf, writer, { runId: run.id, model: model.name, modelVersion: model.version, asOfIso }, {
      pageSize,
      pipelined,
      start: run.lastCustomerId,
      range: { from: null, before: null },
      guard: runGuard(run.id),
      timings,
      shouldStop: (pages) => Boolean(options.signal?.aborted) || (options.maxPages !== undefined && pages >= options.maxPages),
      onPage: (scored, pages) => {
        const elapsedSeconds = (performance.now() - started) / 1000;
        options.onProgress?.({ runId: run.id, scored, remaining: counts.remaining, pages, elapsedSeconds, rate: scored / elapsedSeconds });
      },
    });
  } catch (err) {
    if (!(err instanceof ScoreRunConflictError)) {
      await prisma.$executeRaw`UPDATE "ScoreRun" SET "status" = 'failed', "updatedAt" = now() WHERE "id" = ${run.id} AND "status" = 'running'`.catch(() => {});
    }
    throw err;
  } finally {
    await writer.close();
  }
  const outcome: ScoreSummary['outcome'] = result.complete ? 'finished' : 'interrupted';
  if (outcome === 'finished') {
    await prisma.$queryRaw(finishRunStatement(run.id));
  } else {
    await prisma.$executeRaw`UPDATE "ScoreRun" SET "status" = 'interrupted', "updatedAt" = now() WHERE "id" = ${run.id} AND "status" = 'running'`;
  }
  const seconds = (performance.now() - started) / 1000;
  return {
    runId: run.id,
    model: model.name,
    modelVersion: model.version,
    asOf,
    outcome,
    resumed,
    scored: result.scored,
    runScored: run.customersScored + result.scored,
    pages: result.pages,
    seconds,
    rate: seconds > 0 ? result.scored / seconds : 0,
    timings,
    pipelined,
    writer: writerKind,
    statements: result.statements,
    directPages: result.directPages,
  };
}

/** Milliseconds → "1.23 s (45%)" of a total. */
export function describeTimings(t: ScoreTimings, wallSeconds: number): string {
  const parts: [string, number][] = [
    ['feature SQL', t.featureSql],
    ['feature compute', t.featureCompute],
    ['inference', t.inference],
    ['writes', t.writes],
  ];
  const wall = wallSeconds * 1000 || 1;
  return parts.map(([name, ms]) => `${name} ${(ms / 1000).toFixed(2)} s (${Math.round((100 * ms) / wall)}%)`).join(', ');
}
