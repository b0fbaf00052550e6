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

/**
 * n rows' attributions in flat typed arrays (what crosses a worker boundary without per-row objects):
 * contributions is row-major n × nClasses × nFeatures, margins n × nClasses; base is shared by all rows.
 */
export interface FlatAttributions {
  n: number;
  nClasses: number;
  nFeatures: number;
  base: number[];
  contributions: Float64Array;
  margins: Float64Array;
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
  /** The same for n rows laid out row-major in x (n × nFeatures). */
  explainFlat(x: Float64Array, n: number): FlatAttributions;
}

/** Per-row views (no copies) of flat attributions. */
export function unflattenAttributions(flat: FlatAttributions): Attribution[] {
  const { n, nClasses, nFeatures } = flat;
  const out: Attribution[] = [];
  for (let i = 0; i < n; i++) {
    const contributions: Float64Array[] = [];
    for (let k = 0; k < nClasses; k++) {
      const start = (i * nClasses + k) * nFeatures;
      contributions.push(flat.contributions.subarray(start, start + nFeatures));
    }
    out.push({ base: [...flat.base], contributions, margins: Array.from(flat.margins.subarray(i * nClasses, (i + 1) * nClasses)) });
  }
  return out;
}

/** Rows (each nFeatures long) into one row-major array; a row of another width is a RangeError. */
export function flattenRows(rows: ArrayLike<number>[], nFeatures: number): Float64Array {
  const x = new Float64Array(rows.length * nFeatures);
  rows.forEach((row, i) => {
    if (row.length !== nFeatures) throw new RangeError(`feature row has ${row.length} values; the model expects ${nFeatures}`);
    x.set(row, i * nFeatures);
  });
  return x;
}
