// SQL over the stored scores ("CustomerScore", "ScoreRun"); batch functions only, so resolvers
// cost a constant number of statements per request.
import type { Prisma } from '../../generated/prisma/client.js';
import type { Database } from '../../db/client.js';

/** The client or a transaction: the summary reads its three statements in one snapshot. */
export type SqlClient = Pick<Prisma.TransactionClient, '$queryRaw'>;
import type { ScoreRunInfo, StoredScore } from './segment.type.js';

type ScoreRow = Omit<StoredScore, 'segmentProbabilities'> & { customerId: string; probabilities: Record<string, number> };

/** Stored scores of one model for a batch of customers. Class order: `classes`, then any other stored key. */
export async function scoresByCustomerIds(db: Database, model: string, classes: readonly string[], ids: readonly string[]): Promise<Map<string, StoredScore>> {
  const rows = await db.prisma.$queryRaw<ScoreRow[]>`
    SELECT cs."customerId"::text AS "customerId", cs."model", cs."modelVersion", cs."segment", cs."probability",
           cs."probabilities", cs."asOf", cs."scoredAt", cs."pAlive", cs."expectedOrders", cs."predictedClv",
           (c."updatedAt" > cs."scoredAt"
             OR EXISTS (SELECT 1 FROM "Order" o WHERE o."customerId" = cs."customerId" AND o."createdAt" > cs."scoredAt" AND o."orderedAt" <= cs."asOf")) AS "dataChangedSince"
    FROM "CustomerScore" cs JOIN "Customer" c ON c."id" = cs."customerId"
    WHERE cs."model" = ${model} AND cs."customerId" = ANY(${ids}::uuid[])`;
  const result = new Map<string, StoredScore>();
  for (const { customerId, probabilities, ...row } of rows) {
    const keys = [...classes.filter((k) => k in probabilities), ...Object.keys(probabilities).filter((k) => !classes.includes(k))];
    result.set(customerId, { ...row, segmentProbabilities: keys.map((segment) => ({ segment, probability: probabilities[segment] })) });
  }
  return result;
}

export interface SegmentAggregate {
  segment: string;
  count: number;
  meanProbability: number | null;
  asOfMin: Date | null;
  asOfMax: Date | null;
  scoredAtMin: Date | null;
  scoredAtMax: Date | null;
  versions: string[];
  customersTotal: number;
}

/** Per stored segment of a model: count, mean probability, freshness; with the number of customers. One statement. */
export async function segmentAggregates(sql: SqlClient, model: string): Promise<{ customersTotal: number; segments: SegmentAggregate[] }> {
  const rows = await sql.$queryRaw<(SegmentAggregate & { segment: string | null })[]>`
    SELECT g."segment", g."count", g."meanProbability", g."asOfMin", g."asOfMax", g."scoredAtMin", g."scoredAtMax", g."versions",
           (SELECT count(*)::int FROM "Customer") AS "customersTotal"
    FROM (SELECT 1) AS one
    LEFT JOIN (
      SELECT cs."segment", count(*)::int AS "count", avg(cs."probability") AS "meanProbability",
             min(cs."asOf") AS "asOfMin", max(cs."asOf") AS "asOfMax",
             min(cs."scoredAt") AS "scoredAtMin", max(cs."scoredAt") AS "scoredAtMax",
             array_agg(DISTINCT cs."modelVersion") AS "versions"
      FROM "CustomerScore" cs WHERE cs."model" = ${model}
      GROUP BY cs."segment"
    ) g ON true
    ORDER BY g."segment"`;
  return {
    customersTotal: rows[0]?.customersTotal ?? 0,
    segments: rows.filter((r) => r.segment !== null).map((r) => ({ ...r, meanProbability: r.meanProbability === null ? null : Number(r.meanProbability) })),
  };
}

export async function lastScoreRun(sql: SqlClient, model: string): Promise<ScoreRunInfo | null> {
  const [row] = await sql.$queryRaw<ScoreRunInfo[]>`
    SELECT "id", "model", "modelVersion", "asOf", "status", "customersScored", "startedAt", "updatedAt", "finishedAt"
    FROM "ScoreRun" WHERE "model" = ${model} ORDER BY "id" DESC LIMIT 1`;
  return row ?? null;
}

/** The latest `last` scoring runs of a model, newest first. One statement. */
export async function scoreRuns(sql: SqlClient, model: string, last: number, finishedOnly: boolean): Promise<ScoreRunInfo[]> {
  return sql.$queryRaw<ScoreRunInfo[]>`
    SELECT "id", "model", "modelVersion", "asOf", "status", "customersScored", "startedAt", "updatedAt", "finishedAt"
    FROM "ScoreRun" WHERE "model" = ${model} AND (NOT ${finishedOnly} OR "status" = 'finished')
    ORDER BY "id" DESC LIMIT ${last}`;
}

