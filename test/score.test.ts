// Batch scoring (src/scoring/batch.ts) on each database: one row per customer equal to a fresh
// inference, resume after interruption with every customer scored exactly once, a second run as a
// no-op, --restart, and a constant number of SQL statements per page.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { seedDemo } from '../src/demo/seed.js';
import { featureQueryCount, featuresForCustomers } from '../src/features/index.js';
import { UnknownModelError } from '../src/inference/service.js';
import { scoreCustomers, ScoreOptionsError, ScoreRunConflictError, type ScoreSummary } from '../src/scoring/batch.js';
import type { Scoring } from '../src/scoring/scoring.js';
import { createScoring } from '../src/scoring/setup.js';
import { createTestDatabase, databaseKinds, type TestDatabase } from './helpers/databases.js';
import { testConfig } from './helpers/server.js';

const CUSTOMERS = 230;
const asOf = new Date('2026-01-01T23:59:59.999Z');
/** ONNX Runtime's float32 outputs vary in the last bits with the batch composition. */
const TOLERANCE = 1e-6;

interface StoredRow {
  customerId: string;
  model: string;
  modelVersion: string;
  segment: string;
  probability: number;
  probabilities: Record<string, number>;
  asOf: Date;
  scoredAt: Date;
  runId: number;
}

