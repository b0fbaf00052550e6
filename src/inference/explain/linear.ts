// Exact linear contributions of the logistic model, in logit (margin) space, from the constants inside
// its served model.onnx (python-export/segments/logistic_onnx.py) — never from the model card.
//
// The graph:  x -> Where(IsNaN(x), impute_median, x) -> Where(log1p_mask, Log(Max(x, zero) + one), x)
//               -> (x - scaler_mean) / scaler_std = scaled -> MatMul(coef [F, C]) + intercept [1, C]
//               = logits -> Softmax / ArgMax
// so logits_k = intercept_k + Σ_j coef[j, k] · scaled_j exactly: base_k = intercept_k and
// contribution_kj = coef[j, k] · scaled_j. The input is rounded to float32 like the graph's input.
import {
  OnnxGraphError,
  decodeModel,
  getInitializer,
  getInitializerTensor,
  tensorDims,
  tensorToFloat32,
  type ModelProto,
} from './onnx-graph.js';

export interface LinearModel {
  nFeatures: number;
  nClasses: number;
  imputeMedian: Float32Array;
  /** 1 where the graph applies log1p(max(x, 0)). */
  log1pMask: Uint8Array;
  scalerMean: Float32Array;
  scalerStd: Float32Array;
  /** Row-major [nFeatures, nClasses] (the MatMul's right operand). */
  coef: Float32Array;
  intercept: Float32Array;
}

/** The op sequence logistic_onnx.convert writes, with the inputs each node must read. */
const EXPECTED_GRAPH: Array<[op: string, inputs: string[], output: string]> = [
  ['IsNaN', ['features'], 'is_nan'],
  ['Where', ['is_nan', 'impute_median', 'features'], 'imputed'],
  ['Max', ['imputed', 'zero'], 'nonneg'],
  ['Add', ['nonneg', 'one'], 'plus_one'],
  ['Log', ['plus_one'], 'log1p'],
  ['Where', ['log1p_mask', 'log1p', 'imputed'], 'transformed'],
  ['Sub', ['transformed', 'scaler_mean'], 'centered'],
  ['Div', ['centered', 'scaler_std'], 'scaled'],
  ['MatMul', ['scaled', 'coef'], 'linear'],
  ['Add', ['linear', 'intercept'], 'logits'],
  ['Softmax', ['logits'], 'probabilities'],
  ['ArgMax', ['logits'], 'label'],
];

/**
 * Reads the logistic graph's constants. The graph must be exactly the one logistic_onnx.py exports
 * (checked node by node), so a changed pipeline fails here instead of explaining the wrong function.
 */
export function parseLinearModelProto(model: ModelProto): LinearModel {
  const nodes = model.graph?.node ?? [];
  const shape = nodes.map((n) => `${n.opType}(${(n.input ?? []).join(',')})->${(n.output ?? [])[0] ?? ''}`);
  const want = EXPECTED_GRAPH.map(([op, ins, out]) => `${op}(${ins.join(',')})->${out}`);
  if (shape.length !== want.length || shape.some((s, i) => s !== want[i])) {
    const firstBad = shape.findIndex((s, i) => s !== want[i]);
    throw new OnnxGraphError(
      `not the logistic graph the linear explainer understands: node ${firstBad < 0 ? shape.length : firstBad} is ${shape[firstBad] ?? '(missing)'}, expected ${want[firstBad < 0 ? shape.length : firstBad] ?? '(end of graph)'}`,
    );
  }
  const scalar = (name: string, value: number) => {
    const got = getInitializer(model, name).data;
    if (got.length !== 1 || got[0] !== value) throw new OnnxGraphError(`initializer ${name} must be the scalar ${value}`);
  };
  scalar('zero', 0);
  scalar('one', 1);

  const coefT = getInitializerTensor(model, 'coef');
  const [nFeatures, nClasses] = tensorDims(coefT);
  if (tensorDims(coefT).length !== 2 || !(nFeatures > 0) || !(nClasses > 0)) {
    throw new OnnxGraphError(`initializer coef has dims ${JSON.stringify(tensorDims(coefT))}; expected [features, classes]`);
  }
  const row = (name: string, width: number): Float32Array => {
    const { dims, data } = getInitializer(model, name);
    if (data.length !== width) throw new OnnxGraphError(`initializer ${name} has dims ${JSON.stringify(dims)}; expected ${width} values`);
    return data;
  };
  const mask = row('log1p_mask', nFeatures);
  return {
    nFeatures,
    nClasses,
    imputeMedian: row('impute_median', nFeatures),
    log1pMask: Uint8Array.from(mask, (v) => (v !== 0 ? 1 : 0)),
    scalerMean: row('scaler_mean', nFeatures),
    scalerStd: row('scaler_std', nFeatures),
    coef: tensorToFloat32(coefT),
    intercept: row('intercept', nClasses),
  };
}

