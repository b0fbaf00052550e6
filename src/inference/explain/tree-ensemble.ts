// The ai.onnx.ml TreeEnsembleClassifier inside a served model.onnx, parsed into flat per-node arrays
// for prediction (margin parity with ONNX Runtime / XGBoost) and exact TreeSHAP (treeshap.ts).
//
// Semantics follow the ONNX spec and ONNX Runtime: inputs are compared as float32 against float32
// thresholds; a NaN input goes to the true child when nodes_missing_value_tracks_true is 1, otherwise
// the comparison decides (NaN < t is false → false child). Margins = base_values + Σ leaf class weights.
// Node covers for TreeSHAP come from nodes_hitrates (python-export/segments/xgb_onnx.py writes XGBoost's
// per-node sum_hessian there; inference ignores it).
import {
  OnnxGraphError,
  attrFloats,
  attrInts,
  attrString,
  attrStrings,
  attrTensor,
  decodeModel,
  getNode,
  inputNames,
  inputShape,
  tensorToFloat32,
  type ModelProto,
  type NodeProto,
} from './onnx-graph.js';

/** Node modes as small integers (the values of the `mode` array). */
export const NodeMode = {
  Leaf: 0,
  BranchLt: 1,
  BranchLeq: 2,
  BranchGt: 3,
  BranchGte: 4,
  BranchEq: 5,
  BranchNeq: 6,
} as const;
export type NodeMode = (typeof NodeMode)[keyof typeof NodeMode];

export const NODE_MODES: Record<string, NodeMode> = {
  LEAF: NodeMode.Leaf,
  BRANCH_LT: NodeMode.BranchLt,
  BRANCH_LEQ: NodeMode.BranchLeq,
  BRANCH_GT: NodeMode.BranchGt,
  BRANCH_GTE: NodeMode.BranchGte,
  BRANCH_EQ: NodeMode.BranchEq,
  BRANCH_NEQ: NodeMode.BranchNeq,
};

export type PostTransform = 'NONE' | 'SOFTMAX' | 'LOGISTIC' | 'SOFTMAX_ZERO' | 'PROBIT';

/**
 * All trees in flat arrays indexed by a global node index; each tree's nodes are contiguous
 * (treeStart[t] .. treeStart[t+1]) and its root is treeRoot[t].
 */
export interface TreeEnsemble {
  /** Width of the input row (the graph input's declared width, else max feature id + 1). */
  nFeatures: number;
  nClasses: number;
  classLabels: Array<number | string>;
  postTransform: PostTransform;
  baseValues: Float64Array;
  nTrees: number;
  /** The tree ids as written in the model (nodes_treeids), in tree order. */
  treeIds: number[];
  treeStart: Int32Array;
  treeRoot: Int32Array;
  /** Depth of the deepest leaf per tree (root = 0). */
  treeDepth: Int32Array;
  maxDepth: number;
  /** Classes that a tree's leaves carry weights for (XGBoost: exactly one). */
  treeClasses: Int32Array[];
  // ---- per node (global index) ----
  feature: Int32Array;
  threshold: Float32Array;
  mode: Uint8Array;
  /** Global index of the true / false child; -1 for leaves. */
  trueChild: Int32Array;
  falseChild: Int32Array;
  missingTracksTrue: Uint8Array;
  /** nodes_hitrates (node cover); null when the model has none. */
  cover: Float64Array | null;
  /** Leaf weights in CSR form: node i has weights leafClass/leafWeight[leafStart[i] .. leafStart[i+1]). */
  leafStart: Int32Array;
  leafClass: Int32Array;
  leafWeight: Float64Array;
}

function floatsOrTensor(node: NodeProto, name: string): number[] | undefined {
  const plain = attrFloats(node, name, true);
  if (plain && plain.length > 0) return plain;
  const t = attrTensor(node, `${name}_as_tensor`);
  if (t) return Array.from(tensorToFloat32(t));
  return plain;
}

function requireFloats(node: NodeProto, name: string): number[] {
  const v = floatsOrTensor(node, name);
  if (!v) throw new OnnxGraphError(`TreeEnsembleClassifier has neither ${name} nor ${name}_as_tensor`);
  return v;
}

function checkLength(name: string, got: number, want: number): void {
  if (got !== want) throw new OnnxGraphError(`TreeEnsembleClassifier attribute ${name} has ${got} entries, expected ${want}`);
}

