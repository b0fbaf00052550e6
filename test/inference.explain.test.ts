// Explainers computed in TypeScript from the served model.onnx files, checked against the golden
// values python-export/train.py wrote from the native libraries: XGBoost margins and pred_contribs
// (exact TreeSHAP) for the tree model, scikit-learn probabilities for the logistic model.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { OnnxGraphError, createLinearExplainer, createTreeShapExplainer } from '../src/inference/explain/index.js';
import { parseLinearModel } from '../src/inference/explain/linear.js';
import { decodeModel, getInitializer, getNode, attrFloats, tensorToFloat32 } from '../src/inference/explain/onnx-graph.js';
import {
  NodeMode,
  applyPostTransform,
  leafIndex,
  parseTreeEnsemble,
  predictMargins,
  type TreeEnsemble,
} from '../src/inference/explain/tree-ensemble.js';
import { TreeShap, treeShap } from '../src/inference/explain/treeshap.js';

const { onnx } = onnxProto;
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const modelDir = (name: string) => join(ROOT, 'models', name, '1');

interface GoldenCustomer {
  customer_id: string;
  features: Array<number | null>;
  probabilities: number[];
  margins?: number[];
  shap?: Record<string, number[]>;
}
interface Golden {
  feature_names: string[];
  class_keys: string[];
  customers: GoldenCustomer[];
}

const load = (name: string) => ({
  bytes: new Uint8Array(readFileSync(join(modelDir(name), 'model.onnx'))),
  golden: JSON.parse(readFileSync(join(modelDir(name), 'golden.json'), 'utf8')) as Golden,
});
const row = (c: GoldenCustomer) => Float64Array.from(c.features, (v) => (v === null ? Number.NaN : v));
const sum = (a: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s;
};
const softmax = (m: number[]) => applyPostTransform('SOFTMAX', m);

