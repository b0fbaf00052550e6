// Explanations off the event loop (issue 12): TreeSHAP and the linear contributions computed in the
// piscina worker pool equal those computed on the event loop, number for number; an exception or a
// dying thread inside the pool becomes the request's EXPLANATION_FAILED error, and the same pool and
// server go on serving. Real workers, real models, real HTTP.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { seedDemo } from '../src/demo/seed.js';
import { createLinearExplainer, createTreeShapExplainer } from '../src/inference/explain/index.js';
import { ExplanationError, ExplanationPool } from '../src/inference/explain/pool.js';
import { explainPool } from '../src/scoring/setup.js';
import { databaseKinds } from './helpers/databases.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const bytesOf = (name: string) => new Uint8Array(readFileSync(join(ROOT, 'models', name, '1', 'model.onnx')));
const goldenRows = (name: string) =>
  (JSON.parse(readFileSync(join(ROOT, 'models', name, '1', 'golden.json'), 'utf8')).customers as { features: (number | null)[] }[]).map((c) =>
    Float64Array.from(c.features, (v) => (v === null ? Number.NaN : v)),
  );
const plain = (a: { base: number[]; margins: number[]; contributions: Float64Array[] }) => ({ ...a, contributions: a.contributions.map((c) => [...c]) });

describe('the explanation pool', () => {
  const pool = new ExplanationPool(2, 64);
  afterAll(() => pool.close());

  it.each([
    ['xgboost-segment', 'tree_shap', createTreeShapExplainer],
    ['logistic-segment', 'linear', createLinearExplainer],
  ] as const)('%s: the workers give exactly what the event loop gives (%s, several blocks)', async (name, method, create) => {
    const bytes = bytesOf(name);
    const inline = create(bytes);
    const golden = goldenRows(name);
    const rows = Array.from({ length: 200 }, (_, i) => golden[i % golden.length]); // 4 blocks of 64, the last partial
    const pooled = await pool.explain({ identity: `${name}@1`, onnxBytes: bytes }, method, inline.nFeatures, rows);
    expect(pooled).toHaveLength(rows.length);
    expect(pooled.map(plain)).toEqual(inline.explain(rows).map(plain));
  });

  it('an exception inside a worker is an ExplanationError, and the pool goes on serving', async () => {
    // The logistic model's file has no tree ensemble: building TreeSHAP fails inside the worker.
    const logistic = { identity: 'logistic-as-trees', onnxBytes: bytesOf('logistic-segment') };
    const err = await pool.explain(logistic, 'tree_shap', 27, goldenRows('logistic-segment').slice(0, 3)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExplanationError);
    expect((err as Error).message).toMatch(/TreeEnsembleClassifier/);
    const xgb = { identity: 'xgboost-segment@1', onnxBytes: bytesOf('xgboost-segment') };
    const again = await pool.explain(xgb, 'tree_shap', 27, goldenRows('xgboost-segment').slice(0, 3));
    expect(again).toHaveLength(3);
  });

  it('warm-up starts every thread and builds the explainers (no error)', async () => {
    const models = [
      { identity: 'xgboost-segment@1', onnxBytes: bytesOf('xgboost-segment'), method: 'tree_shap' as const, nFeatures: 27 },
      { identity: 'logistic-segment@1', onnxBytes: bytesOf('logistic-segment'), method: 'linear' as const, nFeatures: 27 },
    ];
    expect(await pool.warm(models)).toEqual([]);
    expect(pool.threads).toHaveLength(2);
  });

  it.runIf(process.platform === 'linux')('its threads run below the event loop\'s priority (nice 10, per thread), the event loop keeps its own', async () => {
    const niceOf = (task: string) => Number(readFileSync(`/proc/self/task/${task}/stat`, 'utf8').split(') ')[1].split(' ')[16]);
    const tasks = () => readdirSync('/proc/self/task');
    const before = new Set(tasks());
    const fresh = new ExplanationPool(2, 64);
    try {
      await fresh.warm([{ identity: 'xgboost-segment@1', onnxBytes: bytesOf('xgboost-segment'), method: 'tree_shap', nFeatures: 27 }]);
      const added = tasks().filter((t) => !before.has(t));
      expect(added.map(niceOf).filter((n) => n === 10)).toHaveLength(2);
      expect(niceOf(String(process.pid))).toBe(0);
    } finally {
      await fresh.close();
    }
  });

  it('EXPLAIN_WORKERS sizes the pool: unset = cores − 1 (at least 1), 0 = none', () => {
    expect(explainPool({ EXPLAIN_WORKERS: 0 })).toBeUndefined();
    expect(explainPool({ EXPLAIN_WORKERS: 3 })!.workers).toBe(3);
    expect(explainPool({ EXPLAIN_WORKERS: undefined })!.workers).toBeGreaterThanOrEqual(1);
  });
});