export interface RunSegmentRow {
  runId: number;
  segment: string;
  count: number;
  meanProbability: number;
}

/** The segment mix recorded at the end of each of these runs ("ScoreRunSegment"). One statement. */
export async function runSegments(sql: SqlClient, runIds: readonly number[]): Promise<Map<number, RunSegmentRow[]>> {
  const rows = await sql.$queryRaw<RunSegmentRow[]>`
    SELECT "runId", "segment", "count", "meanProbability" FROM "ScoreRunSegment"
    WHERE "runId" = ANY(${runIds}::int[]) ORDER BY "runId", "segment"`;
  const out = new Map<number, RunSegmentRow[]>();
  for (const r of rows) {
    const list = out.get(r.runId) ?? [];
    list.push(r);
    out.set(r.runId, list);
  }
  return out;
}

export interface StoredScoresState {
  /** Every stored score is of the served version and a run of that version has finished. */
  complete: boolean;
  /** Stored scores written by another version than the served one. */
  staleCustomers: number;
  /** Stored scores of the served version. */
  currentCustomers: number;
  customersTotal: number;
  /** The latest run of the served version, when it is still running. */
  running: ScoreRunInfo | null;
  finishedRun: boolean;
  /** What the stored scores are, in one or two sentences, when they are not complete. */
  note: string | null;
}

/** How far the stored scores of a model are from its served version. One statement. */
export async function storedScoresState(sql: SqlClient, model: string, servedVersion: string): Promise<StoredScoresState> {
  const [counts] = await sql.$queryRaw<{ current: number; stale: number; total: number; finished: boolean; latest: (ScoreRunInfo & { asOf: string; startedAt: string; updatedAt: string; finishedAt: string | null }) | null }[]>`
    SELECT count(*) FILTER (WHERE cs."modelVersion" = ${servedVersion})::int AS "current",
           count(*) FILTER (WHERE cs."modelVersion" <> ${servedVersion})::int AS "stale",
           (SELECT count(*)::int FROM "Customer") AS "total",
           EXISTS (SELECT 1 FROM "ScoreRun" r WHERE r."model" = ${model} AND r."modelVersion" = ${servedVersion} AND r."status" = 'finished') AS "finished",
           (SELECT to_jsonb(r) FROM (SELECT "id", "model", "modelVersion", "asOf", "status", "customersScored", "startedAt", "updatedAt", "finishedAt"
                                     FROM "ScoreRun" WHERE "model" = ${model} AND "modelVersion" = ${servedVersion} ORDER BY "id" DESC LIMIT 1) r) AS "latest"
    FROM "CustomerScore" cs WHERE cs."model" = ${model}`;
  const raw = counts.latest;
  const latest: ScoreRunInfo | null = raw
    ? { ...raw, asOf: new Date(raw.asOf), startedAt: new Date(raw.startedAt), updatedAt: new Date(raw.updatedAt), finishedAt: raw.finishedAt ? new Date(raw.finishedAt) : null }
    : null;
  const running = latest?.status === 'running' ? latest : null;
  // Customers created after the last run have no stored score of this model at all.
  const unscored = Math.max(0, counts.total - counts.current - counts.stale);
  const complete = counts.stale === 0 && counts.finished && unscored === 0;
  let note: string | null = null;
  if (!complete && counts.total > 0) {
    const fmt = (n: number) => n.toLocaleString('en-US');
    const parts: string[] = [];
    if (counts.stale > 0) parts.push(`${fmt(counts.stale)} of the stored scores of ${model} were written by another version than the served version ${servedVersion} (stale)`);
    if (!counts.finished) parts.push(`no batch-scoring run of ${model} version ${servedVersion} has finished yet, so ${fmt(counts.total - counts.current)} of ${fmt(counts.total)} customers have no current stored score`);
    else if (unscored > 0) parts.push(`${fmt(unscored)} of ${fmt(counts.total)} customers have no stored score of ${model} (created after its last run)`);
    // The command that helps, for this model: resume a stopped run at its asOf, else start one
    // (--restart when this version has finished a run: at the same asOf it would have nothing to do).
    const progress = running
      ? `a batch-scoring run is in progress (run ${running.id}: ${fmt(running.customersScored)} customers scored)`
      : latest && (latest.status === 'interrupted' || latest.status === 'failed')
        ? `resume run ${latest.id} (${latest.status}) with \`npm run score -- --model ${model} --as-of ${latest.asOf.toISOString()}\``
        : `start one with \`npm run score -- --model ${model}${counts.finished ? ' --restart' : ''}\``;
    note = `${parts.join('; ')}; ${progress}. Segment filters, PROBABILITY ordering and segmentSummary use the stored scores, so they disagree with the live segment until it finishes.`;
  }
  return { complete, staleCustomers: counts.stale, currentCustomers: counts.current, customersTotal: counts.total, running, finishedRun: counts.finished, note };
}
