// Scoring = prediction cache → features (from the database) → batched inference → class rule, and
// explanations. The one scoring path: the GraphQL loaders (live) and batch scoring both go through
// `scoreCustomers` / `score`, so a stored score can never be decided by another rule than the API's.
// Holds the process-wide pieces: inference service, prediction cache, explainers, and the default
// model and scoring time.
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { LoadedModel } from '../inference/registry.js';
import type { InferenceService } from '../inference/service.js';
import type { ModelRow } from '../inference/tensors.js';
import type { PredictionCache } from './cache.js';
import type { Attribution, Explainer } from '../inference/explain/index.js';
import type { ExplanationPool } from '../inference/explain/pool.js';
import { SEQUENCE_SOURCES } from '../features/spec.js';
import { featureInputs, withheldClause, type ExplainedInput } from './explanation.js';
import { currencyOf, plainMoney } from '../models/card.js';
import { endOfUtcDay } from './as-of.js';
import { decide } from './decision.js';
import { featuresForCustomers, type CustomerFeatures } from '../features/index.js';
import type { Database } from '../db/client.js';

/** One customer scored by one model: the probabilities (in `model.classes` order) and the decided class. */
export interface Scored {
  probabilities: Float32Array;
  /** Index into `model.classes` chosen by the class rule. */
  segment: number;
}

/** Features of a batch of customers at one scoring time, in order; null = no such customer. */
export type FeatureSource = (customerIds: readonly string[]) => Promise<(CustomerFeatures | null)[]>;

/** The features straight from the database (one statement per call). */
export function databaseFeatures(db: Pick<Database, 'prisma'>, asOf: Date): FeatureSource {
  return async (ids) => {
    const found = await featuresForCustomers(db, ids, asOf);
    return ids.map((id) => found.get(id) ?? null);
  };
}

export interface Explained {
  method: string;
  attribution: Attribution;
  inputs: ExplainedInput[];
}

const DAY_MS = 86_400_000;

/** Rows explained inline between two turns of the event loop (≈ 3–10 ms of TreeSHAP on a busy core). */
const EXPLAIN_SLICE = 32;
/** Occlusion variants (a customer and each of its orders hidden) per inference call: one CPU session.run. */
const OCCLUSION_ROWS = 256;
/** Rows whose inputs are phrased (labels, display values) between two turns of the event loop. */
const PHRASE_SLICE = 128;

// The predicted segment is decided by `decide` (./decision.ts): the one class rule that live
// predictions, stored scores and batch scoring share, as each model version's card says.

/** Stable method keys and what they mean (also in the README). */
export const explanationMethods: Record<string, string> = {
  tree_shap: 'Exact path-dependent TreeSHAP over the trees of the served model.onnx (as XGBoost pred_contribs); contributions in log-odds.',
  linear: 'Exact linear contributions of the logistic model: coefficient × standardised input, in log-odds; base = intercept.',
  occlusion:
    'Leave-one-order-out occlusion for the sequence model: each of the last orders is hidden in turn (all variants in the same batched inference); contribution = log p(with the order) − log p(without it).',
};

export class Scoring {
  /** Per model version (identity); built on first use, so versions loaded later get theirs too. */
  private readonly explainers = new Map<string, Explainer | undefined>();

  constructor(
    readonly inference: InferenceService,
    readonly cache: PredictionCache,
    readonly defaultModel: string,
    private readonly explainerFor: (model: LoadedModel) => Explainer | undefined,
    private fixedAsOf?: Date,
    /** Worker threads for TreeSHAP and linear explanations; without one they run on the event loop in slices. */
    readonly explainPool?: ExplanationPool,
  ) {}

  /** Has the explanation workers build the served models' explainers now (the server does this after start-up). */
  async warmExplanations(): Promise<unknown[]> {
    if (!this.explainPool) return [];
    const models = this.inference.registry.all().flatMap((model) => {
      const explainer = this.explainerOf(model);
      return explainer ? [{ identity: model.identity, onnxBytes: model.onnxBytes, method: explainer.method, nFeatures: explainer.nFeatures }] : [];
    });
    return this.explainPool.warm(models);
  }

  /** Shutdown: the explanation workers and the inference thread finish their tasks and stop; then the models close. */
  async close(): Promise<void> {
    await this.explainPool?.close();
    await this.inference.close();
    await this.inference.registry.close();
  }

