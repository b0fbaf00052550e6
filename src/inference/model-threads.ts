// What the explanation pool (explain/pool.ts) and the inference thread (thread.ts) share: a fixed
// number of piscina worker threads, started with the first task (a process that never asks starts
// none), and each model version's served model.onnx copied once into shared memory, which every
// task names instead of copying it.
import { Piscina } from 'piscina';
import { workerExecArgv } from '../threads.js';

/** A model version as the threads need it. */
export interface ThreadModel {
  /** Unique per model version (LoadedModel.identity). */
  identity: string;
  onnxBytes: Uint8Array;
}

export abstract class ModelThreads {
  private pool: Piscina | undefined;
  private readonly shared = new Map<string, SharedArrayBuffer>();
  private closed = false;
  /** Tasks submitted and not yet settled (tests and metrics). */
  inFlight = 0;

  constructor(
    /** The worker module (.ts or .js, beside the caller's own file). */
    private readonly workerFile: string,
    readonly workers: number,
  ) {}

  /** The error a task submitted after close() fails with. */
  protected abstract shutDownError(): Error;

  /** Runs one task on a thread; buffers in `transferList` are moved, not copied. */
  protected submit<T>(task: unknown, transferList: ArrayBuffer[] = []): Promise<T> {
    if (this.closed) return Promise.reject(this.shutDownError());
    this.pool ??= new Piscina({
      filename: this.workerFile,
      minThreads: this.workers,
      maxThreads: this.workers,
      idleTimeout: Number.POSITIVE_INFINITY,
      execArgv: workerExecArgv(this.workerFile),
    });
    this.inFlight++;
    return (this.pool.run(task, { transferList }) as Promise<T>).finally(() => this.inFlight--);
  }

  protected get isClosed(): boolean {
    return this.closed;
  }

  /** Worker threads alive now (tests terminate one to see what a crash does). */
  get threads() {
    return this.pool?.threads ?? [];
  }

  /** The model's ONNX bytes in shared memory, copied on first use. */
  protected sharedBytes(model: ThreadModel): SharedArrayBuffer {
    let sab = this.shared.get(model.identity);
    if (!sab) {
      sab = new SharedArrayBuffer(model.onnxBytes.byteLength);
      new Uint8Array(sab).set(model.onnxBytes);
      this.shared.set(model.identity, sab);
    }
    return sab;
  }

  /** Shutdown: waits for the tasks already submitted, then stops the threads. */
  async close(): Promise<void> {
    this.closed = true;
    const pool = this.pool;
    this.pool = undefined;
    await pool?.close();
  }
}
