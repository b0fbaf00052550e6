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
import { Piscina } from 'piscina';
import { workerExecArgv } from '../threads.js';
import type { LoadedModel } from './registry.js';
import type { FeedArray } from './tensors.js';
import type { RunTask } from './thread.worker.js';

export class InferenceThread {
  private pool: Piscina | undefined;
  private readonly shared = new Map<string, SharedArrayBuffer>();
  private closed = false;
  /** Batches submitted and not yet settled (tests and metrics). */
  inFlight = 0;

  /** The thread starts with the first batch (a process that never infers starts none). */
  private piscina(): Piscina {
    if (this.closed) throw new Error('the inference thread is shut down');
    if (!this.pool) {
      const here = fileURLToPath(import.meta.url);
      this.pool = new Piscina({
        filename: here.replace(/thread\.(ts|js)$/, 'thread.worker.$1'),
        minThreads: 1,
        maxThreads: 1,
        idleTimeout: Number.POSITIVE_INFINITY,
        execArgv: workerExecArgv(here),
      });
    }
    return this.pool;
  }

  /** The worker threads alive now (tests terminate one to see what a crash does). */
  get threads() {
    return this.pool?.threads ?? [];
  }

  private sharedBytes(model: LoadedModel): SharedArrayBuffer {
    let sab = this.shared.get(model.identity);
    if (!sab) {
      sab = new SharedArrayBuffer(model.onnxBytes.byteLength);
      new Uint8Array(sab).set(model.onnxBytes);
      this.shared.set(model.identity, sab);
    }
    return sab;
  }

  /** The model's `probabilities` output for the feeds' rows. The feeds' buffers are transferred (unusable afterwards). */
  run(model: LoadedModel, feeds: Record<string, FeedArray>): Promise<FeedArray> {
    const task: RunTask = { key: model.identity, model: this.sharedBytes(model), options: model.sessionOptions, feeds };
    const pool = this.piscina();
    this.inFlight++;
    const done = pool.run(task, { transferList: Object.values(feeds).map((f) => f.data.buffer as ArrayBuffer) }) as Promise<FeedArray>;
    return done.finally(() => this.inFlight--);
  }

  /** Shutdown: waits for the batches already submitted, then stops the thread. */
  async close(): Promise<void> {
    this.closed = true;
    const pool = this.pool;
    this.pool = undefined;
    await pool?.close();
  }
}
