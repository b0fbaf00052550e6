// Predictions through GraphQL over real HTTP, on the fixture customers the training pipeline wrote
// golden files for: the served probabilities and explanations must be the trained ones.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { seedDemo } from '../src/demo/seed.js';
import { featureQueryCount } from '../src/features/index.js';
import { importFiles } from '../src/ingest/import.js';
import {
  CustomerPredictionsDocument,
  ModelsDocument,
  OneExplanationDocument,
  OneSegmentDocument,
  PageSegmentsDocument,
  PageSegmentsOnlyDocument,
  RecordOrderDocument,
} from './generated/graphql.js';
import { databaseKinds } from './helpers/databases.js';
import { codes, startTestServer, type TestServer } from './helpers/server.js';

interface GoldenCustomer {
  customer_id: string;
  probabilities: number[];
  margins?: number[];
  shap?: Record<string, number[]>;
}
interface Golden {
  as_of: string;
  feature_names: string[];
  class_keys: string[];
  probability_tolerance: number;
  customers: GoldenCustomer[];
}
const golden = (model: string) => JSON.parse(readFileSync(new URL(`../models/${model}/1/golden.json`, import.meta.url), 'utf8')) as Golden;
/** The shipped card's decision-rule class weights, in class order (all 1 = plain argmax). */
const cardWeights = (model: string, classes: string[]) => {
  const card = JSON.parse(readFileSync(new URL(`../models/${model}/1/model.json`, import.meta.url), 'utf8')) as {
    decision_rule?: { weights: Record<string, number> };
  };
  return classes.map((c) => card.decision_rule?.weights[c] ?? 1);
};
const fixture = (name: string) => new URL(`./fixtures/models/${name}`, import.meta.url).pathname;