/** Parses the single TreeEnsembleClassifier (domain ai.onnx.ml) of a decoded model. */
export function parseTreeEnsembleModel(model: ModelProto): TreeEnsemble {
  const node = getNode(model, 'TreeEnsembleClassifier', 'ai.onnx.ml');

  const treeIdsRaw = attrInts(node, 'nodes_treeids');
  const nodeIdsRaw = attrInts(node, 'nodes_nodeids');
  const n = treeIdsRaw.length;
  const featureIds = attrInts(node, 'nodes_featureids');
  const values = requireFloats(node, 'nodes_values');
  const modes = attrStrings(node, 'nodes_modes');
  const trueIds = attrInts(node, 'nodes_truenodeids');
  const falseIds = attrInts(node, 'nodes_falsenodeids');
  const missing = attrInts(node, 'nodes_missing_value_tracks_true', true) ?? new Array<number>(n).fill(0);
  const hitrates = floatsOrTensor(node, 'nodes_hitrates');
  for (const [name, arr] of [
    ['nodes_nodeids', nodeIdsRaw],
    ['nodes_featureids', featureIds],
    ['nodes_values', values],
    ['nodes_modes', modes],
    ['nodes_truenodeids', trueIds],
    ['nodes_falsenodeids', falseIds],
    ['nodes_missing_value_tracks_true', missing],
  ] as const) {
    checkLength(name, arr.length, n);
  }
  const hasCover = hitrates !== undefined && hitrates.length > 0;
  if (hasCover) checkLength('nodes_hitrates', hitrates.length, n);

  const classTreeIds = attrInts(node, 'class_treeids');
  const classNodeIds = attrInts(node, 'class_nodeids');
  const classIds = attrInts(node, 'class_ids');
  const classWeights = requireFloats(node, 'class_weights');
  checkLength('class_nodeids', classNodeIds.length, classTreeIds.length);
  checkLength('class_ids', classIds.length, classTreeIds.length);
  checkLength('class_weights', classWeights.length, classTreeIds.length);

  const labelsInt = attrInts(node, 'classlabels_int64s', true);
  const labelsStr = attrStrings(node, 'classlabels_strings', true);
  const classLabels: Array<number | string> = labelsInt && labelsInt.length > 0 ? labelsInt : (labelsStr ?? []);
  const nClasses = classLabels.length;
  if (nClasses === 0) throw new OnnxGraphError('TreeEnsembleClassifier has no class labels');
  if (nClasses === 2 && classIds.every((c) => c === 0)) {
    throw new OnnxGraphError('binary TreeEnsembleClassifier with a single score column is not supported');
  }
  for (const c of classIds) {
    if (c < 0 || c >= nClasses) throw new OnnxGraphError(`class_ids contains ${c}, outside 0..${nClasses - 1}`);
  }

  const postTransform = (attrString(node, 'post_transform') ?? 'NONE') as PostTransform;
  if (!['NONE', 'SOFTMAX', 'LOGISTIC', 'SOFTMAX_ZERO', 'PROBIT'].includes(postTransform)) {
    throw new OnnxGraphError(`unknown post_transform ${postTransform}`);
  }
  const baseRaw = floatsOrTensor(node, 'base_values') ?? [];
  if (baseRaw.length !== 0 && baseRaw.length !== nClasses) checkLength('base_values', baseRaw.length, nClasses);
  const baseValues = new Float64Array(nClasses);
  baseRaw.forEach((v, i) => (baseValues[i] = v));

  // Group nodes by tree (in order of first appearance), keep each tree contiguous.
  const treeOrder: number[] = [];
  const byTree = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    let list = byTree.get(treeIdsRaw[i]);
    if (!list) {
      list = [];
      byTree.set(treeIdsRaw[i], list);
      treeOrder.push(treeIdsRaw[i]);
    }
    list.push(i);
  }
  const nTrees = treeOrder.length;
  const order: number[] = []; // global index -> attribute index
  const treeStart = new Int32Array(nTrees + 1);
  const globalOf = new Map<string, number>(); // `${tree}:${node}` -> global index
  treeOrder.forEach((tid, t) => {
    treeStart[t] = order.length;
    for (const i of byTree.get(tid)!) {
      const key = `${tid}:${nodeIdsRaw[i]}`;
      if (globalOf.has(key)) throw new OnnxGraphError(`duplicate node id ${nodeIdsRaw[i]} in tree ${tid}`);
      globalOf.set(key, order.length);
      order.push(i);
    }
  });
  treeStart[nTrees] = n;

  const feature = new Int32Array(n);
  const threshold = new Float32Array(n);
  const mode = new Uint8Array(n);
  const trueChild = new Int32Array(n).fill(-1);
  const falseChild = new Int32Array(n).fill(-1);
  const missingTracksTrue = new Uint8Array(n);
  const cover = hasCover ? new Float64Array(n) : null;
  const isChild = new Uint8Array(n);
  let maxFeature = -1;
  for (let g = 0; g < n; g++) {
    const i = order[g];
    const m = NODE_MODES[modes[i]];
    if (m === undefined) throw new OnnxGraphError(`unsupported node mode ${modes[i]} (tree ${treeIdsRaw[i]}, node ${nodeIdsRaw[i]})`);
    mode[g] = m;
    threshold[g] = values[i];
    missingTracksTrue[g] = missing[i] ? 1 : 0;
    if (cover) cover[g] = hitrates![i];
    if (m !== NodeMode.Leaf) {
      feature[g] = featureIds[i];
      if (featureIds[i] < 0) throw new OnnxGraphError(`negative feature id at tree ${treeIdsRaw[i]} node ${nodeIdsRaw[i]}`);
      maxFeature = Math.max(maxFeature, featureIds[i]);
      const tc = globalOf.get(`${treeIdsRaw[i]}:${trueIds[i]}`);
      const fc = globalOf.get(`${treeIdsRaw[i]}:${falseIds[i]}`);
      if (tc === undefined || fc === undefined) {
        throw new OnnxGraphError(`tree ${treeIdsRaw[i]} node ${nodeIdsRaw[i]} points to a missing child`);
      }
      trueChild[g] = tc;
      falseChild[g] = fc;
      isChild[tc] = 1;
      isChild[fc] = 1;
    }
  }

  // Leaf weights (CSR by global node index).
  const counts = new Int32Array(n + 1);
  const target = classTreeIds.map((tid, j) => {
    const g = globalOf.get(`${tid}:${classNodeIds[j]}`);
    if (g === undefined) throw new OnnxGraphError(`class weight for missing node ${classNodeIds[j]} of tree ${tid}`);
    if (mode[g] !== NodeMode.Leaf) throw new OnnxGraphError(`class weight on non-leaf node ${classNodeIds[j]} of tree ${tid}`);
    counts[g + 1]++;
    return g;
  });
  const leafStart = new Int32Array(n + 1);
  for (let g = 0; g < n; g++) leafStart[g + 1] = leafStart[g] + counts[g + 1];
  const fill = leafStart.slice(0, n);
  const leafClass = new Int32Array(classTreeIds.length);
  const leafWeight = new Float64Array(classTreeIds.length);
  target.forEach((g, j) => {
    const k = fill[g]++;
    leafClass[k] = classIds[j];
    leafWeight[k] = classWeights[j];
  });

  // Roots, depths, classes per tree.
  const treeRoot = new Int32Array(nTrees);
  const treeDepth = new Int32Array(nTrees);
  const treeClasses: Int32Array[] = [];
  let maxDepth = 0;
  for (let t = 0; t < nTrees; t++) {
    const roots: number[] = [];
    for (let g = treeStart[t]; g < treeStart[t + 1]; g++) if (!isChild[g]) roots.push(g);
    if (roots.length !== 1) throw new OnnxGraphError(`tree ${treeOrder[t]} has ${roots.length} roots`);
    treeRoot[t] = roots[0];
    const size = treeStart[t + 1] - treeStart[t];
    let depth = 0;
    let visited = 0;
    const classes = new Set<number>();
    const stack: Array<[number, number]> = [[roots[0], 0]];
    while (stack.length > 0) {
      const [g, d] = stack.pop()!;
      if (++visited > size) throw new OnnxGraphError(`tree ${treeOrder[t]} is not a tree (a node is reached twice)`);
      if (mode[g] === NodeMode.Leaf) {
        depth = Math.max(depth, d);
        for (let k = leafStart[g]; k < leafStart[g + 1]; k++) classes.add(leafClass[k]);
      } else {
        stack.push([trueChild[g], d + 1], [falseChild[g], d + 1]);
      }
    }
    treeDepth[t] = depth;
    maxDepth = Math.max(maxDepth, depth);
    treeClasses.push(Int32Array.from([...classes].sort((a, b) => a - b)));
  }

  // Row width: the declared width of the node's input, else the largest feature id used.
  const inputName = node.input?.[0] ?? inputNames(model)[0];
  const shape = inputName ? inputShape(model, inputName) : undefined;
  const declared = shape && shape.length === 2 && typeof shape[1] === 'number' ? shape[1] : undefined;
  if (declared !== undefined && maxFeature >= declared) {
    throw new OnnxGraphError(`a split uses feature ${maxFeature} but the input ${inputName} has ${declared} columns`);
  }

  return {
    nFeatures: declared ?? maxFeature + 1,
    nClasses,
    classLabels,
    postTransform,
    baseValues,
    nTrees,
    treeIds: treeOrder,
    treeStart,
    treeRoot,
    treeDepth,
    maxDepth,
    treeClasses,
    feature,
    threshold,
    mode,
    trueChild,
    falseChild,
    missingTracksTrue,
    cover,
    leafStart,
    leafClass,
    leafWeight,
  };
}

