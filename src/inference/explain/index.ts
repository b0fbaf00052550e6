// Explainers over the served model.onnx bytes (one source of truth for predictions and explanations).
import { linearContributions, parseLinearModel } from './linear.js';
import { parseTreeEnsemble } from './tree-ensemble.js';
import { TreeShap } from './treeshap.js';
import type { Attribution, Explainer } from './types.js';

export type { Attribution, ExplainMethod, Explainer } from './types.js';
export { OnnxGraphError } from './onnx-graph.js';

/**
 * Exact path-dependent TreeSHAP for a model whose graph holds one ai.onnx.ml TreeEnsembleClassifier with
 * node covers in nodes_hitrates. Throws OnnxGraphError when the file is not such a model.
 */
export function createTreeShapExplainer(modelBytes: Uint8Array): Explainer {
  const ensemble = parseTreeEnsemble(modelBytes);
  const shap = new TreeShap(ensemble);
  return {
    method: 'tree_shap',
    nFeatures: ensemble.nFeatures,
    nClasses: ensemble.nClasses,
    explain: (rows) => rows.map((x): Attribution => shap.explain(x)),
  };
}

/** Exact linear contributions (logit space) for the logistic graph of python-export/segments/logistic_onnx.py. */
export function createLinearExplainer(modelBytes: Uint8Array): Explainer {
  const model = parseLinearModel(modelBytes);
  return {
    method: 'linear',
    nFeatures: model.nFeatures,
    nClasses: model.nClasses,
    explain: (rows) => rows.map((x): Attribution => linearContributions(model, x)),
  };
}
