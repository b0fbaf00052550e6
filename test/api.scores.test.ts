// Stored scores (CustomerScore, written by batch scoring) through GraphQL over real HTTP on each
// database: equal to the live prediction, score filters and PROBABILITY ordering with keyset
// cursors against a JavaScript reference, segmentSummary, errors and statements per page.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemo } from '../src/demo/seed.js';
import { scoreCustomers } from '../src/scoring/batch.js';
import {
  ModelEvaluationsDocument,
  ScoredCustomersPageDocument,
  ScoringRunsDocument,
  SegmentSummaryDocument,
  StoredVersusLiveDocument,
  type CustomerFilter,
  type CustomerOrderBy,
  type ScoredCustomersPageQuery,
  type StoredVersusLiveQuery,
} from './generated/graphql.js';
import { databaseKinds } from './helpers/databases.js';
import { codes, startTestServer, type GraphQLResponse, type TestServer } from './helpers/server.js';

const asOf = '2026-01-01T23:59:59.999Z';
const MODEL = 'xgboost-segment';

interface Ref {
  id: string;
  country: string | null;
  /** null = no stored score. */
  segment: string | null;
  probability: number | null;
}

describe.each(databaseKinds)('stored scores in the API on %s', (kind) => {
  let t: TestServer;
  let ref: Ref[];
  let unscored: Set<string>;

  beforeAll(async () => {
    t = await startTestServer(kind, { MAX_PAGE_SIZE: '200' });
    await seedDemo(t.db, { customers: 240, seed: 11, anchor: '2026-01-01' });
    const summary = await scoreCustomers(t.db, t.scoring, { asOf: new Date(asOf), pageSize: 100 });
    expect(summary.scored).toBe(240);
    // Some customers without a stored score (e.g. created after the run).
    const customers = await t.db.prisma.customer.findMany({ orderBy: { externalId: 'asc' } });
    unscored = new Set(customers.filter((_, i) => i % 20 === 7).map((c) => c.id));
    await t.db.prisma.customerScore.deleteMany({ where: { customerId: { in: [...unscored] } } });
    const scores = new Map((await t.db.prisma.customerScore.findMany({ where: { model: MODEL } })).map((s) => [s.customerId, s]));
    ref = customers.map((c) => ({
      id: c.id,
      country: c.country,
      segment: scores.get(c.id)?.segment ?? null,
      probability: scores.get(c.id)?.probability ?? null,
    }));
    expect(ref.filter((r) => r.segment === null)).toHaveLength(12);
  });
  afterAll(() => t?.close());

  async function walk(variables: { filter?: CustomerFilter | null; orderBy?: CustomerOrderBy | null; scoreModel?: string | null }, pageSize = 37) {
    const ids: string[] = [];
    const nodes: ScoredCustomersPageQuery['customers']['edges'][number]['node'][] = [];
    let after: string | null = null;
    let totalCount = -1;
    for (let page = 0; page < 100; page++) {
      const res: GraphQLResponse<ScoredCustomersPageQuery> = await t.gql(ScoredCustomersPageDocument, { first: pageSize, after, ...variables });
      expect(res.errors).toBeUndefined();
      const conn = res.data!.customers;
      totalCount = conn.totalCount;
      ids.push(...conn.edges.map((e) => e.node.id));
      nodes.push(...conn.edges.map((e) => e.node));
      if (!conn.pageInfo.hasNextPage) break;
      after = conn.pageInfo.endCursor;
    }
    return { ids, nodes, totalCount };
  }

  const idCmp = (a: Ref, b: Ref) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  /** Scored customers by (probability, id) in the direction, then unscored ones by id in the direction. */
  function expectedOrder(rows: Ref[], desc: boolean): string[] {
    const sign = desc ? -1 : 1;
    const scored = rows.filter((r) => r.probability !== null).sort((a, b) => sign * (a.probability! - b.probability! || idCmp(a, b)));
    const rest = rows.filter((r) => r.probability === null).sort((a, b) => sign * idCmp(a, b));
    return [...scored, ...rest].map((r) => r.id);
  }

  it('serves stored scores equal to the live prediction at the same asOf (null when none is stored)', async () => {
    let after: string | null = null;
    let seen = 0;
    for (let page = 0; page < 10; page++) {
      const res: GraphQLResponse<StoredVersusLiveQuery> = await t.gql(StoredVersusLiveDocument, { first: 100, after, asOf, model: MODEL });
      expect(res.errors).toBeUndefined();
      for (const { node } of res.data!.customers.edges) {
        seen += 1;
        const live = node.prediction!;
        if (unscored.has(node.id)) {
          expect(node.score).toBeNull();
          continue;
        }
        const score = node.score!;
        expect(score).toMatchObject({ model: MODEL, modelVersion: live.modelVersion, segment: live.segment, asOf });
        expect(Math.abs(score.probability - live.probability)).toBeLessThan(1e-6);
        expect(score.segmentProbabilities.map((p) => p.segment)).toEqual(live.segmentProbabilities.map((p) => p.segment));
        score.segmentProbabilities.forEach((p, k) => expect(Math.abs(p.probability - live.segmentProbabilities[k].probability)).toBeLessThan(1e-6));
      }
      if (!res.data!.customers.pageInfo.hasNextPage) break;
      after = res.data!.customers.pageInfo.endCursor;
    }
    expect(seen).toBe(240);
  });

  it.each(['ASC', 'DESC'] as const)('orders by stored probability %s, unscored customers last, over keyset pages', async (direction) => {
    const { ids, nodes, totalCount } = await walk({ orderBy: { field: 'PROBABILITY', direction } });
    expect(totalCount).toBe(240);
    expect(ids).toEqual(expectedOrder(ref, direction === 'DESC'));
    expect(nodes.slice(-12).every((n) => n.score === null)).toBe(true);
  });

  it.each<[string, CustomerFilter, (r: Ref) => boolean]>([
    ['segment active', { segment: 'active' }, (r) => r.segment === 'active'],
    ['segment lapsing', { segment: 'lapsing' }, (r) => r.segment === 'lapsing'],
    ['probability range', { minProbability: 0.6, maxProbability: 0.9 }, (r) => r.probability !== null && r.probability >= 0.6 && r.probability <= 0.9],
    ['segment and minimum', { segment: 'active', minProbability: 0.7 }, (r) => r.segment === 'active' && r.probability! >= 0.7],
    ['segment and country', { segment: 'lapsing', countries: ['US', 'DE'] }, (r) => r.segment === 'lapsing' && (r.country === 'US' || r.country === 'DE')],
  ])('filters by %s (customers without a score never match), in probability order', async (_name, filter, predicate) => {
    const matching = ref.filter(predicate);
    expect(matching.length).toBeGreaterThan(0);
    expect(matching.length).toBeLessThan(228);
    for (const direction of ['DESC', 'ASC'] as const) {
      const { ids, totalCount } = await walk({ filter, orderBy: { field: 'PROBABILITY', direction } }, 17);
      expect(totalCount).toBe(matching.length);
      expect(ids).toEqual(expectedOrder(matching, direction === 'DESC'));
    }
    const byCreation = await walk({ filter, orderBy: { field: 'CREATED_AT', direction: 'ASC' } }, 50);
    expect([...byCreation.ids].sort()).toEqual(matching.map((r) => r.id).sort());
  });

  it('marks a stored score whose customer data changed after it was written, as the live prediction may then differ', async () => {
    const query = `query($id: ID!) { customer(id: $id) { score(model: "${MODEL}") { scoredAt dataChangedSince } } }`;
    const flag = async (id: string) => (await t.post(JSON.stringify({ query, variables: { id } }))).json.data.customer.score.dataChangedSince;
    const [a, b, c] = ref.filter((r) => r.segment !== null).map((r) => r.id);
    expect([await flag(a), await flag(b), await flag(c)]).toEqual([false, false, false]);
    // An order recorded now, placed before asOf, is in the live prediction at asOf but not in the stored score.
    const before = await t.db.prisma.order.create({ data: { customerId: a, externalId: 'late-a', orderedAt: new Date('2025-12-30T10:00:00Z'), amount: '50.00', itemCount: 1, currency: 'USD' } });
    // One placed after asOf is in neither.
    const after = await t.db.prisma.order.create({ data: { customerId: b, externalId: 'late-b', orderedAt: new Date('2026-01-02T10:00:00Z'), amount: '50.00', itemCount: 1, currency: 'USD' } });
    try {
      expect([await flag(a), await flag(b)]).toEqual([true, false]);
      // A profile update (upsertCustomer) changes what the score was computed from too.
      await t.db.prisma.customer.update({ where: { id: c }, data: { birthDate: new Date('1970-01-01') } });
      expect(await flag(c)).toBe(true);
    } finally {
      await t.db.prisma.order.deleteMany({ where: { id: { in: [before.id, after.id] } } });
    }
    expect(await flag(a)).toBe(false);
  });

  it.runIf(kind === 'pglite')('segmentSummary waits for a transaction that holds the embedded session longer than 2 s, instead of failing', async () => {
    // The embedded database is one session: this transaction holds it, as an import's does.
    let holding!: () => void;
    const held = new Promise<void>((r) => (holding = r));
    const holder = t.db.prisma.$transaction(
      async (tx) => {
        await tx.$queryRaw`SELECT 1`;
        holding();
        await new Promise((r) => setTimeout(r, 3_000)); // longer than Prisma's default wait (2 s) for a transaction to start
      },
      { timeout: 20_000 },
    );
    await held;
    const res = await t.post(JSON.stringify({ query: '{ segmentSummary { customersTotal } }' }));
    await holder;
    expect(res.json.errors).toBeUndefined();
    expect(res.json.data.segmentSummary.customersTotal).toBe(240);
  });

  it('reads the scores of the model named by scoreModel', async () => {
    const none = await walk({ filter: { segment: 'active' }, scoreModel: 'logistic-segment' });
    expect(none).toMatchObject({ ids: [], totalCount: 0 });
    // Nothing stored for this model: every customer is "unscored", ordered by id.
    const all = await walk({ orderBy: { field: 'PROBABILITY', direction: 'DESC' }, scoreModel: 'logistic-segment' }, 100);
    expect(all.ids).toEqual([...ref].sort((a, b) => -idCmp(a, b)).map((r) => r.id));
    expect(all.nodes.every((n) => n.score === null)).toBe(true);
  });

  it('refuses unknown segments and models, probabilities outside 0–1, and cursors of another model', async () => {
    const badSegment = await t.gql(ScoredCustomersPageDocument, { filter: { segment: 'vip' } });
    expect(codes(badSegment)).toEqual(['BAD_USER_INPUT']);
    expect(badSegment.errors![0].extensions).toMatchObject({ field: 'filter.segment' });
    expect(badSegment.errors![0].message).toContain('lapsing, active, high_value');
    const badProbability = await t.gql(ScoredCustomersPageDocument, { filter: { minProbability: 1.5 } });
    expect(badProbability.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'filter.minProbability' });
    const badModel = await t.gql(ScoredCustomersPageDocument, { scoreModel: 'nope' });
    expect(badModel.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'scoreModel' });
    expect(codes(await t.gql(SegmentSummaryDocument, { model: 'nope' }))).toEqual(['BAD_USER_INPUT']);

    const orderBy = { field: 'PROBABILITY', direction: 'DESC' } as const;
    const page = await t.gql(ScoredCustomersPageDocument, { first: 5, orderBy });
    const cursor = page.data!.customers.pageInfo.endCursor!;
    expect(codes(await t.gql(ScoredCustomersPageDocument, { first: 5, after: cursor, orderBy, scoreModel: 'logistic-segment' }))).toEqual(['INVALID_CURSOR']);
    const id = page.data!.customers.edges[0].node.id;
    const forged = Buffer.from(JSON.stringify([`PROBABILITY:DESC:${MODEL}`, '1; DROP TABLE x', id])).toString('base64url');
    expect(codes(await t.gql(ScoredCustomersPageDocument, { first: 5, after: forged, orderBy }))).toEqual(['INVALID_CURSOR']);
  });

  it('summarises segments: counts, shares, mean probability and freshness', async () => {
    const res = await t.gql(SegmentSummaryDocument, {});
    expect(res.errors).toBeUndefined();
    const s = res.data!.segmentSummary;
    const scored = ref.filter((r) => r.segment !== null);
    expect(s).toMatchObject({ model: MODEL, customersTotal: 240, customersScored: 228, asOfMin: asOf, asOfMax: asOf });
    expect(s.storedVersions).toEqual([s.servedVersion]);
    expect(s.segments.map((g) => g.segment)).toEqual(['lapsing', 'active', 'high_value']);
    for (const g of s.segments) {
      const mine = scored.filter((r) => r.segment === g.segment);
      expect(g.count).toBe(mine.length);
      expect(g.share).toBeCloseTo(mine.length / 228, 12);
      if (mine.length) expect(g.meanProbability!).toBeCloseTo(mine.reduce((a, r) => a + r.probability!, 0) / mine.length, 9);
      else expect(g.meanProbability).toBeNull();
    }
    expect(s.segments.reduce((a, g) => a + g.share, 0)).toBeCloseTo(1, 12);
    expect(Date.parse(s.scoredAtMin!)).toBeLessThanOrEqual(Date.parse(s.scoredAtMax!));
    expect(s.lastRun).toMatchObject({ status: 'finished', customersScored: 240, asOf, modelVersion: s.servedVersion });

    const empty = (await t.gql(SegmentSummaryDocument, { model: 'logistic-segment' })).data!.segmentSummary;
    expect(empty).toMatchObject({ customersTotal: 240, customersScored: 0, storedVersions: [], asOfMin: null, scoredAtMax: null, lastRun: null });
    expect(empty.segments.every((g) => g.count === 0 && g.share === 0 && g.meanProbability === null)).toBe(true);
  });

  it('costs a constant number of SQL statements per page with stored scores', async () => {
    const count = async (first: number) => {
      const before = t.db.queryCount();
      const res = await t.gql(ScoredCustomersPageDocument, { first, filter: { minProbability: 0 }, orderBy: { field: 'PROBABILITY', direction: 'DESC' } });
      expect(res.errors).toBeUndefined();
      expect(res.data!.customers.edges).toHaveLength(first);
      return t.db.queryCount() - before;
    };
    const for10 = await count(10);
    expect(await count(200)).toBe(for10);
    expect(for10).toBeLessThanOrEqual(4); // the page, the scores, the count, the stored scores' freshness
  });

  it('serves each model version\'s stored evaluation: confusion matrix = the card\'s held-out metrics, calibration bins covering every customer', async () => {
    const res = await t.gql(ModelEvaluationsDocument, {});
    expect(res.errors).toBeUndefined();
    expect(res.data!.models.length).toBeGreaterThan(0);
    for (const m of res.data!.models) {
      const ev = m.evaluation!;
      expect(ev, `${m.name} ${m.version}`).not.toBeNull();
      const metrics = m.metrics as { n: number; confusion_matrix: number[][]; per_class: Record<string, { support: number }> };
      expect(ev.customers).toBe(metrics.n);
      expect(ev.confusion.classes).toEqual(m.classes.map((c) => c.key));
      expect(ev.confusion.matrix).toEqual(metrics.confusion_matrix);
      expect(ev.calibration.classes.map((c) => c.segment)).toEqual(m.classes.map((c) => c.key));
      for (const c of ev.calibration.classes) {
        expect(c.bins.reduce((a, b) => a + b.count, 0)).toBe(metrics.n);
        // Observed frequencies times bin sizes add up to the class's held-out support.
        expect(Math.round(c.bins.reduce((a, b) => a + (b.observed ?? 0) * b.count, 0))).toBe(metrics.per_class[c.segment].support);
        for (const b of c.bins) {
          if (b.count === 0) expect(b).toMatchObject({ meanPredicted: null, observed: null });
          else expect(b.meanPredicted!).toBeGreaterThanOrEqual(b.lower), expect(b.meanPredicted!).toBeLessThanOrEqual(b.upper);
        }
      }
    }
  });

  it('records the segment mix of every finished scoring run, so past runs keep theirs after the next run overwrites the scores', async () => {
    const mixNow = async () => {
      const rows = await t.db.prisma.customerScore.groupBy({ by: ['segment'], where: { model: MODEL }, _count: { _all: true }, _avg: { probability: true } });
      return new Map(rows.map((r) => [r.segment, { count: r._count._all, mean: r._avg.probability! }]));
    };
    const first = await scoreCustomers(t.db, t.scoring, { asOf: new Date('2025-09-30T23:59:59.999Z'), pageSize: 70 });
    expect(first).toMatchObject({ outcome: 'finished', scored: 240 });
    const mixFirst = await mixNow();
    const second = await scoreCustomers(t.db, t.scoring, { asOf: new Date('2025-06-30T23:59:59.999Z'), pageSize: 70 });
    expect(second).toMatchObject({ outcome: 'finished', scored: 240 });
    const mixSecond = await mixNow();
    expect([...mixSecond]).not.toEqual([...mixFirst]); // a quarter earlier, another mix

    const res = await t.gql(ScoringRunsDocument, { last: 3, finished: true });
    expect(res.errors).toBeUndefined();
    const runs = res.data!.scoringRuns;
    expect(runs.map((r) => r.id)).toEqual([second.runId, first.runId, runs[2].id]);
    expect(runs.every((r) => r.status === 'finished' && r.model === MODEL)).toBe(true);
    for (const [run, mix] of [[runs[0], mixSecond], [runs[1], mixFirst]] as const) {
      expect(run.segments!.map((g) => g.segment)).toEqual(['lapsing', 'active', 'high_value'].filter((k) => mix.has(k)));
      for (const g of run.segments!) {
        expect(g.count).toBe(mix.get(g.segment)!.count);
        expect(g.share).toBeCloseTo(mix.get(g.segment)!.count / 240, 12);
        expect(g.meanProbability!).toBeCloseTo(mix.get(g.segment)!.mean, 9);
      }
    }
    // The run of beforeAll: all 240 customers, whatever their scores are now.
    expect(runs[2].segments!.reduce((a, g) => a + g.count, 0)).toBe(240);

    // The migration's backfill (for runs finished before the mix was recorded) rebuilds the mix of a
    // finished run whose scores are all still stored, and of no other.
    const migration = readFileSync('prisma/migrations/20261129204910_score_run_segments/migration.sql', 'utf8');
    const backfill = migration.slice(migration.indexOf('INSERT INTO "ScoreRunSegment"'));
    await t.db.prisma.$executeRawUnsafe('DELETE FROM "ScoreRunSegment"');
    await t.db.prisma.$executeRawUnsafe(backfill);
    const rebuilt = (await t.gql(ScoringRunsDocument, { last: 3, finished: true })).data!.scoringRuns;
    expect(rebuilt[0].segments).toEqual(runs[0].segments);
    expect(rebuilt[1].segments).toBeNull();
    expect(rebuilt[2].segments).toBeNull();

    for (const last of [0, 101]) {
      const bad = await t.gql(ScoringRunsDocument, { last });
      expect(bad.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'last' });
    }
    expect(codes(await t.gql(ScoringRunsDocument, { model: 'nope' }))).toEqual(['BAD_USER_INPUT']);
  });
});
