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
//   Rows go through it in blocks (TREESHAP_BLOCK): per tree, every row of the block is routed
//   through the tree's splits (branch-free, on typed arrays) before its leaves' tables are read,
//   so each tree's nodes and tables are fetched once per block. Two sibling leaves share their
//   path features and their patterns differ only in the parent split's bit, so they are one entry
//   with the two weighted tables summed (3,433 of the shipped XGBoost's 7,283 leaves are such
//   pairs: 3,850 entries instead of 7,283). Timings: bench/RESULTS.md, row 6.
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
  private runner: BatchRunner | undefined;
  private readonly build: () => BatchRunner;

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
    // The tables (up to maxTableEntries float64, ~2.3 MB for the shipped XGBoost, up to 32 MB) are
    // built on the first explanation, not here: the server validates every model at load on the
    // event loop, while with the explanation pool only the worker threads ever explain.
    if (this.algorithm === 'leaf-table') this.build = () => makeTableRunner(e, cover);
    else {
      this.build = () => {
        const one = makeRunner(e, cover);
        const nF = e.nFeatures;
        const width = e.nClasses * nF;
        return (x, n, phi, margins) => {
          for (let i = 0; i < n; i++) {
            const row = sliceRow(x, i * nF, nF);
            one(row, phi.subarray(i * width, (i + 1) * width), null);
            if (margins !== null) predictMargins(e, row).forEach((m, k) => (margins[i * e.nClasses + k] = m));
          }
        };
      };
    }
  }

  private get run(): BatchRunner {
    this.runner ??= this.build();
    return this.runner;
  }

  /** SHAP values of one row. `x` has nFeatures values (NaN = missing). */
  shap(x: ArrayLike<number>): TreeShapValues {
    if (x.length !== this.nFeatures) throw new RangeError(`feature row has ${x.length} values; the model expects ${this.nFeatures}`);
    const nF = this.nFeatures;
    const phi = new Float64Array(this.nClasses * nF);
    this.run(x, 1, phi, null);
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
    const { contributions, margins } = this.explainBatch(x, 1);
    const nF = this.nFeatures;
    const perClass: Float64Array[] = [];
    for (let k = 0; k < this.nClasses; k++) perClass.push(contributions.subarray(k * nF, (k + 1) * nF));
    return { base: [...this.base], contributions: perClass, margins: Array.from(margins) };
  }

  /**
   * n rows at once: x is row-major (n × nFeatures, NaN = missing). Returns contributions
   * (n × nClasses × nFeatures, row-major) and margins (n × nClasses, as predictMargins).
   */
  explainBatch(x: ArrayLike<number>, n: number): { contributions: Float64Array; margins: Float64Array } {
    if (x.length !== n * this.nFeatures) throw new RangeError(`feature rows have ${x.length} values; ${n} rows of ${this.nFeatures} expected`);
    const contributions = new Float64Array(n * this.nClasses * this.nFeatures);
    const margins = new Float64Array(n * this.nClasses);
    for (let i = 0; i < n; i++) margins.set(this.ensemble.baseValues, i * this.nClasses);
    this.run(x, n, contributions, margins);
    return { contributions, margins };
  }
}

