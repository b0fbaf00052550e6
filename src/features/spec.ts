// The feature spec this service implements: python-export/features.json (spec_version 1.1.0), as
// TypeScript constants. compute.ts fills vectors in exactly this order; the model registry calls
// assertSpecMatches() with each model's features.json so a model trained on a different feature
// list or sequence definition is refused at start-up instead of silently receiving wrong columns.

/**
 * Version of python-export/features.json this implementation follows. 1.1.0 added
 * conventions.unknown_amount (money features NaN where an order's amount is unknown): a minor bump,
 * since data with every amount known gives exactly 1.0.0's values, and 1.0.0 models never saw such
 * orders.
 */
export const FEATURE_SPEC_VERSION = '1.1.0';

export const DAY_MS = 86_400_000;

/** Window lengths in days, in the order their features appear. */
export const WINDOWS_DAYS = [30, 90, 180, 365] as const;

/**
 * The customer data a feature is computed from. A feature's value reveals its sources, so whoever
 * presents it (an explanation's `value`, label or summary) must show it only to callers who may
 * read every one of them (src/graphql/auth/derived-data.ts maps sources to the field policy).
 *  - `orders`: the customer's paid orders (times, amounts, items);
 *  - `createdAt`: when the account was created;
 *  - `birthDate`, `gender`: the customer's declared demographics.
 */
export const FEATURE_SOURCES = ['orders', 'createdAt', 'birthDate', 'gender'] as const;
export type FeatureSource = (typeof FEATURE_SOURCES)[number];

export interface FeatureDefinition {
  readonly name: string;
  /** Required and non-empty: a feature that forgot its sources would leak them. */
  readonly sources: readonly [FeatureSource, ...FeatureSource[]];
}

const fromOrders = ['orders'] as const;

/** The 27 tabular features, in model input order, each with the data it is computed from. */
export const FEATURES = [
  { name: 'recency_days', sources: fromOrders },
  { name: 'days_since_first_order', sources: fromOrders },
  { name: 'tenure_days', sources: ['createdAt'] },
  { name: 'orders_30d', sources: fromOrders },
  { name: 'orders_90d', sources: fromOrders },
  { name: 'orders_180d', sources: fromOrders },
  { name: 'orders_365d', sources: fromOrders },
  { name: 'orders_all', sources: fromOrders },
  { name: 'purchase_days_30d', sources: fromOrders },
  { name: 'purchase_days_90d', sources: fromOrders },
  { name: 'purchase_days_180d', sources: fromOrders },
  { name: 'purchase_days_365d', sources: fromOrders },
  { name: 'purchase_days_all', sources: fromOrders },
  { name: 'spend_30d', sources: fromOrders },
  { name: 'spend_90d', sources: fromOrders },
  { name: 'spend_180d', sources: fromOrders },
  { name: 'spend_365d', sources: fromOrders },
  { name: 'spend_all', sources: fromOrders },
  { name: 'monetary_mean', sources: fromOrders },
  { name: 'monetary_max', sources: fromOrders },
  { name: 'items_all', sources: fromOrders },
  { name: 'ipt_mean_days', sources: fromOrders },
  { name: 'ipt_std_days', sources: fromOrders },
  { name: 'spend_trend_90d', sources: fromOrders },
  { name: 'orders_trend_90d', sources: fromOrders },
  { name: 'age_years', sources: ['birthDate'] },
  { name: 'is_female', sources: ['gender'] },
] as const satisfies readonly FeatureDefinition[];

/** The 27 tabular features' names, in model input order. */
export const FEATURE_NAMES = FEATURES.map((f) => f.name) as readonly (typeof FEATURES)[number]['name'][];

export type FeatureName = (typeof FEATURES)[number]['name'];

export const FEATURE_COUNT = FEATURE_NAMES.length;

/** Column of each feature in a feature vector. */
export const FEATURE_INDEX: Readonly<Record<FeatureName, number>> = Object.freeze(
  Object.fromEntries(FEATURE_NAMES.map((name, i) => [name, i])) as Record<FeatureName, number>,
);

/** The Transformer's per-order token features (raw values; the graph applies its own transforms). */
export const SEQUENCE_TOKEN_FEATURES = ['amount', 'item_count', 'gap_days', 'days_before_t', 'day_of_week'] as const;

export type SequenceTokenFeature = (typeof SEQUENCE_TOKEN_FEATURES)[number];