describe.each(databaseKinds)('golden parity through GraphQL on %s', (kind) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer(kind);
    await importFiles(t.db, { orders: fixture('orders.csv'), customers: fixture('customers.csv') });
  });
  afterAll(() => t?.close());

  it('serves the golden probabilities, segments and exact SHAP values of every model', async () => {
    const xgb = golden('xgboost-segment');
    const logistic = golden('logistic-segment');
    const transformer = golden('transformer-segment');
    expect(xgb.customers.length).toBeGreaterThanOrEqual(10);
    for (const g of xgb.customers) {
      const res = await t.gql(CustomerPredictionsDocument, { externalId: g.customer_id, asOf: xgb.as_of, top: xgb.feature_names.length });
      expect(res.errors).toBeUndefined();
      const c = res.data!.customerByExternalId!;
      for (const [pred, gold] of [
        [c.xgboost!, g],
        [c.logistic!, logistic.customers.find((x) => x.customer_id === g.customer_id)!],
        [c.transformer!, transformer.customers.find((x) => x.customer_id === g.customer_id)!],
      ] as const) {
        const tol = pred.model === 'transformer-segment' ? 1e-4 : 1e-5;
        const probs = pred.segmentProbabilities.map((p) => p.probability);
        expect(pred.segmentProbabilities.map((p) => p.segment)).toEqual(xgb.class_keys);
        probs.forEach((p, k) => expect(Math.abs(p - gold.probabilities[k]), `${pred.model} ${g.customer_id} class ${k}`).toBeLessThanOrEqual(tol));
        expect(Math.abs(probs.reduce((s, p) => s + p, 0) - 1)).toBeLessThan(1e-5);
        // The served segment is the card's decision rule, argmax(p · w) (the shipped cards carry no recalibration).
        const w = cardWeights(pred.model, xgb.class_keys);
        const scores = gold.probabilities.map((p, k) => p * w[k]);
        const chosen = scores.indexOf(Math.max(...scores));
        expect(pred.segment).toBe(xgb.class_keys[chosen]);
        expect(pred.probability).toBeCloseTo(gold.probabilities[chosen], 4);
        // Every explanation is additive: base + listed + rest = margin.
        const e = pred.explanation!;
        const sum = e.baseValue + e.contributions.reduce((s, x) => s + x.contribution, 0) + e.restContribution;
        expect(Math.abs(sum - e.margin)).toBeLessThan(1e-4);
        expect(e.summary.length).toBeGreaterThan(10);
      }
      // XGBoost: the explanation of the predicted segment is pred_contribs of that class.
      expect(c.segment).toBe(c.xgboost!.segment);
      const e = c.xgboost!.explanation!;
      expect(e.method).toBe('tree_shap');
      const shap = g.shap![e.segment];
      expect(Math.abs(e.baseValue - shap[shap.length - 1])).toBeLessThanOrEqual(1e-4);
      expect(e.contributions).toHaveLength(xgb.feature_names.length);
      for (const contribution of e.contributions) {
        const j = xgb.feature_names.indexOf(contribution.feature);
        expect(Math.abs(contribution.contribution - shap[j]), `${g.customer_id} ${contribution.feature}`).toBeLessThanOrEqual(1e-4);
      }
      const mags = e.contributions.map((x) => Math.abs(x.contribution));
      expect(mags).toEqual([...mags].sort((a, b) => b - a));
      expect(c.logistic!.explanation!.method).toBe('linear');
      expect(c.transformer!.explanation!.method).toBe('occlusion');
    }
  });

  it('explains another segment on request, lists the top N and reports the rest', async () => {
    const xgb = golden('xgboost-segment');
    const g = xgb.customers[0];
    const res = await t.gql(CustomerPredictionsDocument, { externalId: g.customer_id, asOf: xgb.as_of, top: 3, segment: 'high_value' });
    const e = res.data!.customerByExternalId!.xgboost!.explanation!;
    expect(e.segment).toBe('high_value');
    expect(e.contributions).toHaveLength(3);
    const shap = g.shap!.high_value;
    const restExpected = shap.slice(0, -1).reduce((s, v) => s + v, 0) - e.contributions.reduce((s, c) => s + c.contribution, 0);
    expect(Math.abs(e.restContribution - restExpected)).toBeLessThan(1e-4);
    const bad = await t.gql(CustomerPredictionsDocument, { externalId: g.customer_id, asOf: xgb.as_of, top: 3, segment: 'vip' });
    expect(codes(bad)).toContain('BAD_USER_INPUT');
    const badTop = await t.gql(CustomerPredictionsDocument, { externalId: g.customer_id, asOf: xgb.as_of, top: -1 });
    expect(codes(badTop)).toContain('BAD_USER_INPUT');
  });

  it('lists the models with their cards and the provider in use', async () => {
    const res = await t.gql(ModelsDocument, {});
    const models = res.data!.models;
    expect(models.map((m) => m.name).sort()).toEqual(['logistic-segment', 'transformer-segment', 'xgboost-segment']);
    for (const m of models) {
      expect(['cpu', 'cuda']).toContain(m.executionProvider);
      expect(m.classes.map((c) => c.key)).toEqual(['lapsing', 'active', 'high_value']);
      expect(m.features).toEqual(golden(m.name).feature_names);
      expect(typeof (m.metrics as Record<string, unknown>).log_loss).toBe('number');
    }
    expect(models.filter((m) => m.isDefault).map((m) => m.name)).toEqual(['xgboost-segment']);
  });
});

