// Batch scoring spread over processes and machines on BullMQ (Redis). `npm run score -- --workers N`
// (src/scoring/cli.ts) opens a run, splits the customer ids into ranges — one "ScoreRunRange" row
// and one BullMQ job each — and waits; `npm run score:worker` (src/scoring/worker-cli.ts), started
// on any machine with the same DATABASE_URL and REDIS_URL, takes jobs.
//
// Exactly once, whatever dies: a job scores its range with the same pages as a run in one process
// (batch.ts: keyset feature query, COPY + one merge), and each page's merge commits together with
// the range's keyset position and the run's counters (rangeGuard). A worker killed mid-job (kill -9)
// loses its lock; BullMQ's stalled-job check (SCORE_JOB_LOCK_SECONDS, SCORE_JOB_STALLED_CHECK_SECONDS)
// puts the job back, and the next worker continues after the range's last committed page. Scores are
// upserts keyed by (customer, model), so a page written twice would still leave one row — but the
// guard means it is not even written twice, and customersScored counts every customer once.
//
// Ranges split the uuid space evenly (Customer ids are random v4 uuids, so ranges hold about the
// same number of customers; ids from elsewhere only make jobs uneven, never results wrong). That
// costs no query over the ids, however many customers there are.
import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Database } from '../db/client.js';
import { UnknownModelError } from '../inference/service.js';
import { Prisma } from '../generated/prisma/client.js';
import {
  finishRunStatement,
  latestRun,
  newRun,
  openPageWriter,
  rangeGuard,
  resumeRun,
  runAsOf,
  runPageSize,
  ScoreOptionsError,
  scorePages,
  ScoreRunConflictError,
  type IdRange,
  type RunKey,
  type ScoreTimings,
} from './batch.js';
import type { Scoring } from './scoring.js';

export const SCORE_QUEUE = 'score';
/** Most ranges a run is split into. */
export const MAX_RANGES = 10_000;

export interface QueueSettings {
  redisUrl: string;
  /** Redis key prefix of the queue (several deployments or tests can share one Redis). */
  prefix: string;
  /** Customers per range (= per job). */
  rangeCustomers: number;
  lockMs: number;
  stalledIntervalMs: number;
  maxStalledCount: number;
  attempts: number;
}

export function queueSettings(cfg: Config): QueueSettings {
  if (!cfg.REDIS_URL) throw new ScoreOptionsError('distributed scoring needs REDIS_URL (the BullMQ queue)');
  return {
    redisUrl: cfg.REDIS_URL,
    prefix: cfg.SCORE_QUEUE_PREFIX,
    rangeCustomers: cfg.SCORE_RANGE_CUSTOMERS,
    lockMs: Math.round(cfg.SCORE_JOB_LOCK_SECONDS * 1000),
    stalledIntervalMs: Math.round(cfg.SCORE_JOB_STALLED_CHECK_SECONDS * 1000),
    maxStalledCount: cfg.SCORE_JOB_MAX_STALLED,
    attempts: cfg.SCORE_JOB_ATTEMPTS,
  };
}

export interface RangeJob {
  runId: number;
  index: number;
  model: string;
  modelVersion: string;
  /** ISO instant. */
  asOf: string;
  pageSize: number;
}

