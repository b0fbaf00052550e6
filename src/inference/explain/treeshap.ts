// Exact path-dependent TreeSHAP (Lundberg, Erion & Lee 2018, "Consistent individualized feature
// attribution for tree ensembles", Algorithm 2) — the algorithm behind XGBoost's
// predict(pred_contribs=True), written after its RegTree::TreeShap (ExtendPath / UnwindPath /
// UnwoundPathSum), here in float64 over the trees of the served ONNX TreeEnsembleClassifier.
//
// Per class k:  base[k] = base_values[k] + Σ_trees E[tree_k]   (E = cover-weighted mean of the leaf
// weights, XGBoost's bias column), and base[k] + Σ_j contributions[k][j] = margin[k].
//
// Two exact evaluations of the same quantity:
// - 'recursive': Algorithm 2 as XGBoost runs it; the path lives in preallocated typed arrays reused
//   across trees and rows, so the recursion allocates nothing. O(Σ leaves × depth²) per row.
// - 'leaf-table' (default when the tables are small): in path-dependent TreeSHAP a leaf's contribution
//   to each feature on its path depends only on the leaf's path (the features' cover ratios, fixed)
//   and on which of those features the row satisfies (one_fraction ∈ {0, 1}). So for every leaf and
//   every satisfied-feature pattern (2^d for d unique path features) the Algorithm-2 values are
//   precomputed once (the idea of Fast TreeSHAP v2, Yang 2021); a row then costs one comparison per
//   split node plus, per leaf, d bit tests and d multiply-adds. Memory: Σ leaves 2^d·d float64.
import { OnnxGraphError } from './onnx-graph.js';
import { NodeMode, goesTrue, predictMargins, type TreeEnsemble } from './tree-ensemble.js';

export interface TreeShapValues {
  /** Per class: base_values + expected value of that class's trees (XGBoost's bias column). */
  base: number[];
  /** Per class: one contribution per feature (length = ensemble.nFeatures), in margin units. */
  contributions: Float64Array[];
}

export type TreeShapAlgorithm = 'leaf-table' | 'recursive';

export interface TreeShapOptions {
  /** Default: 'leaf-table' when its tables need at most maxTableEntries numbers, else 'recursive'. */
  algorithm?: TreeShapAlgorithm;
  /** Default 4M (32 MB of float64). */
  maxTableEntries?: number;
}

/** Precomputed TreeSHAP for one ensemble; `shap(x)` explains one row (NaN = missing). */
export class TreeShap {
  /** Per class: base_values + Σ expected values of the trees. */
  readonly base: number[];
  readonly nFeatures: number;
  readonly nClasses: number;
  readonly algorithm: TreeShapAlgorithm;
  private readonly run: (x: ArrayLike<number>, phi: Float64Array, margins: Float64Array | null) => void;

  constructor(
    readonly ensemble: TreeEnsemble,
    options: TreeShapOptions = {},
  ) {
    const e = ensemble;
    const cover = e.cover;
    if (!cover) {
      throw new OnnxGraphError(
        'TreeEnsembleClassifier has no nodes_hitrates (node covers); TreeSHAP needs them — re-export the model with python-export (xgb_onnx.convert writes XGBoost sum_hessian there)',
      );
    }
    for (let g = 0; g < e.mode.length; g++) {
      if (e.mode[g] !== NodeMode.Leaf && !(cover[g] > 0 && Number.isFinite(cover[g]))) {
        throw new OnnxGraphError(`node cover (nodes_hitrates) of split node ${g} is ${cover[g]}; it must be positive`);
      }
    }
    this.nFeatures = e.nFeatures;
    this.nClasses = e.nClasses;
    this.base = computeBase(e, cover);
    const entries = leafTableEntries(e);
    this.algorithm = options.algorithm ?? (entries <= (options.maxTableEntries ?? 4 * 2 ** 20) ? 'leaf-table' : 'recursive');
    if (this.algorithm === 'leaf-table' && e.maxDepth > 24) {
      throw new OnnxGraphError(`leaf tables need 2^depth entries per leaf; depth ${e.maxDepth} is too deep (use 'recursive')`);
    }
    this.run = this.algorithm === 'leaf-table' ? makeTableRunner(e, cover) : makeRunner(e, cover);
  }