describe('xgboost-segment: tree ensemble and TreeSHAP', () => {
  const { bytes, golden } = load('xgboost-segment');
  const ensemble: TreeEnsemble = parseTreeEnsemble(bytes);
  const nF = golden.feature_names.length;

  it('parses the TreeEnsembleClassifier with node covers', () => {
    expect(ensemble.nFeatures).toBe(nF);
    expect(ensemble.nClasses).toBe(3);
    expect(ensemble.classLabels).toEqual([0, 1, 2]);
    expect(ensemble.postTransform).toBe('SOFTMAX');
    expect(ensemble.nTrees % 3).toBe(0);
    expect(ensemble.maxDepth).toBeLessThanOrEqual(4);
    expect(ensemble.cover).not.toBeNull();
    // every tree carries exactly one class (XGBoost: tree % n_classes)
    ensemble.treeClasses.forEach((cls, t) => expect([...cls]).toEqual([t % 3]));
    // a split's cover is the sum of its children's (float32 sums)
    const cover = ensemble.cover!;
    for (let g = 0; g < ensemble.mode.length; g++) {
      if (ensemble.mode[g] === NodeMode.Leaf) continue;
      const kids = cover[ensemble.trueChild[g]] + cover[ensemble.falseChild[g]];
      expect(Math.abs(kids - cover[g])).toBeLessThanOrEqual(1e-4 * Math.max(1, cover[g]));
    }
  });

  it('predictMargins reproduces the golden margins (≤1e-5) and probabilities', () => {
    for (const c of golden.customers) {
      const m = predictMargins(ensemble, row(c));
      m.forEach((v, k) => expect(Math.abs(v - c.margins![k])).toBeLessThanOrEqual(1e-5));
      softmax(m).forEach((p, k) => expect(Math.abs(p - c.probabilities[k])).toBeLessThanOrEqual(1e-5));
    }
  });

  it.each(['leaf-table', 'recursive'] as const)('TreeSHAP (%s) matches XGBoost pred_contribs (≤1e-4 per class and feature, bias included)', (algorithm) => {
    const shap = new TreeShap(ensemble, { algorithm });
    expect(shap.algorithm).toBe(algorithm);
    let worst = 0;
    for (const c of golden.customers) {
      const { base, contributions } = shap.shap(row(c));
      golden.class_keys.forEach((key, k) => {
        const want = c.shap![key];
        expect(want).toHaveLength(nF + 1);
        expect(contributions[k]).toHaveLength(nF);
        for (let j = 0; j < nF; j++) worst = Math.max(worst, Math.abs(contributions[k][j] - want[j]));
        worst = Math.max(worst, Math.abs(base[k] - want[nF]));
      });
    }
    expect(worst).toBeLessThanOrEqual(1e-4);
  });

  it('the two TreeSHAP evaluations agree to rounding; leaf tables are the default for this model', () => {
    const table = new TreeShap(ensemble);
    const recursive = new TreeShap(ensemble, { algorithm: 'recursive' });
    expect(table.algorithm).toBe('leaf-table');
    expect(new TreeShap(ensemble, { maxTableEntries: 10 }).algorithm).toBe('recursive');
    for (const c of golden.customers) {
      const a = table.shap(row(c));
      const b = recursive.shap(row(c));
      expect(a.base).toEqual(b.base);
      a.contributions.forEach((phi, k) => phi.forEach((v, j) => expect(Math.abs(v - b.contributions[k][j])).toBeLessThan(1e-12)));
    }
    // the cached convenience function gives the same values
    const c0 = golden.customers[0];
    expect([...treeShap(ensemble, row(c0)).contributions[1]]).toEqual([...table.shap(row(c0)).contributions[1]]);
  });

  it('explains a batch across block boundaries exactly as row by row (recursive Algorithm 2, predictMargins)', () => {
    // 150 rows = two full blocks of TREESHAP_BLOCK and a partial one, with missing values mixed in
    const rows = Array.from({ length: 150 }, (_, i) => {
      const x = row(golden.customers[i % golden.customers.length]);
      if (i % 7 === 3) x[i % nF] = Number.NaN;
      return x;
    });
    const flat = new Float64Array(rows.length * nF);
    rows.forEach((x, i) => flat.set(x, i * nF));
    const table = new TreeShap(ensemble);
    const recursive = new TreeShap(ensemble, { algorithm: 'recursive' });
    const { contributions, margins } = table.explainBatch(flat, rows.length);
    const viaRecursive = recursive.explainBatch(flat, rows.length);
    rows.forEach((x, i) => {
      const want = recursive.shap(x);
      expect(Array.from(margins.subarray(i * 3, i * 3 + 3))).toEqual(predictMargins(ensemble, x));
      for (let k = 0; k < 3; k++) {
        for (let j = 0; j < nF; j++) {
          expect(Math.abs(contributions[(i * 3 + k) * nF + j] - want.contributions[k][j])).toBeLessThan(1e-12);
          expect(viaRecursive.contributions[(i * 3 + k) * nF + j]).toBe(want.contributions[k][j]);
        }
      }
    });
    expect(() => table.explainBatch(flat.subarray(1), rows.length)).toThrow(RangeError);
  });

  it('is additive: base + Σ contributions = margin (≤1e-4) for every customer and class', () => {
    const explainer = createTreeShapExplainer(bytes);
    expect(explainer.method).toBe('tree_shap');
    const out = explainer.explain(golden.customers.map(row));
    out.forEach((a, i) => {
      expect(a.margins).toEqual(predictMargins(ensemble, row(golden.customers[i])));
      a.contributions.forEach((phi, k) => {
        expect(Math.abs(a.base[k] + sum(phi) - a.margins[k])).toBeLessThanOrEqual(1e-4);
        expect(Math.abs(a.margins[k] - golden.customers[i].margins![k])).toBeLessThanOrEqual(1e-5);
      });
    });
  });

  it('handles customers with missing demographics (NaN routes by the default direction)', () => {
    const withNaN = golden.customers.filter((c) => c.features.some((v) => v === null));
    expect(withNaN.length).toBeGreaterThan(3);
    const explainer = createTreeShapExplainer(bytes);
    for (const c of withNaN) {
      const [a] = explainer.explain([row(c)]);
      golden.class_keys.forEach((key, k) => {
        a.contributions[k].forEach((v, j) => {
          expect(Number.isFinite(v)).toBe(true);
          expect(Math.abs(v - c.shap![key][j])).toBeLessThanOrEqual(1e-4);
        });
        expect(Math.abs(a.margins[k] - c.margins![k])).toBeLessThanOrEqual(1e-5);
      });
    }
    // a fully missing row is explained too, and stays additive
    const [empty] = explainer.explain([new Float64Array(nF).fill(Number.NaN)]);
    empty.contributions.forEach((phi, k) => expect(Math.abs(empty.base[k] + sum(phi) - empty.margins[k])).toBeLessThanOrEqual(1e-4));
  });

  it('compares as float32: a float64 just below a threshold that rounds onto it goes to the false child', () => {
    const g = ensemble.mode.findIndex((m, i) => m === NodeMode.BranchLt && ensemble.threshold[i] !== 0);
    const t = ensemble.threshold[g];
    const below = t - Math.abs(t) * 1e-9; // below t in float64, equal to t in float32
    expect(below < t).toBe(true);
    expect(Math.fround(below)).toBe(t);
    const tree = ensemble.treeStart.findIndex((s, i) => g >= s && g < ensemble.treeStart[i + 1]);
    // Route a row through node g: set the features of g's ancestors so the row reaches g, then
    // check which child it takes at g via the leaf it reaches.
    const x = new Float64Array(nF).fill(Number.NaN);
    const path: Array<[number, boolean]> = [];
    const find = (n: number): boolean => {
      if (n === g) return true;
      if (ensemble.mode[n] === NodeMode.Leaf) return false;
      for (const dir of [true, false]) {
        path.push([n, dir]);
        if (find(dir ? ensemble.trueChild[n] : ensemble.falseChild[n])) return true;
        path.pop();
      }
      return false;
    };
    expect(find(ensemble.treeRoot[tree])).toBe(true);
    const usable = path.every(([n]) => ensemble.feature[n] !== ensemble.feature[g]);
    if (usable) {
      const fixed = new Map<number, number>();
      let consistent = true;
      for (const [n, dir] of path) {
        const f = ensemble.feature[n];
        const th = ensemble.threshold[n];
        const want = dir ? th - Math.max(1, Math.abs(th)) : th; // < th goes true, == th goes false
        if (fixed.has(f) && (Math.fround(fixed.get(f)!) < th) !== dir) consistent = false;
        if (!fixed.has(f)) fixed.set(f, want);
      }
      if (consistent) {
        fixed.forEach((v, f) => (x[f] = v));
        x[ensemble.feature[g]] = below;
        const leaf = leafIndex(ensemble, tree, x);
        const under = (root: number, target: number): boolean =>
          root === target || (ensemble.mode[root] !== NodeMode.Leaf && (under(ensemble.trueChild[root], target) || under(ensemble.falseChild[root], target)));
        expect(under(ensemble.falseChild[g], leaf)).toBe(true);
        return;
      }
    }
    expect.unreachable('could not build a row that reaches the chosen split');
  });

  it('rejects row widths that do not match the model', () => {
    expect(() => predictMargins(ensemble, new Float64Array(nF - 1))).toThrow(/expects 27/);
    expect(() => createTreeShapExplainer(bytes).explain([new Float64Array(nF + 1)])).toThrow(/expects 27/);
  });
  // Speed is measured in bench/ (npm run bench), not asserted here.
});
