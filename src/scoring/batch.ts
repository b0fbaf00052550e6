// Batch scoring: every customer → features → model → one row per (customer, model) in
// "CustomerScore". Used by `npm run score` (src/scoring/cli.ts) and the tests.
//
// Keyset pages by Customer.id. Per page, a constant three SQL statements:
//   1. the page's ids            SELECT id FROM "Customer" WHERE id > $after ORDER BY id LIMIT $n
//   2. the page's feature inputs loadFeatureInputs (the same single statement the API uses)
//   3. the writes                one statement = one short transaction: a CTE advances the run's
//                                keyset position (only if nobody else moved it) and a multi-row
//                                INSERT … SELECT FROM unnest(…) ON CONFLICT DO UPDATE upserts the scores.
// The scores of a page and the run's progress commit together, so a re-run with the same model,
// version and asOf continues after the last committed page, and never scores a customer twice.
// Memory is bounded by two pages (the one being written and the one prefetched), whatever the
// number of customers. Only row locks are taken (the page's score rows and the run's row), so the
// API keeps serving while this runs.
import type { Database } from '../db/client.js';
import { Prisma } from '../generated/prisma/client.js';
import { computeFeatures, computeSequence, FEATURE_COUNT, loadFeatureInputs, SEQUENCE_MAX_ORDERS, SEQUENCE_TOKEN_WIDTH } from '../features/index.js';
import type { LoadedModel } from '../inference/registry.js';
import type { ModelRow } from '../inference/tensors.js';
import type { Scoring } from './scoring.js';
import { decide } from './decision.js';

const { sql, join, empty } = Prisma;

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
  /** Fetch page n+1 while page n is inferred and written (default: on PostgreSQL, off on PGlite). */
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
  /** Statement 1: the page's ids. */
  pageIdsSql: number;
  /** Statement 2: the feature inputs (database + transfer). */
  featureSql: number;
  /** JSON decoding and feature computation in JavaScript. */
  featureCompute: number;
  /** ONNX Runtime (through the inference service). */
  inference: number;
  /** Statement 3: the upsert and the run's progress. */
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
}

export class ScoreRunConflictError extends Error {
  override name = 'ScoreRunConflictError';
}

export class ScoreOptionsError extends Error {
  override name = 'ScoreOptionsError';
}

interface RunRow {
  id: number;
  status: ScoreRunStatus;
  lastCustomerId: string | null;
  customersScored: number;
  pages: number;
}

interface Page {
  /** Ids returned by statement 1 (the keyset advances to the last of them). */
  ids: string[];
  lastId: string | null;
  /** Customers that still existed when their features were read (statement 2), in page order. */
  scoredIds: string[];
  rows: ModelRow[];
}