  /** SHAP values of one row. `x` has nFeatures values (NaN = missing). */
  shap(x: ArrayLike<number>): TreeShapValues {
    if (x.length !== this.nFeatures) throw new RangeError(`feature row has ${x.length} values; the model expects ${this.nFeatures}`);
    const nF = this.nFeatures;
    const phi = new Float64Array(this.nClasses * nF);
    this.run(x, phi, null);
    const contributions: Float64Array[] = [];
    for (let k = 0; k < this.nClasses; k++) contributions.push(phi.subarray(k * nF, (k + 1) * nF));
    return { base: [...this.base], contributions };
  }

  /**
   * SHAP values plus the model's margins (base_values + Σ reached leaves' weights, as predictMargins).
   * With leaf tables the margins come from the same pass: a leaf is reached exactly when the row
   * satisfies all of its path features.
   */
  explain(x: ArrayLike<number>): TreeShapValues & { margins: number[] } {
    if (x.length !== this.nFeatures) throw new RangeError(`feature row has ${x.length} values; the model expects ${this.nFeatures}`);
    if (this.algorithm !== 'leaf-table') return { ...this.shap(x), margins: predictMargins(this.ensemble, x) };
    const nF = this.nFeatures;
    const phi = new Float64Array(this.nClasses * nF);
    const margins = Float64Array.from(this.ensemble.baseValues);
    this.run(x, phi, margins);
    const contributions: Float64Array[] = [];
    for (let k = 0; k < this.nClasses; k++) contributions.push(phi.subarray(k * nF, (k + 1) * nF));
    return { base: [...this.base], contributions, margins: Array.from(margins) };
  }
}

const cache = new WeakMap<TreeEnsemble, TreeShap>();

/** TreeSHAP of one row (the precomputation is cached per ensemble). */
export function treeShap(ensemble: TreeEnsemble, x: ArrayLike<number>): TreeShapValues {
  let t = cache.get(ensemble);
  if (!t) {
    t = new TreeShap(ensemble);
    cache.set(ensemble, t);
  }
  return t.shap(x);
}

/** base[k] = base_values[k] + Σ_t (cover-weighted mean of tree t's class-k leaf weights). */
function computeBase(e: TreeEnsemble, cover: Float64Array): number[] {
  const base = Array.from(e.baseValues);
  const mean = new Float64Array(e.nClasses);
  const meanOf = (g: number, k: number): number => {
    if (e.mode[g] === NodeMode.Leaf) {
      let w = 0;
      for (let j = e.leafStart[g]; j < e.leafStart[g + 1]; j++) if (e.leafClass[j] === k) w += e.leafWeight[j];
      return w;
    }
    const t = e.trueChild[g];
    const f = e.falseChild[g];
    return (meanOf(t, k) * cover[t] + meanOf(f, k) * cover[f]) / cover[g];
  };
  for (let t = 0; t < e.nTrees; t++) {
    for (const k of e.treeClasses[t]) mean[k] += meanOf(e.treeRoot[t], k);
  }
  for (let k = 0; k < e.nClasses; k++) base[k] += mean[k];
  return base;
}

