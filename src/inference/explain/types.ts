// The common result of every explainer: per class, a base value and one contribution per feature, in
// the model's margin (logit) units, with base[k] + Σ_j contributions[k][j] = margins[k].

export type ExplainMethod = 'tree_shap' | 'linear';

/** One row's attribution, indexed by class (the model's class order) and feature (the card's order). */
export interface Attribution {
  /** Per class: the value before any feature is known (TreeSHAP: expected margin; linear: intercept). */
  base: number[];
  /** Per class: one contribution per feature, in margin units. */
  contributions: Float64Array[];
  /** Per class: the model's raw score before softmax. */
  margins: number[];
}

export interface Explainer {
  /**
   * 'tree_shap': exact path-dependent TreeSHAP over the served ONNX trees (XGBoost pred_contribs);
   * 'linear': exact linear contributions in logit space.
   */
  readonly method: ExplainMethod;
  readonly nFeatures: number;
  readonly nClasses: number;
  /** One attribution per row; each row has nFeatures values, NaN = missing. */
  explain(rows: ArrayLike<number>[]): Attribution[];
}
