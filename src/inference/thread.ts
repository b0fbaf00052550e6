// ONNX Runtime off the event loop. onnxruntime-node's `session.run` is synchronous: its promise
// only defers the run to the next turn of the loop (setImmediate), then the run blocks the thread
// that called it. In the server that thread is the event loop, which also parses, executes and
// answers every request; in batch scoring it is the thread that also computes the next page's
// features and writes the last page's scores. The inference thread (one piscina worker,
// thread.worker.ts) holds its own session of each model version, opened from the served
// model.onnx with the registry session's options, and runs the batches; the calling thread only
// builds the input arrays and reads the probabilities. INFERENCE_THREAD=off runs them on the
// calling thread, as before.
//
// A failure inside the thread (an exception, or the thread dying) rejects the batch it was running;
// piscina replaces a dead thread, which opens its sessions again on the next batch.
import { fileURLToPath } from 'node:url';
import { ModelThreads } from './model-threads.js';
import type { LoadedModel } from './registry.js';
import type { FeedArray } from './tensors.js';
import type { RunTask } from './thread.worker.js';

export class InferenceThread extends ModelThreads {
  constructor() {
    super(fileURLToPath(import.meta.url).replace(/thread\.(ts|js)$/, 'thread.worker.$1'), 1);
  }

  protected shutDownError(): Error {
    return new Error('the inference thread is shut down');
  }

  /** The model's `probabilities` output for the feeds' rows. The feeds' buffers are transferred (unusable afterwards). */
  run(model: LoadedModel, feeds: Record<string, FeedArray>): Promise<FeedArray> {
    const task: RunTask = { key: model.identity, model: this.sharedBytes(model), options: model.sessionOptions, feeds };
    return this.submit(task, Object.values(feeds).map((f) => f.data.buffer as ArrayBuffer));
  }
}