const hex32 = (n: bigint) => n.toString(16).padStart(32, '0');
const asUuid = (h: string) => `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;

/** n ranges covering every uuid: [null, b1), [b1, b2), …, [b(n-1), null), boundaries evenly spaced. */
export function uuidRanges(n: number): IdRange[] {
  if (!Number.isInteger(n) || n < 1) throw new Error(`uuidRanges: n must be a positive integer (got ${n})`);
  const space = 1n << 128n;
  const bounds: (string | null)[] = [null];
  for (let i = 1; i < n; i++) bounds.push(asUuid(hex32((space * BigInt(i)) / BigInt(n))));
  bounds.push(null);
  return Array.from({ length: n }, (_, i) => ({ from: bounds[i], before: bounds[i + 1] }));
}

function connection(settings: QueueSettings) {
  // BullMQ's blocking commands need ioredis without a per-request retry limit.
  return { url: settings.redisUrl, maxRetriesPerRequest: null };
}

export function openQueue(settings: QueueSettings): Queue<RangeJob> {
  return new Queue<RangeJob>(SCORE_QUEUE, { connection: connection(settings), prefix: settings.prefix });
}

// ── the coordinator ──────────────────────────────────────────────────────────────────────────────

export interface DistributedStart {
  runId: number;
  model: string;
  modelVersion: string;
  asOf: Date;
  resumed: boolean;
  /** Nothing to do: a finished run has this key. */
  alreadyFinished: boolean;
  ranges: number;
  /** Ranges enqueued now (the unfinished ones when resuming). */
  jobs: number;
  customersTotal: number;
  /** Customers the run had scored before this invocation. */
  alreadyScored: number;
}

export interface DistributedOptions {
  model?: string | null;
  asOf?: Date | null;
  pageSize?: number;
  restart?: boolean;
}

/**
 * Opens (or resumes) a distributed run: one ScoreRunRange row per id range and one BullMQ job per
 * unfinished range. A finished run with the same model, version and asOf is left alone (alreadyFinished).
 */
export async function startDistributedRun(
  db: Database,
  scoring: Scoring,
  queue: Queue<RangeJob>,
  settings: QueueSettings,
  options: DistributedOptions = {},
): Promise<DistributedStart> {
  if (db.kind !== 'postgresql') {
    throw new ScoreOptionsError('distributed scoring needs PostgreSQL (DATABASE_URL): workers on other machines cannot reach the embedded database');
  }
  const model = scoring.model(options.model ?? null);
  const asOf = runAsOf(scoring, options.asOf);
  const asOfIso = asOf.toISOString();
  const pageSize = runPageSize(options.pageSize);
  const prisma = db.prisma;
  const key: RunKey = { model: model.name, modelVersion: model.version, asOfIso };
  const latest = await latestRun(db, key);
  const [{ total }] = await prisma.$queryRaw<{ total: number }[]>`SELECT count(*)::int AS "total" FROM "Customer"`;
  const base = { model: model.name, modelVersion: model.version, asOf, customersTotal: total };
  if (latest && latest.status === 'finished' && !options.restart) {
    return { ...base, runId: latest.id, resumed: false, alreadyFinished: true, ranges: latest.ranges ?? 0, jobs: 0, alreadyScored: latest.customersScored };
  }
  let runId: number;
  let ranges: number;
  let alreadyScored = 0;
  const resumed = Boolean(latest) && !options.restart && latest!.ranges !== null;
  if (resumed) {
    runId = latest!.id;
    ranges = latest!.ranges!;
    alreadyScored = latest!.customersScored;
    await resumeRun(db, latest!, pageSize);
  } else {
    ranges = Math.min(MAX_RANGES, Math.max(1, Math.ceil(total / settings.rangeCustomers)));
    const bounds = uuidRanges(ranges);
    ({ id: runId } = await newRun(db, key, pageSize, {
      ranges,
      then: async (tx, id) => {
        await tx.$executeRaw`
          INSERT INTO "ScoreRunRange" ("runId", "index", "fromId", "toId")
          SELECT ${id}, r.i::int - 1, r.f::uuid, r.t::uuid
          FROM unnest(${bounds.map((r) => r.from)}::text[], ${bounds.map((r) => r.before)}::text[]) WITH ORDINALITY AS r(f, t, i)`;
      },
    }));
  }
  const open = await prisma.$queryRaw<{ index: number }[]>`
    SELECT "index" FROM "ScoreRunRange" WHERE "runId" = ${runId} AND "status" <> 'done' ORDER BY "index"`;
  // A distinct job id per invocation: a resumed run's jobs must not collide with the ids of an earlier one's.
  const stamp = Date.now().toString(36);
  await queue.addBulk(
    open.map(({ index }) => ({
      name: 'range',
      data: { runId, index, model: model.name, modelVersion: model.version, asOf: asOfIso, pageSize },
      opts: {
        jobId: `run${runId}-r${index}-${stamp}`,
        attempts: settings.attempts,
        backoff: { type: 'exponential', delay: 1000 },
        removeOnComplete: { age: 86_400 },
        removeOnFail: { age: 7 * 86_400 },
      },
    })),
  );
  // Nothing left to do (every range done, e.g. a crash between the last range and the run's finish).
  if (open.length === 0) await finishRunIfComplete(db, runId);
  return { ...base, runId, resumed, alreadyFinished: false, ranges, jobs: open.length, alreadyScored };
}

export interface RunState {
  status: string;
  customersScored: number;
  rangesDone: number;
  ranges: number;
}

export async function runState(db: Database, runId: number): Promise<RunState> {
  const [row] = await db.prisma.$queryRaw<RunState[]>`
    SELECT r."status", r."customersScored", coalesce(r."ranges", 0)::int AS "ranges",
           (SELECT count(*)::int FROM "ScoreRunRange" g WHERE g."runId" = r."id" AND g."status" = 'done') AS "rangesDone"
    FROM "ScoreRun" r WHERE r."id" = ${runId}`;
  if (!row) throw new Error(`score run ${runId} does not exist`);
  return row;
}

export class DistributedRunError extends Error {
  override name = 'DistributedRunError';
}

/**
 * Waits until the run is finished, watching the database (progress) and the queue (jobs that failed
 * for good). Resolves with the final state; rejects (and marks the run failed) when a job used up its
 * attempts.
 */
export async function waitForRun(
  db: Database,
  queue: Queue<RangeJob>,
  runId: number,
  options: { pollMs?: number; signal?: AbortSignal; onProgress?: (state: RunState) => void; check?: () => void } = {},
): Promise<RunState> {
  const pollMs = options.pollMs ?? 500;
  for (;;) {
    const state = await runState(db, runId);
    options.onProgress?.(state);
    if (state.status === 'finished') return state;
    if (state.status !== 'running') throw new DistributedRunError(`run ${runId} is ${state.status}`);
    const failed = (await queue.getJobs(['failed'], 0, 1000)).filter((j) => j?.data.runId === runId);
    if (failed.length > 0) {
      await db.prisma.$executeRaw`UPDATE "ScoreRun" SET "status" = 'failed', "updatedAt" = now() WHERE "id" = ${runId} AND "status" = 'running'`;
      const j = failed[0];
      throw new DistributedRunError(`job ${j.id} (range ${j.data.index}) failed after ${j.attemptsMade} attempts: ${j.failedReason}`);
    }
    options.check?.();
    if (options.signal?.aborted) return state;
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/** Stops a run: its waiting jobs are removed; workers finishing a page of it find it no longer running. */
export async function interruptRun(db: Database, queue: Queue<RangeJob>, runId: number): Promise<void> {
  await db.prisma.$executeRaw`UPDATE "ScoreRun" SET "status" = 'interrupted', "updatedAt" = now() WHERE "id" = ${runId} AND "status" = 'running'`;
  const waiting = await queue.getJobs(['waiting', 'delayed', 'prioritized'], 0, MAX_RANGES);
  await Promise.all(waiting.filter((j) => j?.data.runId === runId).map((j) => j.remove().catch(() => {})));
}

/**
 * Marks a range done and, when it was the run's last, the run finished — in one transaction that
 * first locks the run's row, so two workers finishing the last two ranges at once cannot both miss it.
 */
async function finishRange(db: Database, runId: number, index: number): Promise<boolean> {
  const pool = db.pgPool!;
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT 1 FROM "ScoreRun" WHERE "id" = $1 FOR UPDATE', [runId]);
    await client.query(`UPDATE "ScoreRunRange" SET "status" = 'done', "updatedAt" = now() WHERE "runId" = $1 AND "index" = $2`, [runId, index]);
    const finish = finishRunStatement(runId, allRangesDone(runId));
    const done = await client.query<{ finished: number }>(finish.text, finish.values as unknown[]);
    await client.query('COMMIT');
    return done.rows[0].finished === 1;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

function allRangesDone(runId: number): Prisma.Sql {
  return Prisma.sql`AND NOT EXISTS (SELECT 1 FROM "ScoreRunRange" WHERE "runId" = ${runId} AND "status" <> 'done')`;
}

async function finishRunIfComplete(db: Database, runId: number): Promise<void> {
  await db.prisma.$queryRaw(finishRunStatement(runId, allRangesDone(runId)));
}

// ── the worker ───────────────────────────────────────────────────────────────────────────────────

export interface RangeResult {
  outcome: 'done' | 'alreadyDone' | 'runNotRunning';
  scored: number;
  pages: number;
  seconds: number;
  timings: ScoreTimings;
  runFinished: boolean;
}

interface RangeRow {
  fromId: string | null;
  toId: string | null;
  status: string;
  lastCustomerId: string | null;
  attempts: number;
  runStatus: string;
}

/** Scores one range of a run (a job's work), continuing after its last committed page. */
export async function scoreRange(
  db: Database,
  scoring: Scoring,
  job: RangeJob,
  hooks: { onStart?: (info: { attempt: number; resumeAfter: string | null; range: IdRange }) => void; onPage?: (scored: number, pages: number) => void } = {},
): Promise<RangeResult> {
  const started = performance.now();
  const timings: ScoreTimings = { featureSql: 0, featureCompute: 0, inference: 0, writes: 0 };
  const result = (outcome: RangeResult['outcome'], scored = 0, pages = 0, runFinished = false): RangeResult => ({
    outcome,
    scored,
    pages,
    seconds: (performance.now() - started) / 1000,
    timings,
    runFinished,
  });
  let model;
  try {
    model = scoring.model(job.model, job.modelVersion);
  } catch (err) {
    // Another model version on this machine: retrying here cannot help.
    if (err instanceof UnknownModelError) throw new UnrecoverableError(`${err.message} (this worker's MODELS_DIR lacks ${job.model} ${job.modelVersion})`);
    throw err;
  }
  const [row] = await db.prisma.$queryRaw<RangeRow[]>`
    UPDATE "ScoreRunRange" g SET "attempts" = g."attempts" + 1, "updatedAt" = now()
      FROM "ScoreRun" r
     WHERE g."runId" = ${job.runId} AND g."index" = ${job.index} AND r."id" = g."runId"
    RETURNING g."fromId"::text AS "fromId", g."toId"::text AS "toId", g."status", g."lastCustomerId"::text AS "lastCustomerId",
              g."attempts", r."status" AS "runStatus"`;
  if (!row) throw new UnrecoverableError(`run ${job.runId} has no range ${job.index}`);
  if (row.status === 'done') return result('alreadyDone');
  if (row.runStatus !== 'running') return result('runNotRunning');
  const range: IdRange = { from: row.fromId, before: row.toId };
  hooks.onStart?.({ attempt: row.attempts, resumeAfter: row.lastCustomerId, range });
  const writer = await openPageWriter(db);
  try {
    const pages = await scorePages(db, scoring, model, new Date(job.asOf), writer, { runId: job.runId, model: job.model, modelVersion: job.modelVersion, asOfIso: job.asOf }, {
      pageSize: job.pageSize,
      pipelined: true,
      start: row.lastCustomerId,
      range,
      guard: rangeGuard(job.runId, job.index),
      timings,
      onPage: hooks.onPage,
    });
    const runFinished = await finishRange(db, job.runId, job.index);
    return result('done', pages.scored, pages.pages, runFinished);
  } catch (err) {
    if (err instanceof ScoreRunConflictError) {
      const [state] = await db.prisma.$queryRaw<{ status: string }[]>`SELECT "status" FROM "ScoreRun" WHERE "id" = ${job.runId}`;
      if (state?.status !== 'running') return result('runNotRunning');
    }
    throw err;
  } finally {
    await writer.close();
  }
}