describe.each(databaseKinds)('batch scoring on %s', (kind) => {
  let t: TestDatabase;
  let scoring: Scoring;
  let customerIds: string[];

  beforeAll(async () => {
    t = await createTestDatabase(kind);
    await seedDemo(t.db, { customers: CUSTOMERS, seed: 5, anchor: '2026-01-01' });
    scoring = await createScoring(testConfig(), pino({ level: 'silent' }));
    customerIds = (await t.db.prisma.customer.findMany({ select: { id: true } })).map((c) => c.id).sort();
  });
  afterAll(async () => {
    await scoring?.close();
    await t?.drop();
  });

  const stored = async (model = 'xgboost-segment') =>
    (await t.db.prisma.customerScore.findMany({ where: { model } })) as unknown as StoredRow[];
  const run = (runId: number) => t.db.prisma.scoreRun.findUniqueOrThrow({ where: { id: runId } });

  it('writes one row per customer equal to a fresh inference of the same features', async () => {
    const summary = await scoreCustomers(t.db, scoring, { asOf, pageSize: 64 });
    expect(summary).toMatchObject({ outcome: 'finished', scored: CUSTOMERS, runScored: CUSTOMERS, pages: 4, resumed: false, model: 'xgboost-segment' });
    // No score existed: on PostgreSQL every page is COPYed straight into "CustomerScore".
    expect(summary.directPages).toBe(kind === 'postgresql' ? 4 : 0);
    const rows = await stored();
    expect(rows.map((r) => r.customerId).sort()).toEqual(customerIds);

    const model = scoring.model('xgboost-segment');
    const rule = model.card.decision_rule as { weights: Record<string, number> } | undefined;
    const weights = model.classes.map((c) => rule?.weights[c] ?? 1);
    const features = await featuresForCustomers(t.db, customerIds, asOf);
    const probabilities = await scoring.inference.predict(model.name, customerIds.map((id) => features.get(id)!));
    const byId = new Map(rows.map((r) => [r.customerId, r]));
    customerIds.forEach((id, i) => {
      const row = byId.get(id)!;
      const p = Array.from(probabilities[i]);
      // The card's decision rule: argmax(p · w), the shipped cards' class weights (no recalibration).
      const scores = p.map((v, k) => v * weights[k]);
      const best = scores.indexOf(Math.max(...scores));
      expect(row).toMatchObject({ model: model.name, modelVersion: model.version, segment: model.classes[best], runId: summary.runId });
      // ONNX Runtime's float32 results depend on the batch's size in the last bits (~1e-8).
      expect(Math.abs(row.probability - p[best])).toBeLessThan(TOLERANCE);
      expect(row.probability).toBe(row.probabilities[row.segment]);
      expect(row.asOf.toISOString()).toBe(asOf.toISOString());
      expect(Object.keys(row.probabilities).sort()).toEqual([...model.classes].sort());
      model.classes.forEach((k, c) => expect(Math.abs(row.probabilities[k] - p[c])).toBeLessThan(TOLERANCE));
    });
    expect(new Set(rows.map((r) => r.segment)).size).toBeGreaterThan(1);
    expect(await run(summary.runId)).toMatchObject({ status: 'finished', customersScored: CUSTOMERS, pages: 4 });
  });

  it('does nothing when run again with the same model, version and asOf', async () => {
    const before = await stored();
    const queries = t.db.queryCount();
    const again = await scoreCustomers(t.db, scoring, { asOf, pageSize: 64 });
    expect(again).toMatchObject({ outcome: 'alreadyFinished', scored: 0, pages: 0, runScored: CUSTOMERS });
    expect(t.db.queryCount() - queries).toBe(1); // only the look-up of the run
    expect(await stored()).toEqual(before);
  });

  it('resumes an interrupted run after the last committed page: every customer scored exactly once', async () => {
    const scoredIds: string[][] = [];
    // Interrupted by maxPages (as a crash after k pages: the run is left unfinished).
    const first: ScoreSummary = await scoreCustomers(t.db, scoring, { asOf, pageSize: 50, restart: true, maxPages: 2 });
    expect(first).toMatchObject({ outcome: 'interrupted', scored: 100, pages: 2 });
    let rows = await stored();
    scoredIds.push(rows.filter((r) => r.runId === first.runId).map((r) => r.customerId));
    expect(scoredIds[0]).toHaveLength(100);
    expect(scoredIds[0].sort()).toEqual(customerIds.slice(0, 100)); // keyset order by id
    expect(await run(first.runId)).toMatchObject({ status: 'interrupted', customersScored: 100, lastCustomerId: customerIds[99] });

    // Interrupted by a signal after one more page.
    const controller = new AbortController();
    const second = await scoreCustomers(t.db, scoring, { asOf, pageSize: 50, signal: controller.signal, onProgress: () => controller.abort() });
    expect(second).toMatchObject({ runId: first.runId, outcome: 'interrupted', resumed: true, scored: 50, runScored: 150 });

    const third = await scoreCustomers(t.db, scoring, { asOf, pageSize: 50 });
    expect(third).toMatchObject({ runId: first.runId, outcome: 'finished', resumed: true, scored: CUSTOMERS - 150, runScored: CUSTOMERS });
    rows = await stored();
    expect(rows).toHaveLength(CUSTOMERS);
    expect(rows.every((r) => r.runId === first.runId)).toBe(true);
    expect(first.scored + second.scored + third.scored).toBe(CUSTOMERS);
    expect(await run(first.runId)).toMatchObject({ status: 'finished', customersScored: CUSTOMERS });
    // The earlier finished run is kept; a restart never touches it.
    const runs = await t.db.prisma.scoreRun.findMany({ orderBy: { id: 'asc' } });
    expect(runs.map((r) => r.status)).toEqual(['finished', 'finished']);
  });

  it('--restart scores everything again in a new run', async () => {
    const before = new Map((await stored()).map((r) => [r.customerId, r]));
    const summary = await scoreCustomers(t.db, scoring, { asOf, pageSize: 100, restart: true });
    expect(summary).toMatchObject({ outcome: 'finished', scored: CUSTOMERS, resumed: false, directPages: 0 }); // every row existed: merged
    const rows = await stored();
    expect(rows).toHaveLength(CUSTOMERS);
    for (const r of rows) {
      expect(r.runId).toBe(summary.runId);
      expect(r.scoredAt.getTime()).toBeGreaterThanOrEqual(before.get(r.customerId)!.scoredAt.getTime());
      const previous = before.get(r.customerId)!; // same data, same asOf: same scores (up to float32 noise)
      expect(r.segment).toBe(previous.segment);
      for (const [k, p] of Object.entries(previous.probabilities)) expect(Math.abs(r.probabilities[k] - p)).toBeLessThan(TOLERANCE);
    }
  });

  it('sends a constant number of SQL statements per page (the keyset feature query, then COPY + one merge, or one upsert)', async () => {
    const measure = async (pageSize: number) => {
      const queries = t.db.queryCount();
      const features = featureQueryCount();
      const s = await scoreCustomers(t.db, scoring, { asOf, pageSize, restart: true });
      return { prisma: t.db.queryCount() - queries, featureQueries: featureQueryCount() - features, pages: s.pages, statements: s.statements, writer: s.writer };
    };
    const small = await measure(23); // 10 full pages, then an empty page
    const large = await measure(46); // 5 full pages, then an empty page
    expect(small.pages).toBe(10);
    expect(large.pages).toBe(5);
    // No separate ids query: the feature query is the page.
    expect(small.featureQueries).toBe(11);
    expect(large.featureQueries).toBe(6);
    // PostgreSQL (the rows exist: merged): BEGIN, the guard, COPY into the staging table, the merge,
    // COMMIT; PGlite: one unnest upsert.
    expect(small.writer).toBe(kind === 'postgresql' ? 'copy' : 'unnest');
    const writesPerPage = kind === 'postgresql' ? 5 : 1;
    for (const m of [small, large]) expect(m.statements).toBe(m.pages + 1 + writesPerPage * m.pages);
    // Through Prisma: on PGlite the feature query and the upsert per page (on PostgreSQL both go
    // through node-postgres), plus a constant few.
    const prismaPerPage = kind === 'postgresql' ? 0 : 2;
    expect(small.prisma - large.prisma).toBe(prismaPerPage * (small.pages - large.pages));
    expect(large.prisma).toBeLessThanOrEqual(prismaPerPage * large.pages + 7);
  });

  it('scores with another model and pipelined pages, keeping other models\' rows', async () => {
    const summary = await scoreCustomers(t.db, scoring, { model: 'transformer-segment', asOf, pageSize: 40, pipeline: true });
    expect(summary).toMatchObject({ outcome: 'finished', scored: CUSTOMERS, pipelined: true });
    const rows = await stored('transformer-segment');
    expect(rows).toHaveLength(CUSTOMERS);
    const features = await featuresForCustomers(t.db, customerIds.slice(0, 20), asOf);
    const probabilities = await scoring.inference.predict('transformer-segment', customerIds.slice(0, 20).map((id) => features.get(id)!));
    const byId = new Map(rows.map((r) => [r.customerId, r]));
    const model = scoring.model('transformer-segment');
    const rule = model.card.decision_rule as { weights: Record<string, number> } | undefined;
    const weights = model.classes.map((c) => rule?.weights[c] ?? 1);
    customerIds.slice(0, 20).forEach((id, i) => {
      // The card's decision rule, argmax(p · w); probability = p of that segment.
      const p = Array.from(probabilities[i]);
      const scores = p.map((v, k) => v * weights[k]);
      const best = scores.indexOf(Math.max(...scores));
      expect(byId.get(id)!.segment).toBe(model.classes[best]);
      expect(Math.abs(byId.get(id)!.probability - p[best])).toBeLessThan(1e-5);
    });
    expect(await stored('xgboost-segment')).toHaveLength(CUSTOMERS);
  });

  it('stops a second scorer of the same run instead of scoring a page twice', async () => {
    const first = await scoreCustomers(t.db, scoring, { asOf, pageSize: 50, restart: true, maxPages: 1 });
    const results = await Promise.allSettled([
      scoreCustomers(t.db, scoring, { asOf, pageSize: 50 }),
      scoreCustomers(t.db, scoring, { asOf, pageSize: 50 }),
    ]);
    const failed = results.filter((r) => r.status === 'rejected');
    expect(failed.length).toBeGreaterThanOrEqual(1);
    for (const r of failed) expect((r as PromiseRejectedResult).reason).toBeInstanceOf(ScoreRunConflictError);
    const done = results.filter((r): r is PromiseFulfilledResult<ScoreSummary> => r.status === 'fulfilled');
    const resumed = await scoreCustomers(t.db, scoring, { asOf, pageSize: 50 });
    const total = first.scored + done.reduce((s, r) => s + r.value.scored, 0) + resumed.scored;
    expect(total).toBe(CUSTOMERS); // no page written twice, none skipped
    expect(await run(first.runId)).toMatchObject({ status: 'finished', customersScored: CUSTOMERS });
    expect((await stored()).every((r) => r.runId === first.runId)).toBe(true);
  });

  it('refuses an unknown model (listing the models) and bad options', async () => {
    await expect(scoreCustomers(t.db, scoring, { model: 'nope' })).rejects.toThrow(UnknownModelError);
    await expect(scoreCustomers(t.db, scoring, { model: 'nope' })).rejects.toThrow(/logistic-segment, transformer-segment, xgboost-segment/);
    await expect(scoreCustomers(t.db, scoring, { pageSize: 0 })).rejects.toThrow(ScoreOptionsError);
  });

  it.runIf(kind === 'postgresql')('a page COPYed straight in that meets a row written meanwhile is merged instead', async () => {
    // Another writer holds an uncommitted logistic-segment row of the first customer: the page's
    // check does not see it, its COPY waits on it and fails on the key once it commits.
    const other = await t.db.pgPool!.connect();
    let scoring$: Promise<ScoreSummary> | undefined;
    try {
      await other.query('BEGIN');
      await other.query(
        `INSERT INTO "CustomerScore" ("customerId", "model", "modelVersion", "segment", "probability", "probabilities", "asOf", "scoredAt", "runId")
         VALUES ($1, 'logistic-segment', 'x', 'active', 0.5, '{}', now(), now(), 0)`,
        [customerIds[0]],
      );
      scoring$ = scoreCustomers(t.db, scoring, { model: 'logistic-segment', asOf, pageSize: CUSTOMERS });
      scoring$.catch(() => {});
      // Wait until the scorer's COPY is blocked on the other writer's row lock (asked on another
      // connection: inside a transaction pg_stat_activity stays as it was when first read).
      for (;;) {
        const { rows } = await t.db.pgPool!.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'COPY "CustomerScore"%'`);
        if (rows.length > 0) break;
        await new Promise((r) => setImmediate(r));
      }
      await other.query('COMMIT');
    } finally {
      other.release();
    }
    const summary = await scoring$!;
    expect(summary).toMatchObject({ outcome: 'finished', scored: CUSTOMERS, pages: 1, directPages: 0 });
    const rows = await stored('logistic-segment');
    expect(rows).toHaveLength(CUSTOMERS);
    for (const r of rows) expect(r.runId).toBe(summary.runId);
  });

  it('removes a customer\'s scores with the customer (cascade)', async () => {
    const victim = customerIds[0];
    await t.db.prisma.customer.delete({ where: { id: victim } });
    expect(await t.db.prisma.customerScore.count({ where: { customerId: victim } })).toBe(0);
  });
});