describe('batching, caching and overload on the embedded database', () => {
  let t: TestServer;
  const asOf = '2026-01-01T00:00:00.000Z';
  beforeAll(async () => {
    t = await startTestServer('pglite', { PREDICTION_CACHE_CUSTOMERS: '0', INFERENCE_MAX_QUEUE_DELAY_MS: '5' });
    await seedDemo(t.db, { customers: 600, seed: 5, anchor: '2026-01-01' });
  });
  afterAll(() => t?.close());

  it('scores a page of 500 customers with one feature query and one session.run per model', async () => {
    const runs = () => ['xgboost-segment', 'logistic-segment'].map((m) => t.scoring.inference.runs(m));
    const [xgb0, log0] = runs();
    const features0 = featureQueryCount();
    const res = await t.gql(PageSegmentsDocument, { first: 500, asOf });
    expect(res.errors).toBeUndefined();
    expect(res.data!.customers.edges).toHaveLength(500);
    expect(res.data!.customers.edges.every((e) => e.node.segment && e.node.logistic?.segment)).toBe(true);
    const [xgb1, log1] = runs();
    expect(featureQueryCount() - features0).toBe(1);
    expect(xgb1 - xgb0).toBe(1);
    expect(log1 - log0).toBe(1);
  });

  it('merges 64 concurrent single-customer requests into one session.run', async () => {
    const page = await t.gql(PageSegmentsOnlyDocument, { first: 64, asOf });
    const ids = page.data!.customers.edges.map((e) => e.node.id);
    const expected = new Map(page.data!.customers.edges.map((e) => [e.node.id, e.node.segment]));
    // A server whose batch leaves only when full (64 rows; the delay is never reached), so the
    // count is exact however slowly the requests arrive on a busy machine.
    const batching = await startTestServer('pglite', { PREDICTION_CACHE_CUSTOMERS: '0', INFERENCE_MAX_QUEUE_DELAY_MS: '60000', INFERENCE_MAX_BATCH_SIZE: '64' }, { db: t.db, drop: async () => {} });
    try {
      const results = await Promise.all(ids.map((id) => batching.gql(OneSegmentDocument, { id, asOf })));
      for (const r of results) expect(r.errors).toBeUndefined();
      // Same answers as the page, row by row.
      for (const r of results) expect(r.data!.customer!.segment).toBe(expected.get(r.data!.customer!.id));
      expect(batching.scoring.inference.runs('xgboost-segment')).toBe(1);
    } finally {
      await batching.server.close();
      await batching.scoring.close();
    }
  });

  it('exposes Prometheus metrics: provider per model, executions, batch sizes, request durations', async () => {
    await t.gql(PageSegmentsOnlyDocument, { first: 10, asOf });
    const res = await fetch(t.server.url.replace('/graphql', '/metrics'));
    expect(res.status).toBe(200);
    const text = await res.text();
    for (const m of t.scoring.inference.registry.list()) {
      expect(text).toContain(`inference_model_info{model="${m.name}",version="${m.version}",provider="${m.provider}"} 1`);
    }
    const execs = Number(/inference_exec_count_total\{model="xgboost-segment"\} (\d+)/.exec(text)?.[1]);
    expect(execs).toBe(t.scoring.inference.runs('xgboost-segment'));
    expect(text).toMatch(/inference_batch_size_count\{model="xgboost-segment"\} [1-9]/);
    expect(text).toMatch(/inference_compute_duration_seconds_count\{model="xgboost-segment",provider="(cpu|cuda)"\} [1-9]/);
    expect(text).toMatch(/graphql_request_duration_seconds_count\{operation="PageSegmentsOnly",status="ok"\} [1-9]/);
    expect(text).toMatch(/prediction_cache_misses_total \d+/);
  });

  it('computes explanations only when the field is asked for', async () => {
    const spy = vi.spyOn(t.scoring, 'explain');
    try {
      await t.gql(PageSegmentsOnlyDocument, { first: 20, asOf });
      expect(spy).not.toHaveBeenCalled();
      const page = await t.gql(PageSegmentsOnlyDocument, { first: 1, asOf });
      const res = await t.gql(OneExplanationDocument, { id: page.data!.customers.edges[0].node.id, asOf });
      expect(res.data!.customer!.prediction!.explanation!.method).toBe('tree_shap');
      expect(spy).toHaveBeenCalledTimes(1);
    } finally {
      spy.mockRestore();
    }
  });

  it('refuses work with OVERLOADED when the inference queue is full, and recovers', async () => {
    // Nothing leaves the queue until the test drains it: 4 rows fit, every later request is refused.
    const small = await startTestServer('pglite', { INFERENCE_MAX_QUEUE_ROWS: '4', INFERENCE_MAX_QUEUE_DELAY_MS: '60000', INFERENCE_MAX_BATCH_SIZE: '1000', PREDICTION_CACHE_CUSTOMERS: '0' }, { db: t.db, drop: async () => {} });
    try {
      const page = await t.gql(PageSegmentsOnlyDocument, { first: 12, asOf });
      const ids = page.data!.customers.edges.map((e) => e.node.id);
      const settled: any[] = [];
      const pending = ids.map((id) => small.gql(OneSegmentDocument, { id, asOf }).then((r) => (settled.push(r), r)));
      await vi.waitFor(() => expect(settled.length).toBe(8), { timeout: 60_000, interval: 20 });
      expect(small.scoring.inference.queuedRows('xgboost-segment')).toBe(4);
      small.scoring.inference.drain();
      const results = await Promise.all(pending);
      const overloaded = results.filter((r) => codes(r).includes('OVERLOADED'));
      const served = results.filter((r) => r.errors === undefined);
      expect(overloaded).toHaveLength(8);
      expect(served).toHaveLength(4);
      const metrics = await (await fetch(small.server.url.replace('/graphql', '/metrics'))).text();
      expect(Number(/inference_queue_rejected_total\{model="xgboost-segment"\} (\d+)/.exec(metrics)?.[1])).toBe(8);
      const again = await small.gql(OneSegmentDocument, { id: ids[0], asOf });
      expect(again.errors).toBeUndefined();
    } finally {
      await small.server.close();
      await small.scoring.close();
    }
  });

  it('reports a failed inference batch to its callers only; later requests succeed', async () => {
    const inference = t.scoring.inference;
    const page = await t.gql(PageSegmentsOnlyDocument, { first: 3, asOf: '2025-12-01T00:00:00.000Z' });
    const ids = page.data!.customers.edges.map((e) => e.node.id);
    const run = inference.runBatch.bind(inference);
    const spy = vi.spyOn(inference, 'runBatch').mockRejectedValueOnce(new Error('device lost'));
    try {
      const failed = await t.gql(OneSegmentDocument, { id: ids[0], asOf: '2025-11-01T00:00:00.000Z' });
      expect(new Set(codes(failed))).toEqual(new Set(['INTERNAL_SERVER_ERROR']));
      expect(failed.data!.customer!.id).toBe(ids[0]);
      expect(failed.data!.customer!.segment).toBeNull();
      spy.mockImplementation(run);
      const ok = await t.gql(OneSegmentDocument, { id: ids[1], asOf: '2025-11-01T00:00:00.000Z' });
      expect(ok.errors).toBeUndefined();
      expect(ok.data!.customer!.segment).toBeTruthy();
    } finally {
      spy.mockRestore();
    }
  });
});