function makeRunner(e: TreeEnsemble, cover: Float64Array): (x: ArrayLike<number>, phi: Float64Array, margins: Float64Array | null) => void {
  const { mode, feature, threshold, trueChild, falseChild, missingTracksTrue, leafStart, leafClass, leafWeight, treeRoot, nTrees, nFeatures } = e;
  // Path slabs: the call at unique depth d uses [b, b + d]; a child's slab starts right after.
  const D = e.maxDepth + 1; // largest unique depth + 1
  let size = 1;
  for (let d = 0; d <= D; d++) size += d + 2;
  const pFeat = new Int32Array(size);
  const pZero = new Float64Array(size);
  const pOne = new Float64Array(size);
  const pW = new Float64Array(size);
  // Constant factors of the recurrences, so the inner loops multiply instead of divide:
  // UP[d*S+i] = (i+1)/(d+1), DOWN[d*S+i] = (d-i)/(d+1), and their reciprocals.
  const S = D + 2;
  const UP = new Float64Array(S * S);
  const DOWN = new Float64Array(S * S);
  const INV_UP = new Float64Array(S * S);
  const INV_DOWN = new Float64Array(S * S);
  for (let d = 0; d < S; d++) {
    for (let i = 0; i <= d; i++) {
      UP[d * S + i] = (i + 1) / (d + 1);
      DOWN[d * S + i] = (d - i) / (d + 1);
      INV_UP[d * S + i] = (d + 1) / (i + 1);
      INV_DOWN[d * S + i] = d - i > 0 ? (d + 1) / (d - i) : 0;
    }
  }
  // Generic split modes fall back to goesTrue; BRANCH_LT (XGBoost) is inlined.
  const onlyLt = mode.every((m) => m === NodeMode.Leaf || m === NodeMode.BranchLt);
  const xf = new Float64Array(nFeatures); // the row rounded to float32, as ONNX Runtime compares it
  let PHI: Float64Array = new Float64Array(0);
  const EMPTY_PHI = PHI;

  const extendPath = (b: number, depth: number, zero: number, one: number, feat: number): void => {
    pFeat[b + depth] = feat;
    pZero[b + depth] = zero;
    pOne[b + depth] = one;
    pW[b + depth] = depth === 0 ? 1 : 0;
    const r = depth * S;
    for (let i = depth - 1; i >= 0; i--) {
      const w = pW[b + i];
      pW[b + i + 1] += one * w * UP[r + i];
      pW[b + i] = zero * w * DOWN[r + i];
    }
  };

  const unwindPath = (b: number, depth: number, pathIndex: number): void => {
    const one = pOne[b + pathIndex];
    const zero = pZero[b + pathIndex];
    let next = pW[b + depth];
    const r = depth * S;
    if (one !== 0) {
      const invOne = 1 / one;
      for (let i = depth - 1; i >= 0; i--) {
        const tmp = pW[b + i];
        const w = next * invOne * INV_UP[r + i];
        pW[b + i] = w;
        next = tmp - w * zero * DOWN[r + i];
      }
    } else {
      const invZero = 1 / zero;
      for (let i = depth - 1; i >= 0; i--) pW[b + i] = pW[b + i] * invZero * INV_DOWN[r + i];
    }
    for (let i = pathIndex; i < depth; i++) {
      pFeat[b + i] = pFeat[b + i + 1];
      pZero[b + i] = pZero[b + i + 1];
      pOne[b + i] = pOne[b + i + 1];
    }
  };

  const unwoundPathSum = (b: number, depth: number, pathIndex: number): number => {
    const one = pOne[b + pathIndex];
    const zero = pZero[b + pathIndex];
    const r = depth * S;
    let total = 0;
    if (one !== 0) {
      const invOne = 1 / one;
      let next = pW[b + depth];
      for (let i = depth - 1; i >= 0; i--) {
        const tmp = next * invOne * INV_UP[r + i];
        total += tmp;
        next = pW[b + i] - tmp * zero * DOWN[r + i];
      }
    } else if (zero !== 0) {
      const invZero = 1 / zero;
      for (let i = depth - 1; i >= 0; i--) total += pW[b + i] * invZero * INV_DOWN[r + i];
    }
    return total;
  };

  const recurse = (g: number, parent: number, depth: number, zero: number, one: number, feat: number): void => {
    const b = parent + depth + 1;
    for (let i = 0; i < depth; i++) {
      pFeat[b + i] = pFeat[parent + i];
      pZero[b + i] = pZero[parent + i];
      pOne[b + i] = pOne[parent + i];
      pW[b + i] = pW[parent + i];
    }
    extendPath(b, depth, zero, one, feat);

    if (mode[g] === NodeMode.Leaf) {
      const ls = leafStart[g];
      const le = leafStart[g + 1];
      if (ls === le) return;
      for (let i = 1; i <= depth; i++) {
        const s = unwoundPathSum(b, depth, i) * (pOne[b + i] - pZero[b + i]);
        const f = pFeat[b + i];
        for (let j = ls; j < le; j++) PHI[leafClass[j] * nFeatures + f] += s * leafWeight[j];
      }
      return;
    }

    const split = feature[g];
    const v = xf[split];
    let toTrue: boolean;
    if (onlyLt) toTrue = v !== v ? missingTracksTrue[g] === 1 : v < threshold[g];
    else toTrue = goesTrue(e, g, v);
    const hot = toTrue ? trueChild[g] : falseChild[g];
    const cold = toTrue ? falseChild[g] : trueChild[g];
    const invW = 1 / cover[g];
    const hotZero = cover[hot] * invW;
    const coldZero = cover[cold] * invW;
    let inZero = 1;
    let inOne = 1;
    // A feature already on the path: undo its earlier split and fold its fractions into this one.
    let p = 0;
    for (; p <= depth; p++) if (pFeat[b + p] === split) break;
    if (p <= depth) {
      inZero = pZero[b + p];
      inOne = pOne[b + p];
      unwindPath(b, depth, p);
      depth -= 1;
    }
    recurse(hot, b, depth + 1, hotZero * inZero, inOne, split);
    recurse(cold, b, depth + 1, coldZero * inZero, 0, split);
  };

  return (x, phi) => {
    for (let j = 0; j < nFeatures; j++) xf[j] = Math.fround(x[j]);
    PHI = phi;
    for (let t = 0; t < nTrees; t++) recurse(treeRoot[t], 0, 0, 1, 1, -1);
    PHI = EMPTY_PHI; // drop the reference to the caller's array
  };
}