function sliceRow(x: ArrayLike<number>, start: number, n: number): ArrayLike<number> {
  if (ArrayBuffer.isView(x)) return (x as unknown as Float64Array).subarray(start, start + n);
  return Array.prototype.slice.call(x, start, start + n) as number[];
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

/** Rows evaluated together by the leaf-table runner (their pattern columns and outputs stay in cache). */
export const TREESHAP_BLOCK = 64;

/**
 * Batched leaf-table TreeSHAP. Explains n rows (row-major x, n × nFeatures, NaN = missing) into
 * phi (n × nClasses × nFeatures, added to) and margins (n × nClasses, added to; null = skip).
 *
 * Layout for speed: per tree, its split nodes in pre-order and its leaves get local slots; rows go
 * through a tree together in blocks of TREESHAP_BLOCK, so a tree's nodes and its leaves' tables are
 * read once per block instead of once per row, and the inner loops run over rows on typed arrays.
 * A leaf's table is stored premultiplied by its weight, with the output index (class·nFeatures +
 * feature) of each of its path features, so a row costs per leaf one mask, d loads and d adds.
 */
type BatchRunner = (x: ArrayLike<number>, n: number, phi: Float64Array, margins: Float64Array | null) => void;

function makeTableRunner(e: TreeEnsemble, cover: Float64Array): BatchRunner {
  const { mode, feature, threshold, trueChild, falseChild, missingTracksTrue, leafStart, leafClass, leafWeight, nFeatures, nClasses } = e;
  const maxD = e.maxDepth + 1;
  const pw = new Float64Array(maxD + 1);
  const zeros = new Float64Array(maxD + 1);
  const ones = new Float64Array(maxD + 1);
  const onlyLt = mode.every((m) => m === NodeMode.Leaf || m === NodeMode.BranchLt);

  // Per tree: splits (pre-order) then leaves get local slots 0..; the root is slot 0.
  const treeSplitStart: number[] = [0];
  const sNode: number[] = []; // global node of each split (generic modes)
  const sFeat: number[] = [];
  const sThr: number[] = [];
  const sMiss: number[] = [];
  const sBit: number[] = [];
  const sSlot: number[] = [];
  const sTrue: number[] = [];
  const sFalse: number[] = [];
  // Leaf entries (one per leaf weight): slot, pattern mask, depth, table, output indices, class, weight.
  const treeEntryStart: number[] = [0];
  const lSlot: number[] = [];
  const lSlot2: number[] = []; // a merged sibling pair: the false leaf's slot (else -1)
  const lBit: number[] = []; // … and the slot of its parent split's feature
  const lWeight2: number[] = [];
  const lDepth: number[] = [];
  const lTable: number[] = [0];
  const lIdx: number[] = [0];
  const lClass: number[] = [];
  const lWeight: number[] = [];
  const table: number[] = [];
  const idx: number[] = [];
  let maxSlots = 1;

  for (let t = 0; t < e.nTrees; t++) {
    const slotOf = new Map<number, number>();
    let next = 0;
    const splitsPre: number[] = [];
    const leavesIn: number[] = [];
    const pathFeats = new Map<number, number[]>(); // split -> unique features on the path to it (inclusive)
    const stack: Array<[number, number[]]> = [[e.treeRoot[t], []]];
    while (stack.length > 0) {
      const [g, feats] = stack.pop()!;
      if (mode[g] === NodeMode.Leaf) {
        leavesIn.push(g);
        continue;
      }
      const here = feats.includes(feature[g]) ? feats : [...feats, feature[g]];
      pathFeats.set(g, feats);
      splitsPre.push(g);
      stack.push([falseChild[g], here], [trueChild[g], here]);
    }
    for (const g of splitsPre) slotOf.set(g, next++);
    for (const g of leavesIn) slotOf.set(g, next++);
    maxSlots = Math.max(maxSlots, next);
    for (const g of splitsPre) {
      const feats = pathFeats.get(g)!;
      let bit = feats.indexOf(feature[g]);
      if (bit < 0) bit = feats.length;
      sNode.push(g);
      sFeat.push(feature[g]);
      sThr.push(threshold[g]);
      sMiss.push(missingTracksTrue[g]);
      sBit.push(1 << bit);
      sSlot.push(slotOf.get(g)!);
      sTrue.push(slotOf.get(trueChild[g])!);
      sFalse.push(slotOf.get(falseChild[g])!);
    }
    treeSplitStart.push(sNode.length);

    // Per leaf with weights: its path's features (by slot), Algorithm-2 values per pattern (raw,
    // 2^d × d), its parent split and the slot of that split's feature.
    const infos = new Map<number, { d: number; feats: number[]; raw: number[]; parent: number; lastSlot: number }>();
    forEachLeafPath(e, t, (leaf, nodes, slots, dirs) => {
      if (leafStart[leaf] === leafStart[leaf + 1]) return; // no weight: contributes nothing
      const d = slots.length === 0 ? 0 : Math.max(...slots) + 1;
      const zeroFrac = new Float64Array(d).fill(1);
      const feats = new Array<number>(d);
      nodes.forEach((g, i) => {
        const child = dirs[i] ? trueChild[g] : falseChild[g];
        zeroFrac[slots[i]] *= cover[child] / cover[g];
        feats[slots[i]] = feature[g];
      });
      const raw: number[] = [];
      for (let pattern = 0; pattern < 2 ** d; pattern++) {
        extendPlain(pw, 0, 1, 1, zeros, ones);
        for (let s = 0; s < d; s++) extendPlain(pw, s + 1, zeroFrac[s], (pattern >> s) & 1, zeros, ones);
        for (let s = 0; s < d; s++) raw.push(unwoundSumPlain(pw, d, s + 1, zeros, ones) * (ones[s + 1] - zeros[s + 1]));
      }
      infos.set(leaf, { d, feats, raw, parent: nodes.length ? nodes[nodes.length - 1] : -1, lastSlot: slots.length ? slots[slots.length - 1] : -1 });
    });
    const single = (leaf: number) => {
      const { d, feats, raw } = infos.get(leaf)!;
      for (let j = leafStart[leaf]; j < leafStart[leaf + 1]; j++) {
        const w = leafWeight[j];
        const k = leafClass[j];
        for (const v of raw) table.push(v * w);
        for (const f of feats) idx.push(k * nFeatures + f);
        lSlot.push(slotOf.get(leaf)!);
        lSlot2.push(-1);
        lBit.push(0);
        lDepth.push(d);
        lTable.push(table.length);
        lIdx.push(idx.length);
        lClass.push(k);
        lWeight.push(w);
        lWeight2.push(0);
      }
    };
    const oneWeight = (leaf: number) => leafStart[leaf + 1] - leafStart[leaf] === 1;
    const done = new Set<number>();
    for (const [leaf, info] of infos) {
      if (done.has(leaf)) continue;
      const g = info.parent;
      const [lt, lf] = g >= 0 ? [trueChild[g], falseChild[g]] : [-1, -1];
      const pair = g >= 0 && infos.has(lt) && infos.has(lf) && oneWeight(lt) && oneWeight(lf) && leafClass[leafStart[lt]] === leafClass[leafStart[lf]];
      if (!pair) {
        single(leaf);
        done.add(leaf);
        continue;
      }
      // Sibling leaves: same path features, patterns that differ only in the last split's bit. One
      // entry for both, indexed by the true leaf's pattern plus the false leaf's bit of that slot,
      // with the two weighted tables summed: half the entries, half the adds.
      const t1 = infos.get(lt)!;
      const t0 = infos.get(lf)!;
      const d = t1.d;
      const all = (1 << d) - 1;
      const bit = 1 << t1.lastSlot;
      const wt = leafWeight[leafStart[lt]];
      const wf = leafWeight[leafStart[lf]];
      const k = leafClass[leafStart[lt]];
      for (let m = 0; m < 2 ** (d + 1); m++) {
        const pt = m & all;
        const pf = (pt & ~bit) | ((m >> d) & 1 ? bit : 0);
        for (let s = 0; s < d; s++) table.push(wt * t1.raw[pt * d + s] + wf * t0.raw[pf * d + s]);
      }
      for (const f of t1.feats) idx.push(k * nFeatures + f);
      lSlot.push(slotOf.get(lt)!);
      lSlot2.push(slotOf.get(lf)!);
      lBit.push(t1.lastSlot);
      lDepth.push(d);
      lTable.push(table.length);
      lIdx.push(idx.length);
      lClass.push(k);
      lWeight.push(wt);
      lWeight2.push(wf);
      done.add(lt);
      done.add(lf);
    }
    treeEntryStart.push(lSlot.length);
  }

  const TREE_SPLIT = Int32Array.from(treeSplitStart);
  const S_NODE = Int32Array.from(sNode);
  const S_FEAT = Int32Array.from(sFeat);
  const S_THR = Float64Array.from(sThr);
  const S_MISS = Uint8Array.from(sMiss);
  const S_BIT = Int32Array.from(sBit);
  const S_SLOT = Int32Array.from(sSlot);
  const S_TRUE = Int32Array.from(sTrue);
  const S_FALSE = Int32Array.from(sFalse);
  const TREE_ENTRY = Int32Array.from(treeEntryStart);
  const L_SLOT = Int32Array.from(lSlot);
  const L_SLOT2 = Int32Array.from(lSlot2);
  const L_BIT = Int32Array.from(lBit);
  const L_WEIGHT2 = Float64Array.from(lWeight2);
  const L_DEPTH = Int32Array.from(lDepth);
  const L_TABLE = Int32Array.from(lTable);
  const L_IDX = Int32Array.from(lIdx);
  const L_CLASS = Int32Array.from(lClass);
  const L_WEIGHT = Float64Array.from(lWeight);
  const TABLE = Float64Array.from(table);
  const IDX = Int32Array.from(idx);
  const nTrees = e.nTrees;
  const B = TREESHAP_BLOCK;
  const width = nClasses * nFeatures;
  // Per block: the rows as float32 (as ONNX Runtime compares them), feature-major; per slot and row,
  // the bits of the path features whose every split so far the row follows.
  const xt = new Float32Array(nFeatures * B);
  const pattern = new Int32Array(maxSlots * B);
  const acc = new Float64Array(width * B);
  const rowAt = new Int32Array(B); // per row of the block: where its values start in the entry's table

  return (x, n, phi, margins) => {
    for (let r0 = 0; r0 < n; r0 += B) {
      const nb = Math.min(B, n - r0);
      for (let b = 0; b < nb; b++) {
        const o = (r0 + b) * nFeatures;
        for (let j = 0; j < nFeatures; j++) xt[j * B + b] = x[o + j];
      }
      acc.fill(0, 0, width * B);
      for (let t = 0; t < nTrees; t++) {
        pattern.fill(-1, 0, nb); // the root (slot 0): no path feature yet, all bits set
        for (let k = TREE_SPLIT[t], ke = TREE_SPLIT[t + 1]; k < ke; k++) {
          const xo = S_FEAT[k] * B;
          const thr = S_THR[k];
          const miss = S_MISS[k] === 1;
          const bit = S_BIT[k];
          const notBit = ~bit;
          const missBit = miss ? 1 : 0;
          const po = S_SLOT[k] * B;
          const to = S_TRUE[k] * B;
          const fo = S_FALSE[k] * B;
          if (onlyLt) {
            for (let b = 0; b < nb; b++) {
              const v = xt[xo + b];
              const p = pattern[po + b];
              // branch-free (the direction is data-dependent): goes = 1 to the true child, else 0
              const goes = ((v < thr) as unknown as number) | (((v !== v) as unknown as number) & missBit);
              const cold = p & notBit;
              const kept = p & bit;
              pattern[to + b] = cold | (kept & -goes);
              pattern[fo + b] = cold | (kept & (goes - 1));
            }
          } else {
            const g = S_NODE[k];
            for (let b = 0; b < nb; b++) {
              const p = pattern[po + b];
              const cold = p & notBit;
              const toTrue = goesTrue(e, g, xt[xo + b]);
              pattern[to + b] = toTrue ? p : cold;
              pattern[fo + b] = toTrue ? cold : p;
            }
          }
        }
        for (let l = TREE_ENTRY[t], le = TREE_ENTRY[t + 1]; l < le; l++) {
          const d = L_DEPTH[l];
          const all = (1 << d) - 1;
          const lo = L_SLOT[l] * B;
          const ts = L_TABLE[l];
          const is = L_IDX[l];
          const mo = r0 * nClasses + L_CLASS[l];
          const w = L_WEIGHT[l];
          if (L_SLOT2[l] < 0) {
            for (let b = 0; b < nb; b++) rowAt[b] = ts + (pattern[lo + b] & all) * d;
            if (margins !== null) {
              // every path feature satisfied = the row reaches this leaf
              for (let b = 0; b < nb; b++) if ((pattern[lo + b] & all) === all) margins[mo + b * nClasses] += w;
            }
          } else {
            const lo2 = L_SLOT2[l] * B;
            const sb = L_BIT[l];
            for (let b = 0; b < nb; b++) rowAt[b] = ts + ((pattern[lo + b] & all) | (((pattern[lo2 + b] >> sb) & 1) << d)) * d;
            if (margins !== null) {
              const w2 = L_WEIGHT2[l];
              for (let b = 0; b < nb; b++) {
                if ((pattern[lo + b] & all) === all) margins[mo + b * nClasses] += w;
                else if ((pattern[lo2 + b] & all) === all) margins[mo + b * nClasses] += w2;
              }
            }
          }
          // Unrolled by path length (the output indices are loaded once per leaf, not per row).
          switch (d) {
            case 0:
              break;
            case 1: {
              const i0 = IDX[is] * B;
              for (let b = 0; b < nb; b++) {
                const row = rowAt[b];
                acc[i0 + b] += TABLE[row];
              }
              break;
            }
            case 2: {
              const i0 = IDX[is] * B;
              const i1 = IDX[is + 1] * B;
              for (let b = 0; b < nb; b++) {
                const row = rowAt[b];
                acc[i0 + b] += TABLE[row];
                acc[i1 + b] += TABLE[row + 1];
              }
              break;
            }
            case 3: {
              const i0 = IDX[is] * B;
              const i1 = IDX[is + 1] * B;
              const i2 = IDX[is + 2] * B;
              for (let b = 0; b < nb; b++) {
                const row = rowAt[b];
                acc[i0 + b] += TABLE[row];
                acc[i1 + b] += TABLE[row + 1];
                acc[i2 + b] += TABLE[row + 2];
              }
              break;
            }
            case 4: {
              const i0 = IDX[is] * B;
              const i1 = IDX[is + 1] * B;
              const i2 = IDX[is + 2] * B;
              const i3 = IDX[is + 3] * B;
              for (let b = 0; b < nb; b++) {
                const row = rowAt[b];
                acc[i0 + b] += TABLE[row];
                acc[i1 + b] += TABLE[row + 1];
                acc[i2 + b] += TABLE[row + 2];
                acc[i3 + b] += TABLE[row + 3];
              }
              break;
            }
            default:
              for (let b = 0; b < nb; b++) {
                const row = rowAt[b];
                for (let s = 0; s < d; s++) acc[IDX[is + s] * B + b] += TABLE[row + s];
              }
          }
        }
      }
      // the block's sums, feature-major, added into the row-major output
      for (let b = 0; b < nb; b++) {
        const out = (r0 + b) * width;
        for (let i = 0; i < width; i++) phi[out + i] += acc[i * B + b];
      }
    }
  };
}
