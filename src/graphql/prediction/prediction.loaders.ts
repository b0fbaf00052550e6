// Per-request loaders for predictions: the GraphQL adapter of the scoring service
// (src/scoring/scoring.ts), which owns cache → features → inference → class rule → explanations.
// For one (model, scoring time), all customers a request asks about share one feature load and one
// inference call (merged further across requests by the process-wide micro-batcher); explanations
// reuse the request's features and are only computed when the field is selected.
import DataLoader from 'dataloader';
import type { GraphQLError } from 'graphql';
import { QueueFullError } from '../../inference/batcher.js';
import { ErrorCode, appError } from '../errors.js';
import { inSlices } from '../common/pacing.js';
import type { Coalescer } from '../../db/coalesce.js';
import type { Database } from '../../db/client.js';
import type { CustomerFeatures } from '../../features/index.js';
import type { LoadedModel } from '../../inference/registry.js';
import { databaseFeatures, type Explained, type FeatureSource, type Scored, type Scoring } from '../../scoring/scoring.js';
import type { Prediction } from './prediction.type.js';

export interface PredictionLoaders {
  /** The request's feature rows at a scoring time: one load serves its predictions, explanations and lifetime figures. */
  features(asOf: Date): DataLoader<string, CustomerFeatures | null>;
  prediction(model: LoadedModel, asOf: Date): DataLoader<string, Prediction | null>;
  /** A page's explanations complete slice by slice (common/pacing.ts), not all in one turn. */
  explanation(model: LoadedModel, asOf: Date): DataLoader<string, Explained | null | Promise<Explained | null>>;
}

export function toPrediction(model: LoadedModel, customerId: string, asOf: Date, { probabilities, segment }: Scored): Prediction {
  return {
    customerId,
    loadedModel: model,
    model: model.name,
    modelVersion: model.version,
    asOf,
    segment: model.classes[segment],
    probability: probabilities[segment],
    segmentProbabilities: model.classes.map((key, k) => ({ segment: key, probability: probabilities[k] })),
  };
}

/**
 * `coalesced`: the process-wide feature coalescer (src/graphql/loaders.ts), which merges concurrent
 * requests' feature lookups at one scoring time into one statement; without it, one statement per
 * request.
 */
export function createPredictionLoaders(db: Database, scoring: Scoring, coalesced?: Coalescer<string, CustomerFeatures>): PredictionLoaders {
  const features = new Map<number, DataLoader<string, CustomerFeatures | null>>();
  const predictions = new Map<string, DataLoader<string, Prediction | null>>();
  const explanations = new Map<string, DataLoader<string, Explained | null | Promise<Explained | null>>>();

  // One feature loader per scoring time, shared by predictions and explanations of the request.
  const featureLoader = (asOf: Date): DataLoader<string, CustomerFeatures | null> => {
    let loader = features.get(asOf.getTime());
    if (!loader) {
      const at = asOf.toISOString();
      const fromDatabase = coalesced ? async (ids: readonly string[]) => (await coalesced.load(at, ids)).map((f) => f ?? null) : databaseFeatures(db, asOf);
      loader = new DataLoader((ids) => fromDatabase(ids));
      features.set(asOf.getTime(), loader);
    }
    return loader;
  };
  const featuresAt = (asOf: Date): FeatureSource => {
    const shared = featureLoader(asOf);
    return async (ids) =>
      (await shared.loadMany(ids)).map((r) => {
        if (r instanceof Error) throw r;
        return r;
      });
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

  return {
    features: featureLoader,

    prediction(model, asOf) {
      const key = `${model.identity}|${asOf.getTime()}`;
      let loader = predictions.get(key);
      if (!loader) {
        loader = new DataLoader(async (ids) => {
          const scored = await unlessRefused(() => scoring.scoreCustomers(model, ids, asOf, featuresAt(asOf)));
          // Not in slices: the fields below a prediction (explanation, lifetime) batch their own
          // loads, and slicing here would split those batches into slices too.
          return ids.map((id) => {
            const s = scored.get(id);
            return s ? toPrediction(model, id, asOf, s) : null;
          });
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
          const explained = await unlessRefused(() => scoring.explainCustomers(model, ids, asOf, featuresAt(asOf)));
          return inSlices(ids.map((id) => explained.get(id) ?? null));
        });
        explanations.set(key, loader);
      }
      return loader;
    },
  };
}
