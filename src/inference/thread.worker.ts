// The inference thread (a piscina worker, see thread.ts): opens an ONNX Runtime session of a model
// version the first time that version is asked for, with the options the registry's session was
// created with, keeps it, and runs batches on it.
import * as ort from 'onnxruntime-node';
import { PerModelCache } from './per-model-cache.js';
import type { FeedArray } from './tensors.js';

export interface RunTask {
  /** The model version's identity: one session per thread and identity. */
  key: string;
  /** The served model.onnx, shared with the thread (never copied per task). */
  model: SharedArrayBuffer;
  /** The registry session's options (execution provider, threads, memory arena). */
  options: ort.InferenceSession.SessionOptions;
  feeds: Record<string, FeedArray>;
}

/** Sessions kept per thread; an evicted one gives its memory back. */
const sessions = new PerModelCache<Promise<ort.InferenceSession>>(8, (evicted) => void evicted.then((s) => s.release()).catch(() => {}));

function sessionOf(task: RunTask): Promise<ort.InferenceSession> {
  return sessions.get(task.key, () => {
    // A private copy: ONNX Runtime takes a Uint8Array over an ArrayBuffer, not over shared memory.
    const session = ort.InferenceSession.create(new Uint8Array(task.model).slice(), task.options);
    session.catch(() => sessions.forget(task.key, session)); // a failed open is retried by the next task
    return session;
  });
}

/** The `probabilities` output (the caller checks its shape). */
export default async function run(task: RunTask): Promise<FeedArray> {
  const session = await sessionOf(task);
  const feeds = Object.fromEntries(Object.entries(task.feeds).map(([name, f]) => [name, new ort.Tensor('float32', f.data, f.dims)]));
  const out = await session.run(feeds);
  const p = out.probabilities as ort.Tensor | undefined;
  if (!p) throw new Error('the model has no "probabilities" output');
  return { data: p.data as Float32Array, dims: [...p.dims] }; // copied by postMessage: rows × classes floats
}
