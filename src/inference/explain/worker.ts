// The explanation worker (a piscina worker thread, see pool.ts): builds an explainer from a model's
// ONNX bytes the first time that model version is asked for and keeps it, then explains row blocks.
import { readlinkSync } from 'node:fs';
import os from 'node:os';
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

/** Explainers kept per worker (model versions in use at once: the promoted ones and a few pinned). */
const KEEP = 8;
const explainers = new Map<string, Explainer>();

function explainerOf(task: ExplainTask): Explainer {
  let explainer = explainers.get(task.key);
  if (explainer) return explainer;
  const bytes = new Uint8Array(task.model);
  if (task.method === 'tree_shap') explainer = createTreeShapExplainer(bytes);
  else if (task.method === 'linear') explainer = createLinearExplainer(bytes);
  else throw new Error(`unknown explanation method ${String(task.method)}`);
  if (explainers.size >= KEEP) explainers.delete(explainers.keys().next().value!);
  explainers.set(task.key, explainer);
  return explainer;
}

export default function explain(task: ExplainTask): FlatAttributions {
  return explainerOf(task).explainFlat(task.rows, task.n);
}