const PAGE = `{ customers(first: 200, orderBy: {field: ORDER_COUNT, direction: DESC}) { edges { node { id segment
  x: prediction(model: "xgboost-segment") { explanation(top: 100) { method baseValue margin restContribution summary contributions { feature value contribution } } }
  l: prediction(model: "logistic-segment") { explanation(top: 100) { method baseValue margin restContribution summary contributions { feature value contribution } } }
  t: prediction(model: "transformer-segment") { explanation(top: 5) { method margin summary contributions { feature contribution } } }
} } } }`;

describe.each(databaseKinds)('explanations over HTTP with and without the pool (%s)', (kind) => {
  let pooled: TestServer;
  let inline: TestServer;
  beforeAll(async () => {
    const env = { SCORING_AS_OF: '2026-01-01T23:59:59.999Z', QUERY_MAX_COST: '10000000', PREDICTION_CACHE_CUSTOMERS: '0' };
    pooled = await startTestServer(kind, { ...env, EXPLAIN_WORKERS: '1' });
    await seedDemo(pooled.db, { customers: 200, seed: 12, anchor: '2026-01-01' });
    inline = await startTestServer(kind, { ...env, EXPLAIN_WORKERS: '0' }, pooled); // same database
  });
  afterAll(async () => {
    await inline?.server.close();
    await inline?.scoring.close();
    await pooled?.close();
  });

  it('answers the same page identically: EXPLAIN_WORKERS=1 and EXPLAIN_WORKERS=0', async () => {
    expect(pooled.scoring.explainPool?.workers).toBe(1);
    expect(inline.scoring.explainPool).toBeUndefined();
    const [a, b] = await Promise.all([pooled.post(JSON.stringify({ query: PAGE })), inline.post(JSON.stringify({ query: PAGE }))]);
    expect(a.json.errors).toBeUndefined();
    expect(a.json.data.customers.edges).toHaveLength(200);
    expect(a.json.data.customers.edges[0].node.x.explanation.method).toBe('tree_shap');
    expect(a.json).toEqual(b.json);
    expect(pooled.scoring.explainPool!.threads.length).toBe(1); // the work went through the pool
  });

  it('a worker that dies mid-request gives EXPLANATION_FAILED for that request; the server goes on serving', async () => {
    const pool = pooled.scoring.explainPool!;
    const query = '{ customers(first: 200) { edges { node { id segment explanation(top: 3) { summary } } } } }';
    let killed = 0;
    // Kill the thread while the request's block (200 rows) is in the pool; should the block finish
    // before the kill lands, the next request is the one that meets the dead thread.
    let res: Awaited<ReturnType<TestServer['post']>> | undefined;
    for (let attempt = 0; attempt < 10 && !res?.json.errors; attempt++) {
      const pending = pooled.post(JSON.stringify({ query }));
      await vi.waitFor(() => expect(pool.inFlight).toBeGreaterThan(0), { timeout: 30_000, interval: 1 });
      for (const thread of pool.threads) {
        void thread.terminate();
        killed++;
      }
      res = await pending;
    }
    expect(killed).toBeGreaterThan(0);
    const codes = (res!.json.errors ?? []).map((e: any) => e.extensions?.code);
    expect(codes).toEqual(['EXPLANATION_FAILED']); // one error for the cause, not one per customer
    expect(res!.json.errors[0].extensions.occurrences).toBe(200);
    expect(res!.json.errors[0].message).not.toMatch(/terminat|worker/i); // the cause is logged, not sent
    expect(res!.json.data.customers.edges[0].node.segment).toEqual(expect.any(String)); // other fields answer
    await vi.waitFor(() => expect(pooled.logs.some((l) => l.includes('ExplanationError') && l.includes('resolver error'))).toBe(true));
    // The same pool, with a new thread, explains the next request.
    const next = await pooled.post(JSON.stringify({ query }));
    expect(next.json.errors).toBeUndefined();
    expect(next.json.data.customers.edges).toHaveLength(200);
  });
});