// ---------------------------------------------------------------------------------------------
// Leaf-pattern tables.

/** Number of float64 table entries the leaf-table algorithm would need (Σ leaves 2^d · d). */
export function leafTableEntries(e: TreeEnsemble): number {
  let total = 0;
  for (let t = 0; t < e.nTrees; t++) {
    forEachLeafPath(e, t, (_leaf, _nodes, slots) => {
      const d = slots.length === 0 ? 0 : Math.max(...slots) + 1;
      total += 2 ** d * d;
    });
  }
  return total;
}

/**
 * Calls fn for every leaf of tree t with the split nodes on its path (root first) and, per split,
 * the slot of its feature among the path's unique features (numbered by first appearance).
 */
function forEachLeafPath(
  e: TreeEnsemble,
  t: number,
  fn: (leaf: number, nodes: number[], slots: number[], dirs: boolean[]) => void,
): void {
  const nodes: number[] = [];
  const slots: number[] = [];
  const dirs: boolean[] = [];
  const walk = (g: number): void => {
    if (e.mode[g] === NodeMode.Leaf) {
      fn(g, nodes, slots, dirs);
      return;
    }
    const f = e.feature[g];
    let slot = -1;
    for (let i = 0; i < nodes.length; i++) if (e.feature[nodes[i]] === f) slot = slots[i];
    if (slot < 0) slot = slots.length === 0 ? 0 : Math.max(...slots) + 1;
    nodes.push(g);
    slots.push(slot);
    for (const dir of [true, false]) {
      dirs.push(dir);
      walk(dir ? e.trueChild[g] : e.falseChild[g]);
      dirs.pop();
    }
    nodes.pop();
    slots.pop();
  };
  walk(e.treeRoot[t]);
}

/** ExtendPath of Algorithm 2 on plain arrays (used to build the tables; not in the per-row path). */
function extendPlain(pw: Float64Array, depth: number, zero: number, one: number, zeros: Float64Array, ones: Float64Array): void {
  zeros[depth] = zero;
  ones[depth] = one;
  pw[depth] = depth === 0 ? 1 : 0;
  for (let i = depth - 1; i >= 0; i--) {
    pw[i + 1] += (one * pw[i] * (i + 1)) / (depth + 1);
    pw[i] = (zero * pw[i] * (depth - i)) / (depth + 1);
  }
}

function unwoundSumPlain(pw: Float64Array, depth: number, pathIndex: number, zeros: Float64Array, ones: Float64Array): number {
  const one = ones[pathIndex];
  const zero = zeros[pathIndex];
  let next = pw[depth];
  let total = 0;
  for (let i = depth - 1; i >= 0; i--) {
    if (one !== 0) {
      const tmp = (next * (depth + 1)) / ((i + 1) * one);
      total += tmp;
      next = pw[i] - tmp * zero * ((depth - i) / (depth + 1));
    } else if (zero !== 0) {
      total += pw[i] / zero / ((depth - i) / (depth + 1));
    }
  }
  return total;
}