export async function scoreCustomers(db: Database, scoring: Scoring, options: ScoreOptions = {}): Promise<ScoreSummary> {
  const model: LoadedModel = scoring.model(options.model ?? null, options.version ?? null); // UnknownModelError lists the models
  const asOf = scoring.asOf(options.asOf ?? null);
  if (Number.isNaN(asOf.getTime())) throw new ScoreOptionsError('asOf is not a valid date');
  const pageSize = options.pageSize ?? DEFAULT_SCORE_PAGE_SIZE;
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_SCORE_PAGE_SIZE) {
    throw new ScoreOptionsError(`page size must be an integer from 1 to ${MAX_SCORE_PAGE_SIZE} (got ${pageSize})`);
  }
  // Zero pages would open a run, score nothing and leave it "interrupted".
  if (options.maxPages !== undefined && (!Number.isInteger(options.maxPages) || options.maxPages < 1)) {
    throw new ScoreOptionsError(`maxPages must be a positive integer (got ${options.maxPages})`);
  }
  const pipelined = options.pipeline ?? db.kind === 'postgresql';
  const prisma = db.prisma;
  const asOfIso = asOf.toISOString();

  // ── choose the run ───────────────────────────────────────────────────────────────────────────
  const [latest] = await prisma.$queryRaw<RunRow[]>`
    SELECT "id", "status", "lastCustomerId"::text AS "lastCustomerId", "customersScored", "pages" FROM "ScoreRun"
    WHERE "model" = ${model.name} AND "modelVersion" = ${model.version} AND "asOf" = ${asOfIso}::timestamptz
    ORDER BY "id" DESC LIMIT 1`;
  const zeroTimings: ScoreTimings = { pageIdsSql: 0, featureSql: 0, featureCompute: 0, inference: 0, writes: 0 };
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
    };
  }
  let run: RunRow;
  const resumed = Boolean(latest) && !options.restart;
  if (resumed) {
    run = latest!;
    await prisma.$executeRaw`UPDATE "ScoreRun" SET "status" = 'running', "updatedAt" = now(), "pageSize" = ${pageSize} WHERE "id" = ${run.id}`;
  } else {
    if (latest && latest.status !== 'finished') {
      await prisma.$executeRaw`
        UPDATE "ScoreRun" SET "status" = 'superseded', "updatedAt" = now()
        WHERE "model" = ${model.name} AND "modelVersion" = ${model.version} AND "asOf" = ${asOfIso}::timestamptz AND "status" <> 'finished'`;
    }
    [run] = await prisma.$queryRaw<RunRow[]>`
      INSERT INTO "ScoreRun" ("model", "modelVersion", "asOf", "status", "pageSize")
      VALUES (${model.name}, ${model.version}, ${asOfIso}::timestamptz, 'running', ${pageSize})
      RETURNING "id", "status", "lastCustomerId"::text AS "lastCustomerId", "customersScored", "pages"`;
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

  // ── pages ────────────────────────────────────────────────────────────────────────────────────
  const timings: ScoreTimings = { ...zeroTimings };
  const asOfMs = asOf.getTime();
  const featureCount = model.layout.featureCount;
  if (featureCount !== FEATURE_COUNT) throw new Error(`${model.name}: expects ${featureCount} features, the service computes ${FEATURE_COUNT}`);
  const sequenceSize = SEQUENCE_MAX_ORDERS * SEQUENCE_TOKEN_WIDTH;

  async function fetchPage(after: string | null): Promise<Page> {
    let t = performance.now();
    // One row holding the page's ids as one string: far cheaper through the driver adapter than one row per id.
    const [{ ids: joined }] = await prisma.$queryRaw<{ ids: string | null }[]>`
      SELECT string_agg(p."id"::text, ',' ORDER BY p."id") AS "ids"
      FROM (SELECT c."id" FROM "Customer" c ${after === null ? empty : sql`WHERE c."id" > ${after}::uuid`}
            ORDER BY c."id" LIMIT ${pageSize}) p`;
    timings.pageIdsSql += performance.now() - t;
    const ids = joined ? joined.split(',') : [];
    if (ids.length === 0) return { ids, lastId: null, scoredIds: [], rows: [] };
    t = performance.now();
    let sqlMs = 0;
    const inputs = await loadFeatureInputs(db, ids, asOf, { onQuery: (info) => (sqlMs = info.milliseconds) });
    timings.featureSql += sqlMs;
    // One buffer per page for the feature rows (and the sequences of sequence models).
    const features = new Float64Array(inputs.size * featureCount);
    const sequences = model.layout.sequence ? new Float32Array(inputs.size * sequenceSize) : null;
    const scoredIds: string[] = [];
    const rows: ModelRow[] = [];
    for (const id of ids) {
      const input = inputs.get(id);
      if (!input) continue; // deleted since statement 1
      const i = rows.length;
      computeFeatures(input.customer, input.paidOrders, asOfMs, features, i * featureCount);
      const row: ModelRow = { features: features.subarray(i * featureCount, (i + 1) * featureCount) };
      if (sequences) {
        const tokens = sequences.subarray(i * sequenceSize, (i + 1) * sequenceSize);
        row.sequence = tokens;
        row.sequenceLength = computeSequence(input.paidOrders, asOfMs, tokens).length;
      }
      scoredIds.push(id);
      rows.push(row);
    }
    timings.featureCompute += performance.now() - t - sqlMs;
    return { ids, lastId: ids[ids.length - 1], scoredIds, rows };
  }

  const classKeys = model.classes;
  async function writePage(page: Page, probabilities: Float32Array[]): Promise<void> {
    const t = performance.now();
    const n = page.scoredIds.length;
    const segments = new Array<string>(n);
    const best = new Array<string>(n);
    const perClass = classKeys.map(() => new Array<string>(n));
    for (let i = 0; i < n; i++) {
      // The same class rule as live predictions (recalibration + weighted argmax from the card).
      const { classIndex: k, probabilities: p } = decide(model, probabilities[i]);
      segments[i] = classKeys[k];
      best[i] = String(p[k]);
      for (let c = 0; c < classKeys.length; c++) perClass[c][i] = String(p[c]);
    }
    // Every value travels as text and is cast in SQL (as in ingest/bulk.ts): the float32 outputs'
    // shortest decimal forms, which float8 parses back to exactly the same doubles.
    const classArrays = join(perClass.map((values) => sql`${values}::text[]`), ', ');
    const classColumns = classKeys.map((_, c) => `p${c}`).join(', ');
    const probabilitiesJson = join(classKeys.map((key, c) => sql`${key}::text, ${Prisma.raw(`u.p${c}`)}::float8`), ', ');
    const written = await prisma.$executeRaw`
      WITH run AS (
        UPDATE "ScoreRun"
           SET "lastCustomerId" = ${page.lastId}::uuid, "customersScored" = "customersScored" + ${n},
               "pages" = "pages" + 1, "updatedAt" = now()
         WHERE "id" = ${run.id} AND "status" = 'running'
           AND "lastCustomerId" IS NOT DISTINCT FROM ${run.lastCustomerId}::uuid
        RETURNING "id"
      )
      INSERT INTO "CustomerScore" AS s ("customerId", "model", "modelVersion", "segment", "probability", "probabilities", "asOf", "scoredAt", "runId")
      SELECT u.id::uuid, ${model.name}, ${model.version}, u.segment, u.probability::float8,
             jsonb_build_object(${probabilitiesJson}), ${asOfIso}::timestamptz, now(), run."id"
      FROM run, unnest(${page.scoredIds}::text[], ${segments}::text[], ${best}::text[], ${classArrays})
           AS u(id, segment, probability, ${Prisma.raw(classColumns)})
      ON CONFLICT ("customerId", "model") DO UPDATE SET
        "modelVersion" = EXCLUDED."modelVersion", "segment" = EXCLUDED."segment", "probability" = EXCLUDED."probability",
        "probabilities" = EXCLUDED."probabilities", "asOf" = EXCLUDED."asOf", "scoredAt" = EXCLUDED."scoredAt",
        "runId" = EXCLUDED."runId"`;
    timings.writes += performance.now() - t;
    if (written !== n) {
      throw new ScoreRunConflictError(
        `run ${run.id} was advanced or stopped by another process (another \`npm run score\` with the same model and asOf?); this page was not written`,
      );
    }
    run = { ...run, lastCustomerId: page.lastId, customersScored: run.customersScored + n, pages: run.pages + 1 };
  }

  const started = performance.now();
  let scored = 0;
  let pages = 0;
  let outcome: ScoreSummary['outcome'] = 'finished';
  const stopRequested = () => Boolean(options.signal?.aborted) || (options.maxPages !== undefined && pages >= options.maxPages);
  let next: Promise<Page> | null = null;
  try {
    if (stopRequested()) outcome = 'interrupted';
    else next = fetchPage(run.lastCustomerId);
    while (next) {
      const page: Page = await next;
      next = null;
      if (page.ids.length === 0) break; // past the last customer
      const more = page.ids.length === pageSize;
      // Pipelining: statements 1 and 2 of the next page run while this page is inferred and written.
      if (more && pipelined) next = fetchPage(page.lastId);
      const t = performance.now();
      const probabilities = page.rows.length ? await scoring.inference.predict(model, page.rows) : [];
      timings.inference += performance.now() - t;
      await writePage(page, probabilities);
      scored += page.scoredIds.length;
      pages += 1;
      const elapsedSeconds = (performance.now() - started) / 1000;
      options.onProgress?.({ runId: run.id, scored, remaining: counts.remaining, pages, elapsedSeconds, rate: scored / elapsedSeconds });
      if (!more) break;
      if (stopRequested()) {
        outcome = 'interrupted';
        break;
      }
      if (!pipelined) next = fetchPage(page.lastId);
    }
  } catch (err) {
    await next?.catch(() => {}); // a prefetch in flight must not become an unhandled rejection
    if (!(err instanceof ScoreRunConflictError)) {
      await prisma.$executeRaw`UPDATE "ScoreRun" SET "status" = 'failed', "updatedAt" = now() WHERE "id" = ${run.id} AND "status" = 'running'`.catch(() => {});
    }
    throw err;
  }
  await next?.catch(() => {});
  if (outcome === 'finished') {
    await prisma.$executeRaw`UPDATE "ScoreRun" SET "status" = 'finished', "finishedAt" = now(), "updatedAt" = now() WHERE "id" = ${run.id} AND "status" = 'running'`;
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
    scored,
    runScored: run.customersScored,
    pages,
    seconds,
    rate: seconds > 0 ? scored / seconds : 0,
    timings,
    pipelined,
  };
}

/** Milliseconds → "1.23 s (45%)" of a total. */
export function describeTimings(t: ScoreTimings, wallSeconds: number): string {
  const parts: [string, number][] = [
    ['page ids SQL', t.pageIdsSql],
    ['feature SQL', t.featureSql],
    ['feature compute', t.featureCompute],
    ['inference', t.inference],
    ['writes', t.writes],
  ];
  const wall = wallSeconds * 1000 || 1;
  return parts.map(([name, ms]) => `${name} ${(ms / 1000).toFixed(2)} s (${Math.round((100 * ms) / wall)}%)`).join(', ');
}