/** A BullMQ worker scoring ranges with this process's database and models. */
export function startScoreWorker(db: Database, scoring: Scoring, settings: QueueSettings, log: Logger, concurrency = 1): Worker<RangeJob, RangeResult> {
  const worker = new Worker<RangeJob, RangeResult>(
    SCORE_QUEUE,
    async (job: Job<RangeJob, RangeResult>) => {
      const d = job.data;
      const r = await scoreRange(db, scoring, d, {
        onStart: ({ attempt, resumeAfter, range }) =>
          log.info(
            { job: job.id, runId: d.runId, range: d.index, from: range.from, before: range.before, attempt, resumeAfter },
            resumeAfter ? `score job started: run ${d.runId} range ${d.index}, continuing after ${resumeAfter}` : `score job started: run ${d.runId} range ${d.index}`,
          ),
        onPage: (scored, pages) => {
          log.info({ job: job.id, runId: d.runId, range: d.index, pages, scored }, 'score page committed');
          void job.updateProgress({ scored, pages }).catch(() => {});
        },
      });
      log.info(
        { job: job.id, runId: d.runId, range: d.index, outcome: r.outcome, scored: r.scored, pages: r.pages, seconds: r.seconds, runFinished: r.runFinished },
        `score job ${r.outcome}: run ${d.runId} range ${d.index}, ${r.scored} customers in ${r.seconds.toFixed(1)} s${r.runFinished ? ' (the run is finished)' : ''}`,
      );
      return r;
    },
    {
      connection: connection(settings),
      prefix: settings.prefix,
      concurrency,
      lockDuration: settings.lockMs,
      stalledInterval: settings.stalledIntervalMs,
      maxStalledCount: settings.maxStalledCount,
    },
  );
  worker.on('failed', (job, err) => log.warn({ job: job?.id, attemptsMade: job?.attemptsMade, err: err.message }, 'score job failed'));
  worker.on('stalled', (jobId) => log.warn({ job: jobId }, 'score job stalled (its worker stopped renewing the lock); it will be retried'));
  worker.on('error', (err) => log.error({ err: err.message }, 'score worker error'));
  return worker;
}
