// The explanation worker (a piscina worker thread, see pool.ts): builds an explainer from a model's
// ONNX bytes the first time that model version is asked for and keeps it, then explains row blocks.
import { readlinkSync } from 'node:fs';
import os from 'node:os';
import { PerModelCache } from '../per-model-cache.js';
import { createLinearExplainer, createTreeShapExplainer } from './index.js';
import type { Explainer, ExplainMethod, FlatAttributions } from './types.js';

export interface ExplainTask {
  /** The model version's identity: the explainer is built once per worker and identity. */
  key: string;
  method: ExplainMethod;
  /** The served model.onnx, shared with every worker (never copied per task). */
  model: SharedArrayBuffer;
  /** n rows, row-major (n × nFeatures); NaN = missing. */
  rows: Float64Array;
  n: number;
}

// This thread yields the CPU to the event loop: on Linux a thread has its own nice value
// (setpriority on its thread id), so when the cores are short, the main thread, which reads and
// answers every request, runs first and long explanation batches wait. Elsewhere: unchanged.
try {
  const tid = Number(/task\/(\d+)$/.exec(readlinkSync('/proc/thread-self'))?.[1]);
  if (tid > 0) os.setPriority(tid, Math.max(os.getPriority(tid), 10));
} catch {
  // not Linux, or not permitted: the thread keeps the process's priority
}

/** Explainers kept per worker. */
const explainers = new PerModelCache<Explainer>(8);

function explainerOf(task: ExplainTask): Explainer {
  return explainers.get(task.key, () => {
    const bytes = new Uint8Array(task.model);
    if (task.method === 'tree_shap') return createTreeShapExplainer(bytes);
    if (task.method === 'linear') return createLinearExplainer(bytes);
    throw new Error(`unknown explanation method ${String(task.method)}`);
  });
}

export default function explain(task: ExplainTask): FlatAttributions {
  return explainerOf(task).explainFlat(task.rows, task.n);
}