/** The sequence model's tokens are the customer's orders. */
export const SEQUENCE_SOURCES: FeatureDefinition['sources'] = ['orders'];

/** Sources of a tabular feature by name; every source (fail closed) for a name not in the spec. */
export function featureSources(name: string): readonly FeatureSource[] {
  return FEATURES.find((f) => f.name === name)?.sources ?? FEATURE_SOURCES;
}

/** Values per token. */
export const SEQUENCE_TOKEN_WIDTH = SEQUENCE_TOKEN_FEATURES.length;

/** Sequence length: the last MAX_ORDERS counted orders, oldest first, zero padded. */
export const SEQUENCE_MAX_ORDERS = 32;

export interface SpecCheckOptions {
  /** Named in the error message, e.g. "models/xgboost-segment/features.json". */
  source?: string;
  /** The model consumes the order sequence (Transformer): a missing `sequence` section is an error. */
  requireSequence?: boolean;
}

const show = (v: unknown) => JSON.stringify(v);

/**
 * Throws an Error naming the first difference between a model's features.json and this
 * implementation: spec major version, feature count/names/order, and (when present or required)
 * the sequence's max_orders and token feature names/order. Descriptions are not compared; a change
 * in meaning must bump the spec's major version.
 */
export function assertSpecMatches(specJson: unknown, options: SpecCheckOptions = {}): void {
  const where = options.source ?? 'features spec';
  const fail = (what: string): never => {
    throw new Error(`${where}: ${what} (this service implements feature spec ${FEATURE_SPEC_VERSION})`);
  };
  if (specJson === null || typeof specJson !== 'object' || Array.isArray(specJson)) fail('not a JSON object');
  const spec = specJson as Record<string, unknown>;

  const version = spec.spec_version;
  if (typeof version !== 'string') fail('spec_version is missing');
  const major = (v: string) => v.split('.')[0];
  if (major(version as string) !== major(FEATURE_SPEC_VERSION)) {
    fail(`spec_version ${show(version)} has a different major version`);
  }

  const features = spec.features;
  if (!Array.isArray(features)) fail('"features" is not an array');
  const names = (features as unknown[]).map((f) =>
    f !== null && typeof f === 'object' ? (f as Record<string, unknown>).name : f,
  );
  const n = Math.max(names.length, FEATURE_NAMES.length);
  for (let i = 0; i < n; i++) {
    if (names[i] !== FEATURE_NAMES[i]) {
      if (i >= names.length) fail(`feature ${i} is missing: expected ${show(FEATURE_NAMES[i])} (model has ${names.length} features, expected ${FEATURE_COUNT})`);
      if (i >= FEATURE_COUNT) fail(`feature ${i} ${show(names[i])} is not computed here (model has ${names.length} features, expected ${FEATURE_COUNT})`);
      fail(`feature ${i} is ${show(names[i])}, expected ${show(FEATURE_NAMES[i])}`);
    }
  }

  const sequence = spec.sequence;
  if (sequence === undefined) {
    if (options.requireSequence) fail('"sequence" is missing');
    return;
  }
  if (sequence === null || typeof sequence !== 'object') fail('"sequence" is not an object');
  const seq = sequence as Record<string, unknown>;
  if (seq.max_orders !== SEQUENCE_MAX_ORDERS) fail(`sequence.max_orders is ${show(seq.max_orders)}, expected ${SEQUENCE_MAX_ORDERS}`);
  const tokens = seq.token_features;
  if (!Array.isArray(tokens)) fail('sequence.token_features is not an array');
  const tokenNames = (tokens as unknown[]).map((t) =>
    t !== null && typeof t === 'object' ? (t as Record<string, unknown>).name : t,
  );
  const m = Math.max(tokenNames.length, SEQUENCE_TOKEN_WIDTH);
  for (let i = 0; i < m; i++) {
    if (tokenNames[i] !== SEQUENCE_TOKEN_FEATURES[i]) {
      fail(
        i >= tokenNames.length
          ? `sequence token feature ${i} is missing: expected ${show(SEQUENCE_TOKEN_FEATURES[i])}`
          : i >= SEQUENCE_TOKEN_WIDTH
            ? `sequence token feature ${i} ${show(tokenNames[i])} is not computed here`
            : `sequence token feature ${i} is ${show(tokenNames[i])}, expected ${show(SEQUENCE_TOKEN_FEATURES[i])}`,
      );
    }
  }
}
