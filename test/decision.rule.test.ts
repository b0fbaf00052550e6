// The class rule of a model card (src/scoring/decision.ts): a version whose card carries a
// recalibration and class weights serves, for every customer, the same segment and probability
// live (GraphQL prediction), in the stored score (CustomerScore, read back through GraphQL) and in
// batch scoring, and those equal an independent reference of argmax(calibrated p · w). The weights
// are chosen so that a known customer's segment flips from plain argmax.
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemo } from '../src/demo/seed.js';
import { featuresForCustomers } from '../src/features/index.js';
import { scoreCustomers } from '../src/scoring/batch.js';
import { DecisionRuleError, parseDecisionRule } from '../src/scoring/decision.js';
import type { ModelCard } from '../src/inference/registry.js';
import { createScoring } from '../src/scoring/setup.js';
import { StoredVersusLiveDocument, type StoredVersusLiveQuery } from './generated/graphql.js';
import { createTestDatabase, databaseKinds, type TestDatabase } from './helpers/databases.js';
import { startTestServer, testConfig, type TestServer } from './helpers/server.js';

const MODEL = 'xgboost-segment';
const asOf = '2026-01-01T23:59:59.999Z';
const root = path.resolve(import.meta.dirname, '..');
const TEMPERATURE = 1.25;
const SHIFT = [0, 0.1, -0.2];

/** The reference: written out here, not imported from the service. */
function reference(raw: ArrayLike<number>, weights: number[]) {
  const z = Array.from(raw, (q, k) => Math.log(q) / TEMPERATURE + SHIFT[k]);
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  const p = e.map((v) => v / s);
  const scores = p.map((v, k) => v * weights[k]);
  const rule = scores.indexOf(Math.max(...scores));
  const plain = p.indexOf(Math.max(...p));
  return { p, rule, plain };
}

