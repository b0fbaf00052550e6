// Prometheus metrics (prom-client), named in the spirit of Triton's: per model, requests,
// executions, batch sizes, queue and compute time, refusals, and which provider serves it.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { InferenceObserver } from '../inference/service.js';
import type { Coalescer } from '../db/coalesce.js';
import type { Scoring } from '../scoring/scoring.js';

/**
 * Bounds the `operation` label of graphql_request_duration_seconds. Operation names come from
 * clients, and every distinct label value is a set of series kept for the life of the process (20,000
 * names once made /metrics 46 MB). The first `max` distinct names seen since start keep their own
 * label; any later new name is counted as `other`; unnamed operations (and names that are not
 * plain GraphQL names of up to 64 characters) as `anonymous`. Only names of documents that parsed
 * and validated reach this, and only from authenticated requests.
 */
export class OperationLabels {
  private readonly named = new Set<string>();

  constructor(private readonly max: number) {}

  label(operationName: string | null | undefined): string {
    if (!operationName || !/^[A-Za-z_]\w{0,63}$/.test(operationName)) return 'anonymous';
    if (this.named.has(operationName)) return operationName;
    if (this.named.size >= this.max) return 'other';
    this.named.add(operationName);
    return operationName;
  }
}

const latencyBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class Metrics {
  readonly registry = new Registry();
  private readonly requests = new Counter({ name: 'inference_request_success_total', help: 'Inference requests (one per caller batch of rows) that succeeded', labelNames: ['model'], registers: [this.registry] });
  private readonly failures = new Counter({ name: 'inference_request_failure_total', help: 'Inference requests that failed or were refused', labelNames: ['model'], registers: [this.registry] });
  private readonly rejected = new Counter({ name: 'inference_queue_rejected_total', help: 'Inference requests refused because the queue was full (OVERLOADED)', labelNames: ['model'], registers: [this.registry] });
  private readonly inferences = new Counter({ name: 'inference_count_total', help: 'Rows (customers or occlusion variants) inferred', labelNames: ['model'], registers: [this.registry] });
  private readonly executions = new Counter({ name: 'inference_exec_count_total', help: 'session.run calls', labelNames: ['model'], registers: [this.registry] });
  private readonly batchSize = new Histogram({ name: 'inference_batch_size', help: 'Rows per session.run', labelNames: ['model'], buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096], registers: [this.registry] });
  private readonly queueDuration = new Histogram({ name: 'inference_queue_duration_seconds', help: 'Time the oldest request of a batch waited in the queue', labelNames: ['model'], buckets: latencyBuckets, registers: [this.registry] });
  private readonly computeDuration = new Histogram({ name: 'inference_compute_duration_seconds', help: 'session.run duration', labelNames: ['model', 'provider'], buckets: latencyBuckets, registers: [this.registry] });
  private readonly requestDuration = new Histogram({ name: 'graphql_request_duration_seconds', help: 'GraphQL request duration by operation', labelNames: ['operation', 'status'], buckets: latencyBuckets, registers: [this.registry] });
  private served: () => { name: string; version: string; provider: string }[] = () => [];
  // Read at scrape time: the promoted version of a model changes without a restart.
  private readonly modelInfo = (() => {
    const metrics = this;
    return new Gauge({
      name: 'inference_model_info',
      help: 'Served (promoted) model versions (value 1) with the execution provider',
      labelNames: ['model', 'version', 'provider'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const m of metrics.served()) this.set({ model: m.name, version: m.version, provider: m.provider }, 1);
      },
    });
  })();

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /** Hooks for the inference service. */
  readonly observer: InferenceObserver = {
    onBatch: (model, stats) => {
      this.batchSize.observe({ model: model.name }, stats.rows);
      this.queueDuration.observe({ model: model.name }, stats.queueDelayMs / 1000);
    },
    onRun: (model, rows, seconds) => {
      this.executions.inc({ model: model.name });
      this.inferences.inc({ model: model.name }, rows);
      this.computeDuration.observe({ model: model.name, provider: model.provider }, seconds);
    },
    onRequest: (model, ok) => (ok ? this.requests : this.failures).inc({ model: model.name }),
    onReject: (model) => this.rejected.inc({ model: model.name }),
  };

  /** Model info and cache counters are read from the scoring pieces at scrape time. */
  attach(scoring: Scoring): void {
    this.served = () => scoring.inference.registry.list();
    void this.modelInfo;
    const cache = scoring.cache;
    new Counter({ name: 'prediction_cache_hits_total', help: 'Predictions served from the cache', registers: [this.registry], collect() { this.reset(); this.inc(cache.hits); } });
    new Counter({ name: 'prediction_cache_misses_total', help: 'Predictions computed (not in the cache)', registers: [this.registry], collect() { this.reset(); this.inc(cache.misses); } });
    const inference = scoring.inference;
    new Gauge({
      name: 'inference_queue_rows',
      help: 'Rows waiting in the micro-batcher (not yet executing)',
      labelNames: ['model'],
      registers: [this.registry],
      collect() {
        for (const m of inference.registry.list()) this.set({ model: m.name }, inference.queuedRows(m.name));
      },
    });
    new Gauge({ name: 'prediction_cache_customers', help: 'Customers with cached predictions', registers: [this.registry], collect() { this.set(cache.size); } });
  }

  /** Statements the cross-request coalescers sent and the lookups they carried (lookups / statements = merged requests). */
  attachCoalescers(reads: object): void {
    const kinds = Object.entries(reads) as [string, Pick<Coalescer<unknown, unknown>, 'statements' | 'lookups'>][];
    new Counter({ name: 'db_coalesced_statements_total', help: 'Statements sent by the cross-request lookup coalescers', labelNames: ['kind'], registers: [this.registry], collect() { this.reset(); for (const [kind, c] of kinds) this.inc({ kind }, c.statements); } });
    new Counter({ name: 'db_coalesced_lookups_total', help: 'Per-request lookups those statements carried', labelNames: ['kind'], registers: [this.registry], collect() { this.reset(); for (const [kind, c] of kinds) this.inc({ kind }, c.lookups); } });
  }

  observeRequest(operation: string, ok: boolean, seconds: number): void {
    this.requestDuration.observe({ operation, status: ok ? 'ok' : 'error' }, seconds);
  }
}
