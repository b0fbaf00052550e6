// Scoring = features (from the database) → model → probabilities and explanations. Shared by the
// GraphQL loaders (and batch scoring). Holds the process-wide pieces: inference service,
// prediction cache, explainers, and the default model and scoring time.
import type { LoadedModel } from '../inference/registry.js';
import type { InferenceService } from '../inference/service.js';
import type { ModelRow } from '../inference/tensors.js';
import type { PredictionCache } from './cache.js';
import type { Attribution, Explainer } from '../inference/explain/index.js';
import { SEQUENCE_SOURCES } from '../features/spec.js';
import { featureInputs, withheldClause, type ExplainedInput } from './explanation.js';
import { endOfUtcDay } from './as-of.js';

export interface Explained {
  method: string;
  attribution: Attribution;
  inputs: ExplainedInput[];
}

const DAY_MS = 86_400_000;

/** Rows explained between two turns of the event loop (≈ 50–100 ms of TreeSHAP on a busy core). */
const EXPLAIN_SLICE = 32;
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

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
  ) {}

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

  methodOf(model: LoadedModel): string {
    return this.explainerOf(model)?.method ?? (model.layout.sequence ? 'occlusion' : 'none');
  }

  /** Explanations for rows of one model, in order. */
  async explain(model: LoadedModel, rows: ModelRow[], asOf: Date): Promise<Explained[]> {
    const explainer = this.explainerOf(model);
    if (explainer) {
      // TreeSHAP runs on the event loop (≈ 2 ms per customer on these machines): a page of 1000
      // in one go blocked every other request for seconds. Slices of EXPLAIN_SLICE rows with a
      // turn of the event loop between them keep the server answering meanwhile.
      const out: Explained[] = [];
      for (let i = 0; i < rows.length; i += EXPLAIN_SLICE) {
        if (i > 0) await yieldToEventLoop();
        const slice = rows.slice(i, i + EXPLAIN_SLICE);
        const attributions = explainer.explain(slice.map((r) => r.features));
        attributions.forEach((attribution, j) =>
          out.push({ method: explainer.method, attribution, inputs: featureInputs(model.featureNames, slice[j].features) }),
        );
      }
      return out;
    }
    if (model.layout.sequence) return this.explainByOcclusion(model, rows, asOf);
    throw new Error(`Model ${model.name} has no explanation method`);
  }

  /** Leave-one-order-out occlusion for sequence models: one inference call for all variants. */
  private async explainByOcclusion(model: LoadedModel, rows: ModelRow[], asOf: Date): Promise<Explained[]> {
    const tokenWidth = model.layout.sequence!.tokenWidth;
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
        const amount = `$${(cents / 100).toFixed(2)}`;
        inputs.push({
          feature: `order[${j}]`,
          label: `Order of ${day} (${amount})`,
          value: cents / 100,
          display: amount,
          phrase: `there was an order of ${amount} on ${day}`,
          sources: SEQUENCE_SOURCES,
          withheldLabel: `Order ${j + 1} (oldest first)`,
          withheldPhrase: withheldClause(`one of the orders`),
          withheld: false,
        });
      }
      out.push({ method: 'occlusion', attribution: { base, contributions, margins }, inputs });
      at += 1 + length;
    }
    return out;
  }
}
