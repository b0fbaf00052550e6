// Parity of the shipped ONNX models (models/<name>/1/) with the Python training side.
//
// For every model folder: the model card's sha256, inputs, outputs and features match the files, and
// onnxruntime-node reproduces the golden probabilities written by python-export/train.py from the
// native libraries (XGBoost, scikit-learn, PyTorch) on the committed fixture customers.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MODELS_DIR = join(ROOT, 'models');
const SPEC_PATH = join(ROOT, 'python-export', 'features.json');
const EXPECTED_MODELS = ['logistic-segment', 'transformer-segment', 'xgboost-segment'];

interface IoDecl {
  name: string;
  type: string;
  shape: Array<string | number>;
}

interface ModelCard {
  name: string;
  version: string;
  kind: 'xgboost' | 'logistic' | 'transformer';
  features: { spec_file: string; ordered: string[] };
  classes: Array<{ key: string; index: number; definition: string }>;
  high_value_threshold: { value: number };
  onnx: { file: string; sha256: string; bytes: number; inputs: IoDecl[]; outputs: IoDecl[]; opset: Record<string, number> };
  metrics_held_out: { accuracy: number; log_loss: number };
  training_data: { sources: Array<{ sha256: string; rows: number }> };
  sequence?: { max_orders: number; token_features: Array<{ name: string }> };
}

interface GoldenCustomer {
  customer_id: string;
  orders: Array<Record<string, string>>;
  features: Array<number | null>;
  probabilities: number[];
  label: number;
  margins?: number[];
  shap?: Record<string, number[]>;
  sequence?: number[][];
  mask_length?: number;
}

interface Golden {
  model: string;
  as_of: string;
  feature_names: string[];
  class_keys: string[];
  probability_tolerance: number;
  customers: GoldenCustomer[];
}

const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;
const modelNames = existsSync(MODELS_DIR)
  ? readdirSync(MODELS_DIR).filter((d) => existsSync(join(MODELS_DIR, d, '1', 'model.json'))).sort()
  : [];

function featureTensor(rows: Array<Array<number | null>>, width: number): ort.Tensor {
  const data = new Float32Array(rows.length * width);
  rows.forEach((r, i) => {
    expect(r).toHaveLength(width);
    r.forEach((v, j) => (data[i * width + j] = v === null ? Number.NaN : v));
  });
  return new ort.Tensor('float32', data, [rows.length, width]);
}

function sequenceTensors(customers: GoldenCustomer[], tokenWidth: number, padTo?: number) {
  const longest = Math.max(1, ...customers.map((c) => c.mask_length ?? 0));
  const s = Math.max(longest, padTo ?? 0);
  const seq = new Float32Array(customers.length * s * tokenWidth);
  const mask = new Float32Array(customers.length * s);
  customers.forEach((c, i) => {
    (c.sequence ?? []).forEach((tok, j) => {
      mask[i * s + j] = 1;
      tok.forEach((v, k) => (seq[(i * s + j) * tokenWidth + k] = v));
    });
  });
  return {
    sequence: new ort.Tensor('float32', seq, [customers.length, s, tokenWidth]),
    mask: new ort.Tensor('float32', mask, [customers.length, s]),
  };
}

function feeds(card: ModelCard, customers: GoldenCustomer[], padTo?: number): Record<string, ort.Tensor> {
  const out: Record<string, ort.Tensor> = {
    features: featureTensor(
      customers.map((c) => c.features),
      card.features.ordered.length,
    ),
  };
  if (card.kind === 'transformer') Object.assign(out, sequenceTensors(customers, card.sequence!.token_features.length, padTo));
  return out;
}

function maxAbsDiff(got: Float32Array, want: number[][]): number {
  let worst = 0;
  want.forEach((row, i) => row.forEach((v, j) => (worst = Math.max(worst, Math.abs(got[i * row.length + j] - v)))));
  return worst;
}

it('ships the three default models', () => {
  expect(modelNames).toEqual(EXPECTED_MODELS);
});

