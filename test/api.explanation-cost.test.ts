// Explanations are priced by their method and cannot starve the server: the audit's request (1000
// transformer explanations, 1 + up to 32 inferences each) was priced 5,001 of 50,000; a refusal
// hit every field (15 aliases → thousands of OVERLOADED errors, each logged with its stack); and a
// page of occlusion ran as one huge session.run whose memory ONNX Runtime never gave back.
import { getComplexity } from 'graphql-query-complexity';
import { parse } from 'graphql';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { seedDemo } from '../src/demo/seed.js';
import { featuresForCustomers } from '../src/features/index.js';
import { getSchema } from '../src/graphql/schema.js';
import { costEstimator, modelPricing } from '../src/server/limits.js';
import type { TestServer } from './helpers/server.js';
import { startTestServer } from './helpers/server.js';

const errCodes = (json: any): string[] => (json.errors ?? []).map((e: any) => e.extensions?.code);
const reported =
  '{ customers(first: 1000, orderBy: {field: ORDER_COUNT, direction: DESC}) { edges { node { prediction(model: "transformer-segment") { explanation(top: 1) { summary } } } } } }';

describe('the cost of an explanation follows its method', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer('pglite', { SCORING_AS_OF: '2026-01-01T23:59:59.999Z' });
    await seedDemo(t.db, { customers: 20, seed: 3, anchor: '2026-01-01' });
  });
  afterAll(() => t?.close());

  const costOf = async (query: string, variables: Record<string, unknown> = {}) => {
    const pricing = modelPricing(
      t.scoring.defaultModel,
      t.scoring.inference.registry.list().map((m) => ({ name: m.name, method: t.scoring.methodOf(m), sequenceLength: m.layout.sequence?.maxLength })),
    );
    const document = parse(query);
    return getComplexity({ schema: await getSchema(), query: document, variables, estimators: [costEstimator(t.config.DEFAULT_PAGE_SIZE, pricing, document)] });
  };

  it('refuses the audit request (1000 transformer explanations) with QUERY_LIMIT_EXCEEDED before any SQL', async () => {
    expect(await costOf(reported)).toBeGreaterThan(t.config.QUERY_MAX_COST);
    const before = t.db.queryCount();
    const res = await t.post(JSON.stringify({ query: reported }));
    expect(res.status).toBe(400);
    expect(errCodes(res.json)).toEqual(['QUERY_LIMIT_EXCEEDED']);
    expect(res.json.errors[0].extensions).toMatchObject({ limit: 'cost', max: t.config.QUERY_MAX_COST });
    expect(t.db.queryCount()).toBe(before);
    // The same through a fragment and through a variable naming the model.
    const viaFragment =
      'query($m: String) { customers(first: 1000) { edges { node { prediction(model: $m) { ...E } } } } } fragment E on Prediction { explanation(top: 1) { summary } }';
    const res2 = await t.post(JSON.stringify({ query: viaFragment, variables: { m: 'transformer-segment' } }));
    expect(errCodes(res2.json)).toEqual(['QUERY_LIMIT_EXCEEDED']);
  });

  it('prices occlusion (1 + 32 transformer inferences) above TreeSHAP, and TreeSHAP above the linear explanation', async () => {
    const page = (model: string) => `{ customers(first: 100) { edges { node { prediction(model: "${model}") { explanation(top: 1) { summary } } } } } }`;
    const [occlusion, treeShap, linear] = await Promise.all(['transformer-segment', 'xgboost-segment', 'logistic-segment'].map((m) => costOf(page(m))));
    const bare = await costOf('{ customers(first: 100) { edges { node { prediction(model: "xgboost-segment") { segment } } } } }');
    expect(linear).toBeGreaterThan(bare);
    expect(treeShap).toBeGreaterThan(linear);
    expect(occlusion).toBeGreaterThan(treeShap * 5);
    // Occlusion is priced per inference: 1 + the sequence length the model takes.
    expect(occlusion - bare).toBeGreaterThanOrEqual(100 * 33);
    // Each explanation is paid for, aliases included; the default explanation at the default model's price.
    const twice = await costOf('{ customers(first: 100) { edges { node { prediction(model: "transformer-segment") { a: explanation { summary } b: explanation(segment: "lapsing") { summary } } } } } }');
    expect(twice - occlusion).toBeGreaterThanOrEqual(100 * 33);
    expect(await costOf('{ customers(first: 100) { edges { node { explanation { summary } } } } }')).toBeLessThan(treeShap + 100);
    // What stays affordable: a page of 1000 customers with TreeSHAP explanations, and 200 transformer explanations.
    for (const query of [
      '{ customers(first: 1000) { edges { node { segment probability explanation(top: 3) { summary } } } } }',
      '{ customers(first: 200) { edges { node { prediction(model: "transformer-segment") { explanation(top: 1) { summary } } } } } }',
    ]) {
      const res = await t.post(JSON.stringify({ query }));
      expect(res.json.errors, query).toBeUndefined();
    }
  });
});

