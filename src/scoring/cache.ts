// Predictions per (customer, model identity, as-of instant), bounded in customers and age.
// The model identity is LoadedModel.identity (`name@version#sha256` of the ONNX file): names and
// versions alone collide (all shipped models are 1.0.0), which once served one model's numbers
// for another. Entries are grouped by customer so that recording an order drops all of that
// customer's predictions at once. Only probabilities are cached (a few floats per entry), never
// explanations, so the cache's memory is bounded by PREDICTION_CACHE_CUSTOMERS × 16 small arrays.
import { LRUCache } from 'lru-cache';

export interface CachedPrediction {
  probabilities: Float32Array;
}

/** Entries kept per customer: a handful of (model, as-of) pairs. */
const ENTRIES_PER_CUSTOMER = 16;

export class PredictionCache {
  private readonly byCustomer: LRUCache<string, Map<string, CachedPrediction>> | null;
  hits = 0;
  misses = 0;

  constructor(maxCustomers: number, ttlSeconds: number) {
    this.byCustomer = maxCustomers > 0 ? new LRUCache({ max: maxCustomers, ttl: ttlSeconds * 1000 }) : null;
  }

  private static key(modelIdentity: string, asOfMs: number) {
    return `${modelIdentity}|${asOfMs}`;
  }

  /** `modelIdentity`: LoadedModel.identity — never a bare name or version. */
  get(customerId: string, modelIdentity: string, asOfMs: number): CachedPrediction | undefined {
    const hit = this.byCustomer?.get(customerId)?.get(PredictionCache.key(modelIdentity, asOfMs));
    if (hit) this.hits += 1;
    else this.misses += 1;
    return hit;
  }

  set(customerId: string, modelIdentity: string, asOfMs: number, value: CachedPrediction): void {
    if (!this.byCustomer) return;
    let entries = this.byCustomer.get(customerId);
    if (!entries) {
      entries = new Map();
      this.byCustomer.set(customerId, entries);
    }
    if (entries.size >= ENTRIES_PER_CUSTOMER) entries.delete(entries.keys().next().value!);
    entries.set(PredictionCache.key(modelIdentity, asOfMs), value);
  }

  /** Forget everything about a customer (after a new order). */
  invalidate(customerId: string): void {
    this.byCustomer?.delete(customerId);
  }

  /** Forget everything (a bulk write, or change notifications that may have been missed). */
  invalidateAll(): void {
    this.byCustomer?.clear();
  }

  get size(): number {
    return this.byCustomer?.size ?? 0;
  }
}