  /** Re-reads the model repository and promotions now (set by the model lifecycle; a no-op without one). */
  syncModels: () => Promise<void> = async () => {};

  /** SCORING_AS_OF=data-end is resolved against the database after start-up. */
  setFixedAsOf(asOf: Date | undefined): void {
    this.fixedAsOf = asOf;
  }

  private explainerOf(model: LoadedModel): Explainer | undefined {
    if (!this.explainers.has(model.identity)) this.explainers.set(model.identity, this.explainerFor(model));
    return this.explainers.get(model.identity);
  }

  /**
   * The scoring time: the argument, else SCORING_AS_OF, else the end of the current UTC day — so
   * that every request of a day scores the same instant (reproducible, and cacheable per day).
   */
  asOf(requested?: Date | null, now = Date.now()): Date {
    if (requested) return requested;
    if (this.fixedAsOf) return this.fixedAsOf;
    return endOfUtcDay(now);
  }

  /** A model's promoted version (default: DEFAULT_MODEL), or the version asked for. */
  model(name?: string | null, version?: string | null): LoadedModel {
    return this.inference.model(name ?? this.defaultModel, version);
  }

  /**
   * The card's recalibration and class rule (src/scoring/decision.ts) on a model's ONNX output:
   * live predictions, stored scores and batch scoring all decide with this.
   */
  decide(model: LoadedModel, raw: Float32Array): Scored {
    const { classIndex, probabilities } = decide(model, raw);
    return { probabilities, segment: classIndex };
  }

  /** Batched inference and the class rule for feature rows, in order (batch scoring's path). */
  async score(model: LoadedModel, rows: ModelRow[]): Promise<Scored[]> {
    if (rows.length === 0) return [];
    const raw = await this.inference.predict(model, rows);
    return raw.map((p) => this.decide(model, p));
  }

  /**
   * The live path for a batch of customers at one scoring time: cached results first, then one
   * feature load and one inference call for the rest (cached afterwards). Customers that do not
   * exist are absent from the map.
   */
  async scoreCustomers(model: LoadedModel, ids: readonly string[], asOf: Date, features: FeatureSource): Promise<Map<string, Scored>> {
    const asOfMs = asOf.getTime();
    const result = new Map<string, Scored>();
    const misses: string[] = [];
    for (const id of ids) {
      const hit = this.cache.get(id, model.identity, asOfMs);
      if (hit) result.set(id, this.decide(model, hit.probabilities));
      else misses.push(id);
    }
    if (misses.length > 0) {
      const rows = await features(misses);
      const known = misses.filter((_, i) => rows[i] !== null);
      const present = rows.filter((r) => r !== null);
      const raw = present.length ? await this.inference.predict(model, present) : [];
      known.forEach((id, i) => {
        // The cache keeps the ONNX output; the rule is applied on the way out (it is cheap).
        this.cache.set(id, model.identity, asOfMs, { probabilities: raw[i] });
        result.set(id, this.decide(model, raw[i]));
      });
    }
    return result;
  }

  /** Explanations for a batch of customers at one scoring time; customers that do not exist are absent. */
  async explainCustomers(model: LoadedModel, ids: readonly string[], asOf: Date, features: FeatureSource): Promise<Map<string, Explained>> {
    const rows = await features(ids);
    const known = ids.filter((_, i) => rows[i] !== null);
    const explained = await this.explain(model, rows.filter((r) => r !== null), asOf);
    return new Map(known.map((id, i) => [id, explained[i]]));
  }

  methodOf(model: LoadedModel): string {
    return this.explainerOf(model)?.method ?? (model.layout.sequence ? 'occlusion' : 'none');
  }

