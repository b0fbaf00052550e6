// Explainers over the served model.onnx bytes (one source of truth for predictions and explanations).
import { linearContributionsFlat, parseLinearModel } from './linear.js';
import { parseTreeEnsemble } from './tree-ensemble.js';
import { TreeShap } from './treeshap.js';
import { flattenRows, unflattenAttributions, type Explainer, type FlatAttributions } from './types.js';

export type { Attribution, ExplainMethod, Explainer, FlatAttributions } from './types.js';
export { flattenRows, unflattenAttributions } from './types.js';
export { OnnxGraphError } from './onnx-graph.js';

/**
 * Exact path-dependent TreeSHAP for a model whose graph holds one ai.onnx.ml TreeEnsembleClassifier with
 * node covers in nodes_hitrates. Throws OnnxGraphError when the file is not such a model.
 */
export function createTreeShapExplainer(modelBytes: Uint8Array): Explainer {
  const ensemble = parseTreeEnsemble(modelBytes);
  const shap = new TreeShap(ensemble);
  const { nFeatures, nClasses } = ensemble;
  const explainFlat = (x: Float64Array, n: number): FlatAttributions => ({ n, nClasses, nFeatures, base: [...shap.base], ...shap.explainBatch(x, n) });
  return {
    method: 'tree_shap',
    nFeatures,
    nClasses,
    explainFlat,
    explain: (rows) => unflattenAttributions(explainFlat(flattenRows(rows, nFeatures), rows.length)),
  };
}

/** Exact linear contributions (logit space) for the logistic graph of python-export/segments/logistic_onnx.py. */
export function createLinearExplainer(modelBytes: Uint8Array): Explainer {
  const model = parseLinearModel(modelBytes);
  const { nFeatures, nClasses } = model;
  const explainFlat = (x: Float64Array, n: number): FlatAttributions => ({ n, nClasses, nFeatures, ...linearContributionsFlat(model, x, n) });
  return {
    method: 'linear',
    nFeatures,
    nClasses,
    explainFlat,
    explain: (rows) => unflattenAttributions(explainFlat(flattenRows(rows, nFeatures), rows.length)),
  };
}
