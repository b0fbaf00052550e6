// Rows → ONNX feeds, and ONNX outputs → per-row probabilities. The input layout is the model
// card's: `features` [N, F] float32 for every model; the sequence model adds `sequence` [N, S, T]
// and `mask` [N, S], padded to the longest sequence in the batch (S ≥ 1).
import * as ort from 'onnxruntime-node';

export interface ModelRow {
  /** The spec's features in order (NaN = missing). */
  features: Float64Array;
  /** Sequence tokens, row-major [maxOrders × tokenWidth], zero-padded (sequence models only). */
  sequence?: Float32Array;
  /** Number of real tokens in `sequence`. */
  sequenceLength?: number;
  /** Positions of `sequence` whose order has no known amount (explanations say so instead of "$0.00"). */
  sequenceUnknownAmounts?: readonly number[];
  /** Positions of `sequence` hidden from the model (occlusion explanations). */
  maskedPositions?: readonly number[];
}

export interface FeedLayout {
  featureCount: number;
  /** Present for sequence models. */
  sequence?: { tokenWidth: number; maxLength: number };
}

/** One input or output tensor as plain data: float32, row-major, and its shape (crosses threads as is). */
export interface FeedArray {
  data: Float32Array;
  dims: number[];
}

export function buildFeeds(layout: FeedLayout, rows: readonly ModelRow[]): Record<string, ort.Tensor> {
  return Object.fromEntries(Object.entries(buildFeedArrays(layout, rows)).map(([name, f]) => [name, new ort.Tensor('float32', f.data, f.dims)]));
}

export function buildFeedArrays(layout: FeedLayout, rows: readonly ModelRow[]): Record<string, FeedArray> {
  const n = rows.length;
  const f = layout.featureCount;
  const features = new Float32Array(n * f);
  rows.forEach((row, i) => features.set(row.features, i * f));
  const feeds: Record<string, FeedArray> = { features: { data: features, dims: [n, f] } };
  if (layout.sequence) {
    const t = layout.sequence.tokenWidth;
    const s = Math.max(1, ...rows.map((r) => r.sequenceLength ?? 0));
    const sequence = new Float32Array(n * s * t);
    const mask = new Float32Array(n * s);
    rows.forEach((row, i) => {
      const len = row.sequenceLength ?? 0;
      if (len > 0 && row.sequence) sequence.set(row.sequence.subarray(0, len * t), i * s * t);
      for (let j = 0; j < len; j++) mask[i * s + j] = 1;
      for (const j of row.maskedPositions ?? []) {
        mask[i * s + j] = 0;
        sequence.fill(0, (i * s + j) * t, (i * s + j + 1) * t);
      }
    });
    feeds.sequence = { data: sequence, dims: [n, s, t] };
    feeds.mask = { data: mask, dims: [n, s] };
  }
  return feeds;
}

/** Splits the [N, C] probabilities output into one Float32Array per row. */
export function splitProbabilities(output: Pick<ort.Tensor, 'data' | 'dims'>, rows: number, classes: number): Float32Array[] {
  const data = output.data as Float32Array;
  if (output.dims.length !== 2 || output.dims[0] !== rows || output.dims[1] !== classes) {
    throw new Error(`probabilities output has shape [${output.dims.join(', ')}], expected [${rows}, ${classes}]`);
  }
  return Array.from({ length: rows }, (_, i) => data.slice(i * classes, (i + 1) * classes));
}