/** Decodes model.onnx bytes and parses its TreeEnsembleClassifier (clear error when there is none). */
export function parseTreeEnsemble(modelBytes: Uint8Array): TreeEnsemble {
  return parseTreeEnsembleModel(decodeModel(modelBytes));
}

/** True when the split at global node g sends the (float32-rounded, possibly NaN) value v to the true child. */
export function goesTrue(e: TreeEnsemble, g: number, v: number): boolean {
  if (v !== v && e.missingTracksTrue[g] === 1) return true;
  const t = e.threshold[g];
  switch (e.mode[g]) {
    case NodeMode.BranchLt:
      return v < t;
    case NodeMode.BranchLeq:
      return v <= t;
    case NodeMode.BranchGt:
      return v > t;
    case NodeMode.BranchGte:
      return v >= t;
    case NodeMode.BranchEq:
      return v === t;
    case NodeMode.BranchNeq:
      return v !== t;
    default:
      throw new OnnxGraphError(`node ${g} is a leaf`);
  }
}

/** The global index of the leaf that row x reaches in tree t. */
export function leafIndex(e: TreeEnsemble, t: number, x: ArrayLike<number>): number {
  let g = e.treeRoot[t];
  while (e.mode[g] !== NodeMode.Leaf) {
    g = goesTrue(e, g, Math.fround(x[e.feature[g]])) ? e.trueChild[g] : e.falseChild[g];
  }
  return g;
}