describe.each(databaseKinds)('one decision rule from the card on %s', (kind) => {
  let db: TestDatabase;
  let t: TestServer;
  let modelsDir: string;
  let classes: string[];
  let weights: number[];
  let flipped: { id: string; plain: string; rule: string };
  const raw = new Map<string, Float32Array>();

  beforeAll(async () => {
    db = await createTestDatabase(kind);
    await seedDemo(db.db, { customers: 150, seed: 21, anchor: '2026-01-01' });
    const ids = (await db.db.prisma.customer.findMany({ select: { id: true }, orderBy: { id: 'asc' } })).map((c) => c.id);

    // The shipped card's ONNX probabilities for every customer (a plain scoring, shipped models).
    const plain = await createScoring(testConfig(), pino({ level: 'silent' }));
    const model = plain.model(MODEL);
    classes = model.classes;
    const features = await featuresForCustomers(db.db, ids, new Date(asOf));
    const probabilities = await plain.inference.predict(model, ids.map((id) => features.get(id)!));
    ids.forEach((id, i) => raw.set(id, probabilities[i]));
    await plain.close();

    // A known customer whose calibrated plain-argmax segment is not high_value: weights that make
    // high_value win for it (and so flip it), leaving the others at 1.
    const hv = classes.indexOf('high_value');
    const candidates = ids
      .map((id) => ({ id, r: reference(raw.get(id)!, [1, 1, 1]) }))
      .filter(({ r }) => r.plain !== hv && r.p[hv] > 0.05)
      .sort((a, b) => b.r.p[hv] / b.r.p[b.r.plain] - a.r.p[hv] / a.r.p[a.r.plain]);
    expect(candidates.length).toBeGreaterThan(0);
    const known = candidates[0];
    weights = classes.map(() => 1);
    weights[hv] = (1.02 * known.r.p[known.r.plain]) / known.r.p[hv];
    flipped = { id: known.id, plain: classes[known.r.plain], rule: classes[reference(raw.get(known.id)!, weights).rule] };
    expect(flipped.rule).toBe('high_value');

    modelsDir = await mkdtemp(path.join(os.tmpdir(), 'cia-decision-'));
    await cp(path.join(root, 'models'), modelsDir, { recursive: true });
    const cardFile = path.join(modelsDir, MODEL, '1', 'model.json');
    const card = JSON.parse(await readFile(cardFile, 'utf8')) as Record<string, unknown>;
    card.calibration = { kind: 'temperature_prior_shift', temperature: TEMPERATURE, log_prior_shift: SHIFT, fitted_on: 'test' };
    card.decision_rule = { kind: 'weighted_argmax', weights: Object.fromEntries(classes.map((c, k) => [c, weights[k]])), tuned_on: 'test' };
    await writeFile(cardFile, JSON.stringify(card, null, 2));

    t = await startTestServer(kind, { MODELS_DIR: modelsDir }, db);
  }, 180_000);

  afterAll(async () => {
    await t?.close();
    await db?.drop();
    if (modelsDir) await rm(modelsDir, { recursive: true, force: true });
  });

  it('live prediction, batch scoring and the stored score apply argmax(calibrated p · w) of the card', async () => {
    const summary = await scoreCustomers(t.db, t.scoring, { asOf: new Date(asOf), pageSize: 64 });
    expect(summary.scored).toBe(raw.size);

    const nodes: StoredVersusLiveQuery['customers']['edges'][number]['node'][] = [];
    let after: string | null = null;
    for (;;) {
      const res: { data?: StoredVersusLiveQuery | null; errors?: unknown } = await t.gql(StoredVersusLiveDocument, { first: 100, after: after as string | null, asOf, model: MODEL });
      expect(res.errors).toBeUndefined();
      nodes.push(...res.data!.customers.edges.map((e) => e.node));
      if (!res.data!.customers.pageInfo.hasNextPage) break;
      after = res.data!.customers.pageInfo.endCursor ?? null;
    }
    expect(nodes).toHaveLength(raw.size);
    const stored = new Map((await t.db.prisma.customerScore.findMany({ where: { model: MODEL } })).map((s) => [s.customerId, s]));

    let changed = 0;
    for (const node of nodes) {
      const ref = reference(raw.get(node.id)!, weights);
      const segment = classes[ref.rule];
      if (ref.rule !== ref.plain) changed++;
      expect(node.prediction!.segment, node.id).toBe(segment);
      expect(node.score!.segment, node.id).toBe(segment);
      expect(stored.get(node.id)!.segment).toBe(segment);
      // probability = the calibrated probability of the chosen segment, everywhere
      expect(Math.abs(node.prediction!.probability - ref.p[ref.rule])).toBeLessThan(1e-6);
      expect(Math.abs(node.score!.probability - ref.p[ref.rule])).toBeLessThan(1e-6);
      classes.forEach((c, k) => {
        expect(Math.abs(node.prediction!.segmentProbabilities.find((s) => s.segment === c)!.probability - ref.p[k])).toBeLessThan(1e-6);
        expect(Math.abs(node.score!.segmentProbabilities.find((s) => s.segment === c)!.probability - ref.p[k])).toBeLessThan(1e-6);
      });
    }
    // The known customer flipped from its plain-argmax segment to high_value, in all three places.
    const known = nodes.find((n) => n.id === flipped.id)!;
    expect(flipped.plain).not.toBe('high_value');
    expect([known.prediction!.segment, known.score!.segment, stored.get(flipped.id)!.segment]).toEqual(['high_value', 'high_value', 'high_value']);
    expect(changed).toBeGreaterThan(0);
    expect(changed).toBeLessThan(nodes.length);
  }, 180_000);

  it('the models query shows the rule, its card keys and the plain-argmax metrics slot', async () => {
    const res = await t.post(JSON.stringify({ query: `{ models(name: "${MODEL}") { version decisionRule decisionRuleDetails calibration metricsPlainArgmax } }` }));
    const m = res.json.data.models.find((x: { version: string }) => x.version === '1');
    expect(m.decisionRule).toMatch(/temperature 1\.250/);
    expect(m.decisionRule).toMatch(/argmax of probability × class weight/);
    expect(m.decisionRuleDetails.weights.high_value).toBeCloseTo(weights[classes.indexOf('high_value')], 12);
    expect(m.calibration.temperature).toBe(TEMPERATURE);
  });
});

describe('decision rule card keys', () => {
  const card = (extra: Record<string, unknown>) => ({ classes: [], ...extra }) as unknown as ModelCard;
  const classes = ['lapsing', 'active', 'high_value'];

  it('a card without the keys is plain argmax of the ONNX probabilities', () => {
    expect(parseDecisionRule(card({}), classes)).toEqual({ weights: null, temperature: 1, shift: null });
  });

  it('refuses unknown kinds, unknown classes and non-positive numbers', () => {
    expect(() => parseDecisionRule(card({ decision_rule: { kind: 'threshold', weights: {} } }), classes)).toThrow(DecisionRuleError);
    expect(() => parseDecisionRule(card({ decision_rule: { kind: 'weighted_argmax', weights: { vip: 2 } } }), classes)).toThrow(/unknown classes vip/);
    expect(() => parseDecisionRule(card({ decision_rule: { kind: 'weighted_argmax', weights: { active: 0 } } }), classes)).toThrow(/positive/);
    expect(() => parseDecisionRule(card({ calibration: { kind: 'temperature_prior_shift', temperature: 1, log_prior_shift: [0, 1] } }), classes)).toThrow(/3 numbers/);
  });
});