function makeTableRunner(e: TreeEnsemble, cover: Float64Array): (x: ArrayLike<number>, phi: Float64Array, margins: Float64Array | null) => void {
  const { mode, feature, threshold, trueChild, missingTracksTrue, leafStart, leafClass, leafWeight, nFeatures } = e;
  // Per leaf (only leaves with weights): its unique path features and its pattern table.
  const leaves: number[] = [];
  const featStart: number[] = [0];
  const featList: number[] = [];
  const tableStart: number[] = [0];
  const tables: number[] = [];
  const maxD = e.maxDepth + 1;
  const pw = new Float64Array(maxD + 1);
  const zeros = new Float64Array(maxD + 1);
  const ones = new Float64Array(maxD + 1);

  for (let t = 0; t < e.nTrees; t++) {
    forEachLeafPath(e, t, (leaf, nodes, slots, dirs) => {
      if (leafStart[leaf] === leafStart[leaf + 1]) return; // no weight: contributes nothing
      const d = slots.length === 0 ? 0 : Math.max(...slots) + 1;
      const zeroFrac = new Float64Array(d).fill(1);
      const feats = new Array<number>(d);
      nodes.forEach((g, i) => {
        const child = dirs[i] ? e.trueChild[g] : e.falseChild[g];
        zeroFrac[slots[i]] *= cover[child] / cover[g];
        feats[slots[i]] = feature[g];
      });
      for (let pattern = 0; pattern < 2 ** d; pattern++) {
        extendPlain(pw, 0, 1, 1, zeros, ones);
        for (let s = 0; s < d; s++) extendPlain(pw, s + 1, zeroFrac[s], (pattern >> s) & 1, zeros, ones);
        for (let s = 0; s < d; s++) {
          tables.push(unwoundSumPlain(pw, d, s + 1, zeros, ones) * (ones[s + 1] - zeros[s + 1]));
        }
      }
      leaves.push(leaf);
      featList.push(...feats);
      featStart.push(featList.length);
      tableStart.push(tables.length);
    });
  }

  // Split nodes in pre-order (parents first) and the path bit of each split's feature.
  const splits: number[] = [];
  const splitBit = new Int32Array(mode.length);
  for (let t = 0; t < e.nTrees; t++) {
    const stack: Array<[number, number[]]> = [[e.treeRoot[t], []]];
    while (stack.length > 0) {
      const [g, pathFeats] = stack.pop()!;
      if (mode[g] === NodeMode.Leaf) continue;
      let slot = pathFeats.indexOf(feature[g]);
      const next = slot < 0 ? [...pathFeats, feature[g]] : pathFeats;
      if (slot < 0) slot = pathFeats.length;
      splits.push(g);
      splitBit[g] = 1 << slot;
      stack.push([e.falseChild[g], next], [trueChild[g], next]);
    }
  }
  const SPLITS = Int32Array.from(splits);
  const nSplits = SPLITS.length;
  const { falseChild } = e;
  const L = leaves.length;
  const LEAF = Int32Array.from(leaves);
  const FEAT_START = Int32Array.from(featStart);
  const FEAT = Int32Array.from(featList);
  const TABLE_START = Int32Array.from(tableStart);
  const TABLE = Float64Array.from(tables);
  const onlyLt = mode.every((m) => m === NodeMode.Leaf || m === NodeMode.BranchLt);
  // Per row: pattern[g] = bits of the path features (to node g) whose every split the row follows.
  const pattern = new Int32Array(mode.length);
  const xf = new Float64Array(nFeatures);

  return (x, phi, margins) => {
    for (let j = 0; j < nFeatures; j++) xf[j] = Math.fround(x[j]);
    for (let t = 0; t < e.nTrees; t++) pattern[e.treeRoot[t]] = -1;
    for (let k = 0; k < nSplits; k++) {
      const g = SPLITS[k];
      const v = xf[feature[g]];
      const toTrue = onlyLt ? (v !== v ? missingTracksTrue[g] === 1 : v < threshold[g]) : goesTrue(e, g, v);
      const p = pattern[g];
      const cold = p & ~splitBit[g];
      pattern[trueChild[g]] = toTrue ? p : cold;
      pattern[falseChild[g]] = toTrue ? cold : p;
    }
    for (let l = 0; l < L; l++) {
      const fs = FEAT_START[l];
      const d = FEAT_START[l + 1] - fs;
      const leaf = LEAF[l];
      const all = (1 << d) - 1;
      const pat = pattern[leaf] & all;
      if (margins !== null && pat === all) {
        // every path feature satisfied = the row reaches this leaf
        for (let j = leafStart[leaf], je = leafStart[leaf + 1]; j < je; j++) margins[leafClass[j]] += leafWeight[j];
      }
      if (d === 0) continue;
      const row = TABLE_START[l] + pat * d;
      for (let j = leafStart[leaf], je = leafStart[leaf + 1]; j < je; j++) {
        const w = leafWeight[j];
        const off = leafClass[j] * nFeatures;
        for (let s = 0; s < d; s++) phi[off + FEAT[fs + s]] += TABLE[row + s] * w;
      }
    }
  };
}
