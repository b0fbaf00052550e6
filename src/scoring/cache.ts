// Predictions per (customer, model identity, as-of instant), bounded in customers and age. The
// identity is `name@version#sha256` of the ONNX file, so two models, two versions of one model, or
// a model file replaced under the same version number never share an entry.
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

  private static key(modelIdentity: string, asOfMs: number) {
    return `${modelIdentity}|${asOfMs}`;
  }

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
    // A customer is scored under a handful of (model, as-of) pairs; keep the map small.
    if (entries.size >= 16) entries.delete(entries.keys().next().value!);
    entries.set(PredictionCache.key(modelIdentity, asOfMs), value);
  }

  /** Forget everything about a customer (after a new order). */
  invalidate(customerId: string): void {
    this.byCustomer?.delete(customerId);
  }

  get size(): number {
    return this.byCustomer?.size ?? 0;
  }
}