describe.each(modelNames)('model %s', (name) => {
  const dir = join(MODELS_DIR, name, '1'); // the shipped version
  const card = readJson<ModelCard>(join(dir, 'model.json'));
  const golden = readJson<Golden>(join(dir, 'golden.json'));
  const bytes = readFileSync(join(dir, card.onnx.file));
  let session: ort.InferenceSession;

  beforeAll(async () => {
    session = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'] });
  });
  afterAll(async () => {
    await session?.release();
  });

  it('model card matches the ONNX file (sha256, size, small enough)', () => {
    expect(card.name).toBe(name);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(card.onnx.sha256);
    expect(bytes.length).toBe(card.onnx.bytes);
    expect(bytes.length).toBeLessThan(5 * 2 ** 20);
  });

  it('declared inputs and outputs match the session', () => {
    expect(session.inputNames).toEqual(card.onnx.inputs.map((i) => i.name));
    expect(session.outputNames).toEqual(card.onnx.outputs.map((o) => o.name));
    const meta = [...session.inputMetadata, ...session.outputMetadata];
    const decl = [...card.onnx.inputs, ...card.onnx.outputs];
    expect(meta.map((m) => m.name)).toEqual(decl.map((d) => d.name));
    meta.forEach((m, i) => {
      expect(m.isTensor).toBe(true);
      if (m.isTensor) {
        expect(m.type).toBe(decl[i].type);
        expect([...m.shape]).toEqual(decl[i].shape);
      }
    });
    expect(card.onnx.inputs[0]).toEqual({ name: 'features', type: 'float32', shape: ['N', card.features.ordered.length] });
    expect(card.onnx.outputs.map((o) => o.name)).toEqual(['label', 'probabilities']);
    expect(card.onnx.outputs[1].shape).toEqual(['N', card.classes.length]);
  });

  it('features: the card, the shipped spec, the repository spec and the golden file agree', () => {
    const shipped = readJson<{ features: Array<{ name: string }> }>(join(dir, card.features.spec_file));
    const repo = readJson<{ features: Array<{ name: string }> }>(SPEC_PATH);
    expect(shipped).toEqual(repo);
    expect(card.features.ordered).toEqual(repo.features.map((f) => f.name));
    expect(golden.feature_names).toEqual(card.features.ordered);
    expect(golden.class_keys).toEqual(card.classes.map((c) => c.key));
    expect(card.classes.map((c) => c.key)).toEqual(['lapsing', 'active', 'high_value']);
    expect(card.high_value_threshold.value).toBeGreaterThan(0);
  });

  it('reproduces the golden probabilities in one batch', async () => {
    const tol = card.kind === 'transformer' ? 1e-4 : 1e-5;
    expect(golden.probability_tolerance).toBeLessThanOrEqual(tol);
    expect(golden.customers.length).toBeGreaterThanOrEqual(20);
    const out = await session.run(feeds(card, golden.customers));
    const probs = out.probabilities.data as Float32Array;
    expect(out.probabilities.dims).toEqual([golden.customers.length, card.classes.length]);
    expect(maxAbsDiff(probs, golden.customers.map((c) => c.probabilities))).toBeLessThanOrEqual(tol);
    const labels = Array.from(out.label.data as BigInt64Array, Number);
    // Labels agree unless the two best classes are within the tolerance of each other.
    golden.customers.forEach((c, i) => {
      const sorted = [...c.probabilities].sort((a, b) => b - a);
      if (sorted[0] - sorted[1] > 2 * tol) expect(labels[i]).toBe(c.label);
    });
  });

  it('gives the same answer one customer at a time (no batch coupling)', async () => {
    const tol = card.kind === 'transformer' ? 1e-4 : 1e-5;
    for (const c of golden.customers.slice(0, 6)) {
      const out = await session.run(feeds(card, [c], card.kind === 'transformer' ? 7 : undefined));
      expect(maxAbsDiff(out.probabilities.data as Float32Array, [c.probabilities])).toBeLessThanOrEqual(tol);
    }
  });

  if (card.kind === 'xgboost') {
    it('golden SHAP values sum to the margins and the margins give the probabilities', () => {
      for (const c of golden.customers) {
        const margins = c.margins!;
        golden.class_keys.forEach((k, j) => {
          const phi = c.shap![k];
          expect(phi).toHaveLength(card.features.ordered.length + 1);
          expect(Math.abs(phi.reduce((s, v) => s + v, 0) - margins[j])).toBeLessThan(1e-4);
        });
        const m = Math.max(...margins);
        const e = margins.map((v) => Math.exp(v - m));
        const z = e.reduce((s, v) => s + v, 0);
        e.forEach((v, j) => expect(Math.abs(v / z - c.probabilities[j])).toBeLessThan(1e-5));
      }
    });
  }
});