function checkRow(e: TreeEnsemble, x: ArrayLike<number>): void {
  if (x.length !== e.nFeatures) throw new RangeError(`feature row has ${x.length} values; the model expects ${e.nFeatures}`);
}

/** Raw scores before post_transform (XGBoost's output_margin): base_values + Σ leaf weights, per class. */
export function predictMargins(e: TreeEnsemble, x: ArrayLike<number>): number[] {
  checkRow(e, x);
  const out = Array.from(e.baseValues);
  for (let t = 0; t < e.nTrees; t++) {
    const g = leafIndex(e, t, x);
    for (let k = e.leafStart[g]; k < e.leafStart[g + 1]; k++) out[e.leafClass[k]] += e.leafWeight[k];
  }
  return out;
}

/** Applies the ensemble's post_transform to margins (NONE, SOFTMAX, LOGISTIC, SOFTMAX_ZERO). */
export function applyPostTransform(kind: PostTransform, margins: readonly number[]): number[] {
  switch (kind) {
    case 'NONE':
      return [...margins];
    case 'LOGISTIC':
      return margins.map((v) => 1 / (1 + Math.exp(-v)));
    case 'SOFTMAX':
    case 'SOFTMAX_ZERO': {
      const keep = margins.map((v) => kind === 'SOFTMAX' || v !== 0);
      const m = Math.max(...margins.filter((_, i) => keep[i]));
      const e = margins.map((v, i) => (keep[i] ? Math.exp(v - m) : 0));
      const z = e.reduce((s, v) => s + v, 0);
      return e.map((v) => v / z);
    }
    default:
      throw new OnnxGraphError(`post_transform ${kind} is not supported here`);
  }
}