describe('an overloaded batcher refuses a request once', () => {
  let t: TestServer;
  beforeAll(async () => {
    // One session.run at a time and one waiting row: while a run is held and a row waits, every
    // other request is refused.
    t = await startTestServer('pglite', { PREDICTION_CACHE_CUSTOMERS: '0', INFERENCE_MAX_QUEUE_ROWS: '1', INFERENCE_MAX_CONCURRENT_BATCHES: '1' });
    await seedDemo(t.db, { customers: 12, seed: 4, anchor: '2026-01-01' });
  });
  afterAll(() => t?.close());

  it('answers 15 aliased transformer explanations with one OVERLOADED error and logs it in one line without a stack', async () => {
    const [one] = await t.db.prisma.customer.findMany({ take: 1, select: { id: true } });
    const features = (await featuresForCustomers(t.db, [one.id], new Date('2026-01-01T00:00:00Z'))).get(one.id)!;
    // Overload the batcher for real: the first run is held until we let it go, the second row waits.
    const inference = t.scoring.inference;
    const run = inference.runBatch.bind(inference);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const spy = vi.spyOn(inference, 'runBatch').mockImplementationOnce(async (...args) => {
      await gate;
      return run(...args);
    });
    try {
      const running = t.scoring.inference.predict('transformer-segment', [features]);
      const waiting = t.scoring.inference.predict('transformer-segment', [features]);
      expect(t.scoring.inference.queuedRows('transformer-segment')).toBe(1);
      const aliases = Array.from(
        { length: 15 },
        (_, i) => `a${i}: customers(first: 10) { edges { node { prediction(model: "transformer-segment", asOf: "2025-12-${String(10 + i).padStart(2, '0')}T00:00:00Z") { explanation(top: 1) { summary } } } } }`,
      );
      const res = await t.post(JSON.stringify({ query: `{ ${aliases.join(' ')} }` }), { 'x-request-id': 'overload-15' });
      expect(res.status).toBe(200);
      expect(res.json.errors).toHaveLength(1);
      expect(errCodes(res.json)).toEqual(['OVERLOADED']);
      // 15 aliases × 10 customers failed for this one cause.
      expect(res.json.errors[0].extensions.occurrences).toBe(150);
      expect(JSON.stringify(res.json).length).toBeLessThan(20_000);
      const lines = t.logs.filter((l) => l.includes('"requestId":"overload-15"'));
      const problems = lines.filter((l) => JSON.parse(l).level >= 40);
      expect(problems).toHaveLength(1);
      expect(JSON.parse(problems[0])).toMatchObject({ msg: 'request refused', code: 'OVERLOADED', occurrences: 150 });
      expect(problems[0]).not.toMatch(/stack|QueueFullError/);
      // Once the held run goes, both rows are served and the queue is free again.
      release();
      expect(await running).toHaveLength(1);
      expect(await waiting).toHaveLength(1);
    } finally {
      release();
      spy.mockRestore();
    }
    const after = await t.post(JSON.stringify({ query: '{ customers(first: 2) { edges { node { prediction(model: "transformer-segment") { segment } } } } }' }));
    expect(after.json.errors).toBeUndefined();
  });
});

describe('big explanation batches run in bounded chunks', () => {
  let small: TestServer;
  let big: TestServer;
  beforeAll(async () => {
    small = await startTestServer('pglite', { SCORING_AS_OF: '2026-01-01T23:59:59.999Z', INFERENCE_MAX_BATCH_SIZE: '16', PREDICTION_CACHE_CUSTOMERS: '0' });
    big = await startTestServer('pglite', { SCORING_AS_OF: '2026-01-01T23:59:59.999Z', PREDICTION_CACHE_CUSTOMERS: '0' }, { db: small.db, drop: async () => {} });
    await seedDemo(small.db, { customers: 30, seed: 6, anchor: '2026-01-01' });
  });
  afterAll(async () => {
    await big?.server.close();
    await big?.scoring.close();
    await small?.close();
  });

  it('never runs more than INFERENCE_MAX_BATCH_SIZE rows at once, and explains exactly as one big run does', async () => {
    const query = '{ customers(first: 30) { edges { node { id prediction(model: "transformer-segment") { explanation(top: 32) { margin contributions { feature contribution } } } } } } }';
    const inference = small.scoring.inference;
    const sizes: number[] = [];
    const run = inference.runBatch.bind(inference);
    const spy = vi.spyOn(inference, 'runBatch').mockImplementation((model, rows) => {
      sizes.push(rows.length);
      return run(model, rows);
    });
    let chunked: any;
    try {
      chunked = await small.post(JSON.stringify({ query }));
    } finally {
      spy.mockRestore();
    }
    expect(chunked.json.errors).toBeUndefined();
    const whole = await big.post(JSON.stringify({ query }));
    expect(whole.json.errors).toBeUndefined();
    // 30 customers and their occlusion variants: far more rows than 16, never more than 16 per run.
    expect(sizes.reduce((s, n) => s + n, 0)).toBeGreaterThan(100);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(16);
    const edges = chunked.json.data.customers.edges;
    const wholeEdges = whole.json.data.customers.edges;
    edges.forEach((e: any, i: number) => {
      expect(e.node.id).toBe(wholeEdges[i].node.id);
      const a = e.node.prediction.explanation;
      const b = wholeEdges[i].node.prediction.explanation;
      expect(a.margin).toBeCloseTo(b.margin, 4);
      const byFeature = new Map(b.contributions.map((c: any) => [c.feature, c.contribution]));
      expect(a.contributions.map((c: any) => c.feature).sort()).toEqual([...byFeature.keys()].sort());
      for (const c of a.contributions) expect(c.contribution).toBeCloseTo(byFeature.get(c.feature) as number, 3);
    });
  });
});