describe('prediction cache', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer('pglite', { SCORING_AS_OF: '2026-01-01T00:00:00.000Z' });
    await seedDemo(t.db, { customers: 50, seed: 9, anchor: '2026-01-01' });
  });
  afterAll(() => t?.close());

  it('serves a repeated prediction from the cache and recomputes after recordOrder', async () => {
    const page = await t.gql(PageSegmentsOnlyDocument, { first: 1 });
    const id = page.data!.customers.edges[0].node.id;
    const runs = () => t.scoring.inference.runs('xgboost-segment');
    const first = await t.gql(OneSegmentDocument, { id });
    const afterFirst = runs();
    const second = await t.gql(OneSegmentDocument, { id });
    expect(runs()).toBe(afterFirst);
    expect(second.data).toEqual(first.data);
    expect(t.scoring.cache.hits).toBeGreaterThan(0);

    const recorded = await t.gql(RecordOrderDocument, {
      input: { externalId: 'cache-bust-1', customerId: id, orderedAt: '2025-12-31T12:00:00.000Z', amount: '900.00', itemCount: 3, currency: 'USD' },
    });
    expect(recorded.errors).toBeUndefined();
    const third = await t.gql(OneSegmentDocument, { id });
    expect(runs()).toBe(afterFirst + 1);
    expect(third.data!.customer!.probability).not.toBe(first.data!.customer!.probability);
  });
});