export function parseLinearModel(modelBytes: Uint8Array): LinearModel {
  return parseLinearModelProto(decodeModel(modelBytes));
}

/** The graph's `scaled` vector for one row (NaN = missing), in float64 from float32 input and constants. */
export function scaledFeatures(m: LinearModel, x: ArrayLike<number>, out = new Float64Array(m.nFeatures)): Float64Array {
  if (x.length !== m.nFeatures) throw new RangeError(`feature row has ${x.length} values; the model expects ${m.nFeatures}`);
  for (let j = 0; j < m.nFeatures; j++) {
    let v = Math.fround(x[j]);
    if (v !== v) v = m.imputeMedian[j];
    if (m.log1pMask[j] === 1) v = Math.log(Math.max(v, 0) + 1);
    out[j] = (v - m.scalerMean[j]) / m.scalerStd[j];
  }
  return out;
}

export interface LinearValues {
  base: number[];
  contributions: Float64Array[];
  margins: number[];
}

/** base_k = intercept_k, contribution_kj = coef[j,k]·scaled_j, margins_k = base_k + Σ_j contribution_kj. */
export function linearContributions(m: LinearModel, x: ArrayLike<number>): LinearValues {
  const scaled = scaledFeatures(m, x);
  const base = Array.from(m.intercept);
  const margins = [...base];
  const contributions: Float64Array[] = [];
  for (let k = 0; k < m.nClasses; k++) {
    const c = new Float64Array(m.nFeatures);
    let s = base[k];
    for (let j = 0; j < m.nFeatures; j++) {
      c[j] = m.coef[j * m.nClasses + k] * scaled[j];
      s += c[j];
    }
    contributions.push(c);
    margins[k] = s;
  }
  return { base, contributions, margins };
}

/** linearContributions for n rows laid out row-major in x (n × nFeatures), into flat arrays (see FlatAttributions). */
export function linearContributionsFlat(
  m: LinearModel,
  x: Float64Array,
  n: number,
): { base: number[]; contributions: Float64Array; margins: Float64Array } {
  const { nFeatures: nF, nClasses: nC } = m;
  if (x.length !== n * nF) throw new RangeError(`feature rows have ${x.length} values; ${n} rows of ${nF} expected`);
  const base = Array.from(m.intercept);
  const contributions = new Float64Array(n * nC * nF);
  const margins = new Float64Array(n * nC);
  const scaled = new Float64Array(nF);
  for (let i = 0; i < n; i++) {
    scaledFeatures(m, x.subarray(i * nF, (i + 1) * nF), scaled);
    for (let k = 0; k < nC; k++) {
      const o = (i * nC + k) * nF;
      let s = base[k];
      for (let j = 0; j < nF; j++) {
        const c = m.coef[j * nC + k] * scaled[j];
        contributions[o + j] = c;
        s += c;
      }
      margins[i * nC + k] = s;
    }
  }
  return { base, contributions, margins };
}
