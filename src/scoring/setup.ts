// Builds the process-wide scoring pieces from configuration: execution provider choice, model
// registry (validated and warmed up), explainers from the served ONNX files, micro-batched
// inference and the prediction cache.
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { assertSpecMatches, FEATURE_NAMES } from '../features/index.js';
import { createLinearExplainer, createTreeShapExplainer, type Explainer } from '../inference/explain/index.js';
import { ExplanationPool, defaultExplainWorkers } from '../inference/explain/pool.js';
import { parseProviders, ProviderSelector } from '../inference/providers.js';
import { ModelLoadError, ModelRegistry, type LoadedModel } from '../inference/registry.js';
import { InferenceService, type InferenceObserver } from '../inference/service.js';
import { InferenceThread } from '../inference/thread.js';
import { parseScoringTime } from './as-of.js';
import { PredictionCache } from './cache.js';
import { Scoring } from './scoring.js';

/**
 * Batching defaults per provider. On CPU no request waits on purpose: while one session.run is in
 * flight the next requests queue and leave together as the next batch (measured in bench/: a 2 ms
 * wait cost a third of single-client throughput and bought nothing at 64 clients). A GPU gains
 * from larger batches and can afford a short wait.
 */
export const batchingDefaults = {
  cpu: { maxBatchSize: 1024, maxQueueDelayMs: 0 },
  cuda: { maxBatchSize: 4096, maxQueueDelayMs: 2 },
} as const;

export function explainerFor(model: LoadedModel): Explainer | undefined {
  try {
    if (model.kind === 'xgboost') return createTreeShapExplainer(model.onnxBytes);
    if (model.kind === 'logistic') return createLinearExplainer(model.onnxBytes);
  } catch (err) {
    throw new ModelLoadError(`${model.dir}/model.onnx`, `cannot be explained (${(err as Error).message})`);
  }
  return undefined; // sequence models are explained by occlusion through inference
}

/** EXPLAIN_WORKERS threads (unset: cores − 1, at least 1); none for 0 (explanations on the event loop). */
export function explainPool(config: Pick<Config, 'EXPLAIN_WORKERS'>): ExplanationPool | undefined {
  const workers = config.EXPLAIN_WORKERS ?? defaultExplainWorkers();
  return workers > 0 ? new ExplanationPool(workers) : undefined;
}

export interface ScoringSetup {
  /**
   * ONNX Runtime intra-op threads when ORT_INTRA_OP_THREADS is unset (default: ORT's own, one per
   * core). Batch scoring passes 1: its pages already keep both cores busy (the next page's feature
   * query and the previous page's writes run while a page is inferred), and ORT's pool threads
   * spin while they wait — measured on the 27-feature XGBoost model, 2 threads cost ~24 µs of CPU
   * per row against ~10.5 µs on one thread, at no gain in rows per second on a busy 2-core machine.
   */
  intraOpThreads?: number;
}

/** What `npm run score` and `npm run score:worker` load their models with. */
export const BATCH_SCORING_SETUP: ScoringSetup = { intraOpThreads: 1 };

export async function createScoring(config: Config, log: Logger, observer?: InferenceObserver, setup: ScoringSetup = {}): Promise<Scoring> {
  const threads = config.ORT_INTRA_OP_THREADS ?? setup.intraOpThreads;
  const providers = new ProviderSelector(
    parseProviders(config.ORT_EXECUTION_PROVIDERS),
    (from, to, reason) => log.warn({ from, to, reason }, `execution provider ${from} unavailable; falling back to ${to}`),
    threads === undefined ? {} : { intraOpNumThreads: threads },
  );
  const registry = await ModelRegistry.load({
    dir: config.MODELS_DIR,
    providers,
    checkFeatureSpec: (spec) => assertSpecMatches(spec),
    featureNames: FEATURE_NAMES,
  });
  if (!registry.get(config.DEFAULT_MODEL)) {
    await registry.close();
    throw new ModelLoadError(
      config.MODELS_DIR,
      `DEFAULT_MODEL "${config.DEFAULT_MODEL}" is not among the models (${registry.list().map((m) => m.name).join(', ')})`,
    );
  }
  const onGpu = registry.all().some((m) => m.provider === 'cuda');
  const defaults = onGpu ? batchingDefaults.cuda : batchingDefaults.cpu;
  const inference = new InferenceService(
    registry,
    {
      batching: config.INFERENCE_BATCHING === 'on',
      maxBatchSize: config.INFERENCE_MAX_BATCH_SIZE ?? defaults.maxBatchSize,
      maxQueueDelayMs: config.INFERENCE_MAX_QUEUE_DELAY_MS ?? defaults.maxQueueDelayMs,
      maxQueueRows: config.INFERENCE_MAX_QUEUE_ROWS,
      maxConcurrentBatches: config.INFERENCE_MAX_CONCURRENT_BATCHES,
    },
    observer,
    config.INFERENCE_THREAD === 'on' ? new InferenceThread() : undefined,
  );
  try {
    await inference.warmThread();
  } catch (err) {
    await inference.close();
    await registry.close();
    throw err;
  }
  const scoring = new Scoring(
    inference,
    new PredictionCache(config.PREDICTION_CACHE_CUSTOMERS, config.PREDICTION_CACHE_TTL_SECONDS),
    config.DEFAULT_MODEL,
    explainerFor,
    config.SCORING_AS_OF && config.SCORING_AS_OF !== 'data-end' ? (parseScoringTime(config.SCORING_AS_OF) ?? undefined) : undefined,
    explainPool(config),
  );
  for (const model of registry.all()) {
    // Explainers are built (and checked) at load time, so a model that cannot be explained stops start-up.
    const method = scoring.methodOf(model);
    log.info({ model: model.name, version: model.version, status: registry.status(model), provider: model.provider, explanation: method }, 'model loaded');
  }
  return scoring;
}
