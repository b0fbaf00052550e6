// Per-request loaders for predictions. For one (model, scoring time), all customers a request asks
// about share one feature query and one inference call (merged further across requests by the
// process-wide micro-batcher). Explanations reuse the same features and are only computed when
// the field is selected. Cached predictions skip both.
import DataLoader from 'dataloader';
import type { GraphQLError } from 'graphql';
import { QueueFullError } from '../../inference/batcher.js';
import { ErrorCode, appError } from '../errors.js';
import type { Database } from '../../db/client.js';
import { featuresForCustomers, type CustomerFeatures } from '../../features/index.js';
import type { LoadedModel } from '../../inference/registry.js';
import type { Explained, Scoring } from '../../scoring/scoring.js';
import { decide } from '../../scoring/decision.js';
import type { Prediction } from './prediction.type.js';

export interface PredictionLoaders {
  prediction(model: LoadedModel, asOf: Date): DataLoader<string, Prediction | null>;
  explanation(model: LoadedModel, asOf: Date): DataLoader<string, Explained | null>;
}

export function toPrediction(model: LoadedModel, customerId: string, asOf: Date, raw: Float32Array): Prediction {
  // Recalibration and the class rule of this version's card (the same call as batch scoring).
  const { classIndex: best, probabilities: served } = decide(model, raw);
  return {
    customerId,
    loadedModel: model,
    model: model.name,
    modelVersion: model.version,
    asOf,
    segment: model.classes[best],
    probability: served[best],
    segmentProbabilities: model.classes.map((segment, k) => ({ segment, probability: served[k] })),
  };
}

export function createPredictionLoaders(db: Database, scoring: Scoring): PredictionLoaders {
  const features = new Map<number, DataLoader<string, CustomerFeatures | null>>();
  const predictions = new Map<string, DataLoader<string, Prediction | null>>();
  const explanations = new Map<string, DataLoader<string, Explained | null>>();

  const featureLoader = (asOf: Date) => {
    let loader = features.get(asOf.getTime());
    if (!loader) {
      loader = new DataLoader(async (ids) => {
        const found = await featuresForCustomers(db, ids, asOf);
        return ids.map((id) => found.get(id) ?? null);
      });
      features.set(asOf.getTime(), loader);
    }
    return loader;
  };

  // A refusal (inference queue full) refuses the whole request: later loaders of the same request
  // (other aliases, other models, explanations) fail at once instead of queueing more work, and
  // the client sees one OVERLOADED error (the server merges the copies) and retries.
  let refusal: GraphQLError | undefined;
  const unlessRefused = async <T>(work: () => Promise<T>): Promise<T> => {
    if (refusal) throw refusal;
    try {
      return await work();
    } catch (err) {
      if (err instanceof QueueFullError) {
        refusal ??= appError(ErrorCode.OVERLOADED, 'Inference is overloaded; retry shortly.');
        throw refusal;
      }
      throw err;
    }
  };

  const present = async (ids: readonly string[], asOf: Date) => {
    const rows = await featureLoader(asOf).loadMany(ids);
    return rows.map((r) => {
      if (r instanceof Error) throw r;
      return r;
    });
  };

  return {
    prediction(model, asOf) {
      const key = `${model.identity}|${asOf.getTime()}`;
      let loader = predictions.get(key);
      if (!loader) {
        loader = new DataLoader(async (ids) => {
          if (refusal) throw refusal;
          const asOfMs = asOf.getTime();
          const result = new Map<string, Prediction>();
          const misses: string[] = [];
          for (const id of ids) {
            const hit = scoring.cache.get(id, model.identity, asOfMs);
            if (hit) result.set(id, toPrediction(model, id, asOf, hit.probabilities));
            else misses.push(id);
          }
          if (misses.length > 0) {
            const rows = await present(misses, asOf);
            const known = misses.filter((_, i) => rows[i] !== null);
            const probabilities = await unlessRefused(() => scoring.inference.predict(model, rows.filter((r) => r !== null)));
            known.forEach((id, i) => {
              scoring.cache.set(id, model.identity, asOfMs, { probabilities: probabilities[i] });
              result.set(id, toPrediction(model, id, asOf, probabilities[i]));
            });
          }
          return ids.map((id) => result.get(id) ?? null);
        });
        predictions.set(key, loader);
      }
      return loader;
    },

    explanation(model, asOf) {
      const key = `${model.identity}|${asOf.getTime()}`;
      let loader = explanations.get(key);
      if (!loader) {
        loader = new DataLoader(async (ids) => {
          if (refusal) throw refusal;
          const rows = await present(ids, asOf);
          const known = rows.filter((r) => r !== null);
          const explained = await unlessRefused(() => scoring.explain(model, known, asOf));
          let i = 0;
          return rows.map((r) => (r === null ? null : explained[i++]));
        });
        explanations.set(key, loader);
      }
      return loader;
    },
  };
}
