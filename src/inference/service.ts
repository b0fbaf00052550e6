// Inference for the rest of the service: `predict(model, rows)` returns each row's class
// probabilities. Rows of concurrent callers are merged by a per-model MicroBatcher into one
// session.run (unless batching is switched off). Knows nothing of GraphQL or the database.
import type * as ort from 'onnxruntime-node';
import { quote } from '../text.js';
import { MicroBatcher, QueueFullError, type BatchStats, type BatcherOptions } from './batcher.js';
import { warmUp, type LoadedModel, type ModelRegistry } from './registry.js';
import { buildFeedArrays, buildFeeds, splitProbabilities, type ModelRow } from './tensors.js';
import type { InferenceThread } from './thread.js';

export interface InferenceOptions extends BatcherOptions {
  /** false: every call runs its own session.run (for comparison in benchmarks). */
  batching: boolean;
}

export interface InferenceObserver {
  onBatch?(model: LoadedModel, stats: BatchStats): void;
  onRun?(model: LoadedModel, rows: number, seconds: number, ok: boolean): void;
  /** One predict() call finished (ok) or failed, including refusals. */
  onRequest?(model: LoadedModel, ok: boolean): void;
  onReject?(model: LoadedModel): void;
}

export class UnknownModelError extends Error {
  override name = 'UnknownModelError';
}

export class InferenceService {
  /** One micro-batcher per model version (keyed by identity), created on first use. */
  private readonly batchers = new Map<string, MicroBatcher<ModelRow, Float32Array>>();
  private readonly runCounts = new Map<string, number>();
  private draining = false;

  constructor(
    readonly registry: ModelRegistry,
    private readonly options: InferenceOptions,
    private readonly observer: InferenceObserver = {},
    /** Runs the batches off the calling thread (INFERENCE_THREAD=on); without one, session.run blocks it. */
    readonly thread?: InferenceThread,
  ) {}

  /** A model's promoted version, or the version asked for. */
  model(name: string, version?: string | null): LoadedModel {
    const model = this.registry.get(name, version);
    if (model) return model;
    if (this.registry.get(name)) {
      const known = this.registry.versions(name).map((m) => m.version).join(', ');
      throw new UnknownModelError(`Unknown version ${quote(version ?? '', 64)} of model "${name}" (loaded: ${known})`);
    }
    throw new UnknownModelError(`Unknown model ${quote(name, 64)} (known: ${this.registry.names().join(', ')})`);
  }

  private batcher(model: LoadedModel): MicroBatcher<ModelRow, Float32Array> {
    let batcher = this.batchers.get(model.identity);
    if (!batcher) {
      batcher = new MicroBatcher((rows) => this.runBatch(model, rows), this.options, (stats) => this.observer.onBatch?.(model, stats));
      if (this.draining) batcher.drain();
      this.batchers.set(model.identity, batcher);
    }
    return batcher;
  }

  /**
   * Class probabilities for each row, in order; a name means the model's promoted version. A call
   * larger than INFERENCE_MAX_BATCH_SIZE (an occlusion explanation of a page: up to 33 rows per
   * customer) is run as consecutive chunks of that size: ONNX Runtime's memory arena grows to the
   * largest session.run and never gives it back (one 33,000-row run left the process at 2.3 GB),
   * and other requests' rows get their turn between the chunks instead of waiting behind one huge run.
   */
  async predict(modelOrName: LoadedModel | string, rows: ModelRow[]): Promise<Float32Array[]> {
    const model = typeof modelOrName === 'string' ? this.model(modelOrName) : modelOrName;
    try {
      const chunk = Math.max(1, this.options.maxBatchSize);
      let out: Float32Array[];
      if (rows.length <= chunk) out = await this.once(model, rows);
      else {
        out = [];
        for (let i = 0; i < rows.length; i += chunk) out.push(...(await this.once(model, rows.slice(i, i + chunk))));
      }
      this.observer.onRequest?.(model, true);
      return out;
    } catch (err) {
      if (err instanceof QueueFullError) this.observer.onReject?.(model);
      this.observer.onRequest?.(model, false);
      throw err;
    }
  }

  private once(model: LoadedModel, rows: ModelRow[]): Promise<Float32Array[]> {
    return this.options.batching ? this.batcher(model).submit(rows) : this.runBatch(model, rows);
  }

  /** session.run calls so far for a model, all versions (tests and metrics). */
  runs(modelName: string): number {
    return this.runCounts.get(modelName) ?? 0;
  }

  queuedRows(modelName: string): number {
    let rows = 0;
    for (const m of this.registry.versions(modelName)) rows += this.batchers.get(m.identity)?.queueRows ?? 0;
    return rows;
  }

  /**
   * Opens the inference thread's session of every loaded version now, with one all-missing row each,
   * so that no request waits for it; a version the thread cannot run stops start-up like one that
   * fails the registry's own warm-up. Versions loaded later are opened by their first batch.
   */
  async warmThread(): Promise<void> {
    const thread = this.thread;
    if (!thread) return;
    await Promise.all(
      this.registry
        .all()
        .map((model) => warmUp(model, `${model.dir}/model.onnx`, (rows) => thread.run(model, buildFeedArrays(model.layout, rows)), 'warm-up inference on the inference thread')),
    );
  }

  /** Shutdown: waits for the batches in the inference thread, then stops it. */
  async close(): Promise<void> {
    await this.thread?.close();
  }

  /** Shutdown: queued requests run now instead of after their queue delay (see MicroBatcher.drain). */
  drain(): void {
    this.draining = true;
    for (const batcher of this.batchers.values()) batcher.drain();
  }

  /** One batch: one session.run, on the inference thread or on the calling thread (tests hold or fail batches here). */
  async runBatch(model: LoadedModel, rows: ModelRow[]): Promise<Float32Array[]> {
    this.runCounts.set(model.name, (this.runCounts.get(model.name) ?? 0) + 1);
    const started = performance.now();
    let ok = false;
    try {
      const out = this.thread
        ? await this.thread.run(model, buildFeedArrays(model.layout, rows))
        : ((await model.session.run(buildFeeds(model.layout, rows))).probabilities as ort.Tensor);
      const probabilities = splitProbabilities(out, rows.length, model.classes.length);
      ok = true;
      return probabilities;
    } finally {
      this.observer.onRun?.(model, rows.length, (performance.now() - started) / 1000, ok);
    }
  }
}
