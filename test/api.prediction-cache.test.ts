// The prediction cache must never hand one model's numbers to another. All shipped models share
// version 1.0.0, so a cache keyed on the version alone served the transformer's probabilities for
// `logistic-segment` and for the default `probability`. Over real HTTP, each model is asked in its
// own request against a server with the cache on, in orders that would expose a collision, and
// every answer is compared with a server on the same database with the cache off.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemo } from '../src/demo/seed.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const asOf = '2026-01-01T23:59:59.999Z';
const models = ['transformer-segment', 'logistic-segment', 'xgboost-segment'] as const;

const predictionQuery = (model: string) =>
  `query($id: ID!) { customer(id: $id) { prediction(model: "${model}") { model segment probability segmentProbabilities { segment probability } explanation(top: 3) { segment margin contributions { feature contribution } } } } }`;
const defaultQuery =
  'query($id: ID!) { customer(id: $id) { segment probability segmentProbabilities { segment probability } explanation(top: 3) { segment margin contributions { feature contribution } } } }';

describe('prediction cache keyed on the model identity (name, version, sha256 of the ONNX file)', () => {
  let cached: TestServer;
  let uncached: TestServer;
  let ids: string[];
  beforeAll(async () => {
    cached = await startTestServer('pglite', { SCORING_AS_OF: asOf });
    uncached = await startTestServer('pglite', { SCORING_AS_OF: asOf, PREDICTION_CACHE_CUSTOMERS: '0' }, { db: cached.db, drop: async () => {} });
    await seedDemo(cached.db, { customers: 6, seed: 17, anchor: '2026-01-01' });
    ids = (await cached.db.prisma.customer.findMany({ select: { id: true }, orderBy: { externalId: 'asc' } })).map((c) => c.id);
  });
  afterAll(async () => {
    await uncached?.server.close();
    await uncached?.scoring.close();
    await cached?.close();
  });

  const ask = async (t: TestServer, query: string, id: string) => {
    const res = await t.post(JSON.stringify({ query, variables: { id } }));
    expect(res.json.errors, query).toBeUndefined();
    return res.json.data.customer;
  };

  it('gives every served model its own identity, carrying the hash of its file', () => {
    const loaded = cached.scoring.inference.registry.list();
    for (const m of loaded) {
      expect(m.sha256).toBe(m.card.onnx.sha256);
      expect(m.identity).toBe(`${m.name}@${m.version}#${m.sha256}`);
    }
    expect(new Set(loaded.map((m) => m.identity)).size).toBe(loaded.length);
    // The collision that was served: same version for every shipped model.
    expect(new Set(loaded.map((m) => m.version)).size).toBe(1);
  });

  it('answers each model, in separate requests and in any order, as the uncached server does', async () => {
    const orders = [
      ['transformer-segment', 'logistic-segment', 'xgboost-segment', 'default'],
      ['default', 'xgboost-segment', 'transformer-segment', 'logistic-segment'],
      ['logistic-segment', 'default', 'transformer-segment', 'xgboost-segment'],
    ];
    const truth = new Map<string, any>();
    for (const id of ids) {
      for (const m of models) truth.set(`${id}|${m}`, (await ask(uncached, predictionQuery(m), id)).prediction);
      truth.set(`${id}|default`, await ask(uncached, defaultQuery, id));
    }
    // The models really differ on these customers (otherwise the test could not see a mix-up).
    const differing = ids.filter((id) => truth.get(`${id}|transformer-segment`).probability !== truth.get(`${id}|xgboost-segment`).probability);
    expect(differing.length).toBe(ids.length);

    const hitsBefore = cached.scoring.cache.hits;
    for (const [round, order] of orders.entries()) {
      for (const [i, id] of ids.entries()) {
        const sequence = order.slice(i % order.length).concat(order.slice(0, i % order.length));
        for (const which of sequence) {
          const got = which === 'default' ? await ask(cached, defaultQuery, id) : (await ask(cached, predictionQuery(which), id)).prediction;
          const want = truth.get(`${id}|${which}`);
          expect(got.segmentProbabilities, `round ${round}, ${which}, customer ${id}`).toEqual(want.segmentProbabilities);
          expect(got.probability).toBe(want.probability);
          expect(got.segment).toBe(want.segment);
          expect(got.explanation.segment).toBe(got.segment);
          expect(got.explanation.margin).toBeCloseTo(want.explanation.margin, 9);
          expect(got.explanation.contributions).toEqual(want.explanation.contributions);
        }
      }
    }
    // The cache was used, so the agreement above is the cache's.
    expect(cached.scoring.cache.hits - hitsBefore).toBeGreaterThan(ids.length * 4);
  });

  it('keeps the default fields of one response in agreement with the default model', async () => {
    for (const id of ids) {
      await ask(cached, predictionQuery('transformer-segment'), id);
      const res = await ask(
        cached,
        'query($id: ID!) { customer(id: $id) { segment probability explanation(top: 1) { segment } xgb: prediction(model: "xgboost-segment") { segment probability } } }',
        id,
      );
      const want = truth(id);
      expect(res.segment).toBe(res.xgb.segment);
      expect(res.probability).toBe(res.xgb.probability);
      expect(res.explanation.segment).toBe(res.segment);
      expect(res.probability).toBe((await want).probability);
    }
    async function truth(id: string) {
      return (await ask(uncached, predictionQuery('xgboost-segment'), id)).prediction;
    }
  });
});
