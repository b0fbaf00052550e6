// SQL over the stored scores ("CustomerScore", "ScoreRun"); batch functions only, so resolvers
// cost a constant number of statements per request.
import type { Database } from '../../db/client.js';
import type { ScoreRunInfo, StoredScore } from './segment.type.js';

type ScoreRow = Omit<StoredScore, 'segmentProbabilities'> & { customerId: string; probabilities: Record<string, number> };

/** Stored scores of one model for a batch of customers. Class order: `classes`, then any other stored key. */
export async function scoresByCustomerIds(db: Database, model: string, classes: readonly string[], ids: readonly string[]): Promise<Map<string, StoredScore>> {
  const rows = await db.prisma.$queryRaw<ScoreRow[]>`
    SELECT cs."customerId"::text AS "customerId", cs."model", cs."modelVersion", cs."segment", cs."probability",
           cs."probabilities", cs."asOf", cs."scoredAt"
    FROM "CustomerScore" cs
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
export async function segmentAggregates(db: Database, model: string): Promise<{ customersTotal: number; segments: SegmentAggregate[] }> {
  const rows = await db.prisma.$queryRaw<(SegmentAggregate & { segment: string | null })[]>`
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

export async function lastScoreRun(db: Database, model: string): Promise<ScoreRunInfo | null> {
  const [row] = await db.prisma.$queryRaw<ScoreRunInfo[]>`
    SELECT "id", "modelVersion", "asOf", "status", "customersScored", "startedAt", "updatedAt", "finishedAt"
    FROM "ScoreRun" WHERE "model" = ${model} ORDER BY "id" DESC LIMIT 1`;
  return row ?? null;
}
