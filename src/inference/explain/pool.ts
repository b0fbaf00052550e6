// Explanations off the event loop: a piscina pool of worker threads (EXPLAIN_WORKERS) runs TreeSHAP
// and the linear contributions. Each worker builds a model version's explainer once, from the
// served model.onnx bytes shared with it (a SharedArrayBuffer, never copied per task), and keeps it.
// A request's rows go out in blocks of EXPLAIN_BLOCK_ROWS, so a 1000-row page spreads over the
// workers and other requests' blocks interleave with it. A failure inside a worker (an exception,
// or the thread dying) rejects that request with an ExplanationError; the pool replaces a dead
// thread and goes on serving.
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { ModelThreads, type ThreadModel } from '../model-threads.js';
import { unflattenAttributions, type Attribution, type ExplainMethod, type FlatAttributions } from './types.js';
import type { ExplainTask } from './worker.js';

/** An explanation could not be computed (its worker threw or died). The GraphQL layer codes it EXPLANATION_FAILED. */
export class ExplanationError extends Error {
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
    this.name = 'ExplanationError';
  }
}

/** Rows per worker task: ≈ 25 ms of TreeSHAP on a busy core, so no request waits long behind another's block. */
export const EXPLAIN_BLOCK_ROWS = 256;

/** EXPLAIN_WORKERS unset: one worker per core but one (the event loop keeps a core), at least one. */
export const defaultExplainWorkers = () => Math.max(1, os.availableParallelism() - 1);

/** What the pool needs of a model version. */
export type PoolModel = ThreadModel;

const atLeastOne = (workers: number) => {
  if (!(workers >= 1)) throw new RangeError('an explanation pool needs at least one worker');
  return workers;
};

export class ExplanationPool extends ModelThreads {
  constructor(
    workers: number,
    readonly blockRows = EXPLAIN_BLOCK_ROWS,
  ) {
    super(fileURLToPath(import.meta.url).replace(/pool\.(ts|js)$/, 'worker.$1'), atLeastOne(workers));
  }

  protected shutDownError(): Error {
    return new ExplanationError('the explanation pool is shut down');
  }

  /** Attributions of rows (each nFeatures long) by `method` over the model's ONNX file, in order. */
  async explain(model: PoolModel, method: ExplainMethod, nFeatures: number, rows: readonly ArrayLike<number>[]): Promise<Attribution[]> {
    if (this.isClosed) throw this.shutDownError();
    const sab = this.sharedBytes(model);
    const blocks: Promise<FlatAttributions>[] = [];
    for (let start = 0; start < rows.length; start += this.blockRows) {
      const block = rows.slice(start, start + this.blockRows);
      const x = new Float64Array(block.length * nFeatures);
      block.forEach((row, i) => {
        if (row.length !== nFeatures) throw new RangeError(`feature row has ${row.length} values; the model expects ${nFeatures}`);
        x.set(row, i * nFeatures);
      });
      const task: ExplainTask = { key: model.identity, method, model: sab, rows: x, n: block.length };
      blocks.push(this.submit<FlatAttributions>(task, [x.buffer]));
    }
    let results: FlatAttributions[];
    try {
      results = await Promise.all(blocks);
    } catch (err) {
      await Promise.allSettled(blocks);
      throw new ExplanationError(`the explanation worker failed: ${(err as Error)?.message ?? String(err)}`, err);
    }
    return results.flatMap(unflattenAttributions);
  }

  /**
   * Starts the threads and has each build the given models' explainers now (one row each, as many
   * tasks per model as threads), so the first request does not pay for it. Failures are returned, not thrown.
   */
  async warm(models: readonly (PoolModel & { method: ExplainMethod; nFeatures: number })[]): Promise<unknown[]> {
    const errors: unknown[] = [];
    await Promise.all(
      models.flatMap((m) =>
        Array.from({ length: this.workers }, () =>
          this.explain(m, m.method, m.nFeatures, [new Float64Array(m.nFeatures).fill(Number.NaN)]).catch((err: unknown) => errors.push(err)),
        ),
      ),
    );
    return errors;
  }
}
