// Predictions per (customer, model version, as-of instant), bounded in customers and age.
// Entries are grouped by customer so that recording an order drops all of that customer's
// predictions at once.
import { LRUCache } from 'lru-cache';

export interface CachedPrediction {
  probabilities: Float32Array;
}

export class PredictionCache {
  private readonly byCustomer: LRUCache<string, Map<string, CachedPrediction>> | null;
  hits = 0;
  misses = 0;

  constructor(maxCustomers: number, ttlSeconds: number) {
    this.byCustomer = maxCustomers > 0 ? new LRUCache({ max: maxCustomers, ttl: ttlSeconds * 1000 }) : null;
  }

  private static key(modelVersion: string, asOfMs: number) {
    return `${modelVersion}|${asOfMs}`;
  }

  get(customerId: string, modelVersion: string, asOfMs: number): CachedPrediction | undefined {
    const hit = this.byCustomer?.get(customerId)?.get(PredictionCache.key(modelVersion, asOfMs));
    if (hit) this.hits += 1;
    else this.misses += 1;
    return hit;
  }

  set(customerId: string, modelVersion: string, asOfMs: number, value: CachedPrediction): void {
    if (!this.byCustomer) return;
    let entries = this.byCustomer.get(customerId);
    if (!entries) {
      entries = new Map();
      this.byCustomer.set(customerId, entries);
    }
    // A customer is scored under a handful of (model, as-of) pairs; keep the map small.
    if (entries.size >= 16) entries.delete(entries.keys().next().value!);
    entries.set(PredictionCache.key(modelVersion, asOfMs), value);
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