  /** Explanations for rows of one model, in order. */
  async explain(model: LoadedModel, rows: ModelRow[], asOf: Date): Promise<Explained[]> {
    const explainer = this.explainerOf(model);
    const currency = currencyOf(model.card); // amounts are stated in the currency the model was trained on
    if (explainer && this.explainPool) {
      // In the worker pool (EXPLAIN_WORKERS): the event loop only packs rows and reads the results,
      // and phrases the inputs in slices between turns of the event loop.
      const attributions = await this.explainPool.explain(model, explainer.method, explainer.nFeatures, rows.map((r) => r.features));
      const out: Explained[] = [];
      for (let i = 0; i < rows.length; i++) {
        if (i > 0 && i % PHRASE_SLICE === 0) await nextTurn();
        out.push({ method: explainer.method, attribution: attributions[i], inputs: featureInputs(model.featureNames, rows[i].features, currency) });
      }
      return out;
    }
    if (explainer) {
      // EXPLAIN_WORKERS=0: on the event loop, in slices of EXPLAIN_SLICE rows with a turn of the
      // event loop between them, so the server keeps answering meanwhile.
      const out: Explained[] = [];
      for (let i = 0; i < rows.length; i += EXPLAIN_SLICE) {
        if (i > 0) await nextTurn();
        const slice = rows.slice(i, i + EXPLAIN_SLICE);
        const attributions = explainer.explain(slice.map((r) => r.features));
        attributions.forEach((attribution, j) =>
          out.push({ method: explainer.method, attribution, inputs: featureInputs(model.featureNames, slice[j].features, currency) }),
        );
      }
      return out;
    }
    if (model.layout.sequence) return this.explainByOcclusion(model, rows, asOf);
    throw new Error(`Model ${model.name} has no explanation method`);
  }

  /**
   * Leave-one-order-out occlusion for sequence models. The inference runs on ONNX Runtime's threads;
   * customers go in groups of at most OCCLUSION_ROWS variants (1 + sequence length each; about one
   * session.run), so a page never holds all of its variants and their outputs at once, and other
   * requests' rows get their turn between the groups.
   */
  private async explainByOcclusion(model: LoadedModel, rows: ModelRow[], asOf: Date): Promise<Explained[]> {
    const out: Explained[] = [];
    let start = 0;
    while (start < rows.length) {
      let end = start;
      let variants = 0;
      while (end < rows.length && (end === start || variants + 1 + (rows[end].sequenceLength ?? 0) <= OCCLUSION_ROWS)) {
        variants += 1 + (rows[end].sequenceLength ?? 0);
        end++;
      }
      out.push(...(await this.occlude(model, rows.slice(start, end), asOf)));
      start = end;
    }
    return out;
  }

  /** Occlusion for a few customers: one inference call for all their variants. */
  private async occlude(model: LoadedModel, rows: ModelRow[], asOf: Date): Promise<Explained[]> {
    const tokenWidth = model.layout.sequence!.tokenWidth;
    const currency = currencyOf(model.card);
    const batch: ModelRow[] = [];
    for (const row of rows) {
      batch.push(row);
      for (let j = 0; j < (row.sequenceLength ?? 0); j++) batch.push({ ...row, maskedPositions: [j] });
    }
    const probabilities = await this.inference.predict(model, batch);
    const classes = model.classes.length;
    const out: Explained[] = [];
    let at = 0;
    for (const row of rows) {
      const length = row.sequenceLength ?? 0;
      const full = probabilities[at];
      const margins = Array.from(full, (p) => Math.log(p));
      const contributions = Array.from({ length: classes }, () => new Float64Array(length));
      for (let j = 0; j < length; j++) {
        const without = probabilities[at + 1 + j];
        for (let k = 0; k < classes; k++) contributions[k][j] = margins[k] - Math.log(without[k]);
      }
      const base = margins.map((m, k) => m - contributions[k].reduce((s, c) => s + c, 0));
      const inputs: ExplainedInput[] = [];
      for (let j = 0; j < length; j++) {
        const token = row.sequence!.subarray(j * tokenWidth, (j + 1) * tokenWidth);
        // Token layout (features.json "sequence"): amount, item_count, gap_days, days_before_t, day_of_week.
        const day = new Date(asOf.getTime() - token[3] * DAY_MS).toISOString().slice(0, 10);
        const cents = Math.round(token[0] * 100); // the token is float32; the amount was exact cents
        const known = !row.sequenceUnknownAmounts?.includes(j);
        const amount = known ? plainMoney(cents / 100, currency) : 'amount unknown';
        inputs.push({
          feature: `order[${j}]`,
          label: `Order of ${day} (${amount})`,
          value: known ? cents / 100 : null,
          display: known ? amount : null,
          phrase: known ? `there was an order of ${amount} on ${day}` : `there was an order on ${day}`,
          sources: SEQUENCE_SOURCES,
          withheldLabel: `Order ${j + 1} (oldest first)`,
          withheldPhrase: withheldClause(`one of the orders`),
          withheld: false,
          perRecord: true,
        });
      }
      out.push({ method: 'occlusion', attribution: { base, contributions, margins }, inputs });
      at += 1 + length;
    }
    return out;
  }
}
