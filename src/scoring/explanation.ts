// From attributions (per class: base, one contribution per input, margin) to what a dashboard
// shows: the top contributions with readable labels, the sum of the rest, and one sentence.
// Numbers are exact in `value` and rounded for people in `display`, labels and the summary.
// Every input knows the customer data it comes from (`sources`) and how to present itself without
// its value (`withheldLabel`, `withheldPhrase`), so the GraphQL layer can withhold what a caller's
// role may not read (src/graphql/auth/derived-data.ts) before anything is phrased.
import { featureSources, type FeatureSource } from '../features/spec.js';
import type { Attribution } from '../inference/explain/index.js';
import { plainMoney as money } from '../models/card.js';

/** What each contribution is about: a model feature, or one of the customer's orders. */
export interface ExplainedInput {
  feature: string;
  label: string;
  /** The exact input value (null when missing or withheld). */
  value: number | null;
  /** The value for people, rounded with its unit ("4023 days", "$887.09"); null when missing or withheld. */
  display: string | null;
  /** Clause for the summary, e.g. "the last order was 212 days ago". */
  phrase: string;
  /** The customer data the value is derived from. */
  sources: readonly FeatureSource[];
  /** Label and clause used instead when the value is withheld: they state no value. */
  withheldLabel: string;
  withheldPhrase: string;
  /** True once withheld for the caller. */
  withheld: boolean;
  /**
   * One input per record of the customer (occlusion: one per order). How many there are is itself
   * derived from the records, so a withheld one is not listed at all: its contribution goes into
   * restContribution, and the list shows nothing about how many there were.
   */
  perRecord?: boolean;
}

export interface PresentedExplanation {
  segment: string;
  baseValue: number;
  margin: number;
  /** Ordered by magnitude. */
  contributions: (ExplainedInput & { contribution: number })[];
  restContribution: number;
  summary: string;
}

/** How likely the explained segment is, for the summary's opening words. */
export interface SegmentOutlook {
  /** The model's probability of the explained segment. */
  probability: number;
  /** Whether it is the predicted segment (the card's decision rule: not always the most probable one). */
  predicted: boolean;
  /** The most probable segment and its probability when that is another segment; null when the explained one is the most probable. */
  moreProbable: { segment: string; probability: number } | null;
}

/** A feature name's regex match, parsed once per name (explaining a page phrases 27 inputs per row). */
function memoMatch(re: RegExp): (name: string) => RegExpExecArray | null {
  const seen = new Map<string, RegExpExecArray | null>();
  return (name) => {
    let m = seen.get(name);
    if (m === undefined) {
      m = re.exec(name);
      seen.set(name, m);
    }
    return m;
  };
}
const windowDays = memoMatch(/^(orders|purchase_days|spend)_(\d+)d$/);
const windowAny = memoMatch(/^(orders|purchase_days|spend)_(\d+d|all)$/);

const round = (v: number) => String(Math.round(v));
const plural = (n: number, one: string, many: string) => `${round(n)} ${Math.round(n) === 1 ? one : many}`;

export const featureLabels: Record<string, string> = {
  recency_days: 'Days since the last order',
  days_since_first_order: 'Days since the first order',
  tenure_days: 'Account age (days)',
  orders_all: 'Orders, all time',
  purchase_days_all: 'Purchase days, all time',
  spend_all: 'Total spend',
  monetary_mean: 'Average order value',
  monetary_max: 'Largest order',
  items_all: 'Items bought',
  ipt_mean_days: 'Mean days between purchases',
  ipt_std_days: 'Variability of days between purchases',
  spend_trend_90d: 'Spend, last 90 days minus the 90 before',
  orders_trend_90d: 'Orders, last 90 days minus the 90 before',
  age_years: 'Age (years)',
  is_female: 'Gender is female',
};

export function featureLabel(name: string): string {
  const windowed = windowDays(name);
  if (windowed) {
    const what = { orders: 'Orders', purchase_days: 'Purchase days', spend: 'Spend' }[windowed[1]];
    return `${what}, last ${windowed[2]} days`;
  }
  return featureLabels[name] ?? name;
}

const days = (v: number) => plural(v, 'day', 'days');
const signedMoney = (v: number, currency: string) => (v < 0 ? `−${money(-v, currency)}` : `+${money(v, currency)}`);
const signed = (v: number) => (Math.round(v) < 0 ? `−${round(-v)}` : `+${round(v)}`);
/** Whole years, as ages are said (45.9 years old is 45). */
const years = (v: number) => `${Math.floor(v)} ${Math.floor(v) === 1 ? 'year' : 'years'}`;

/**
 * The value for people: rounded, with its unit. Never float noise such as 4022.9999999884258.
 * Amounts are in `currency`, the model card's (the currency of the amounts it was trained on).
 */
export function featureDisplay(name: string, v: number, currency: string): string | null {
  if (Number.isNaN(v)) return null;
  const windowed = windowAny(name);
  if (windowed) {
    if (windowed[1] === 'orders') return plural(v, 'order', 'orders');
    if (windowed[1] === 'purchase_days') return days(v);
    return money(v, currency);
  }
  switch (name) {
    case 'recency_days':
    case 'days_since_first_order':
    case 'tenure_days':
    case 'ipt_mean_days':
    case 'ipt_std_days':
      return days(v);
    case 'monetary_mean':
    case 'monetary_max':
      return money(v, currency);
    case 'items_all':
      return plural(v, 'item', 'items');
    case 'spend_trend_90d':
      return signedMoney(v, currency);
    case 'orders_trend_90d':
      return signed(v);
    case 'age_years':
      return years(v);
    case 'is_female':
      return v === 1 ? 'female' : v === 0 ? 'male' : null;
    default:
      return String(Number(v.toFixed(2)));
  }
}

/** A clause for the summary sentence ("… mainly because <clause> and <clause>."). */
export function featurePhrase(name: string, v: number, currency: string): string {
  const missing = Number.isNaN(v);
  const windowed = windowDays(name);
  if (windowed) {
    const window = windowed[2];
    if (windowed[1] === 'orders') return `there ${Math.round(v) === 1 ? 'was' : 'were'} ${plural(v, 'order', 'orders')} in the last ${window} days`;
    if (windowed[1] === 'purchase_days') return `the customer bought on ${plural(v, 'day', 'days')} of the last ${window}`;
    return `spend in the last ${window} days was ${money(v, currency)}`;
  }
  switch (name) {
    case 'recency_days':
    case 'days_since_first_order':
      if (missing) return 'there is no order yet';
      return `the ${name === 'recency_days' ? 'last' : 'first'} order was ${days(v)} ago`;
    case 'tenure_days':
      return missing ? 'the signup date is unknown' : `the account is ${days(v)} old`;
    case 'orders_all':
      return `there ${Math.round(v) === 1 ? 'was' : 'were'} ${plural(v, 'order', 'orders')} in total`;
    case 'purchase_days_all':
      return `the customer bought on ${plural(v, 'day', 'days')} in total`;
    case 'spend_all':
      return `total spend is ${money(v, currency)}`;
    case 'monetary_mean':
      return missing ? 'there is no order yet' : `the average order is ${money(v, currency)}`;
    case 'monetary_max':
      return missing ? 'there is no order yet' : `the largest order was ${money(v, currency)}`;
    case 'items_all':
      return `${plural(v, 'item was', 'items were')} bought`;
    case 'ipt_mean_days':
      return missing ? 'there are fewer than two purchase days' : `purchases come ${days(v)} apart on average`;
    case 'ipt_std_days':
      return missing ? 'there are too few purchases to show a rhythm' : `gaps between purchases vary by ${days(v)}`;
    case 'spend_trend_90d':
      return v >= 0 ? `spend rose by ${money(v, currency)} against the previous 90 days` : `spend fell by ${money(-v, currency)} against the previous 90 days`;
    case 'orders_trend_90d':
      return v >= 0 ? `orders rose by ${round(v)} against the previous 90 days` : `orders fell by ${round(-v)} against the previous 90 days`;
    case 'age_years':
      return missing ? 'the age is unknown' : `the customer is ${years(v)} old`;
    case 'is_female':
      return missing ? 'the gender is unknown' : `the customer is ${v === 1 ? 'female' : 'male'}`;
    default:
      return missing ? `${featureLabel(name)} is unknown` : `${featureLabel(name)} is ${featureDisplay(name, v, currency)}`;
  }
}

/** What a feature is about, as a noun phrase that states no value (for withheld values). */
const featureNouns: Record<string, string> = {
  recency_days: 'the time since the last order',
  days_since_first_order: 'the time since the first order',
  tenure_days: "the account's age",
  age_years: "the customer's age",
  is_female: "the customer's gender",
  orders_all: 'the number of orders',
  purchase_days_all: 'the number of purchase days',
  spend_all: 'the total spend',
  monetary_mean: 'the average order value',
  monetary_max: 'the largest order',
  items_all: 'the number of items bought',
  ipt_mean_days: 'the time between purchases',
  ipt_std_days: 'the regularity of purchases',
  spend_trend_90d: 'the change in spend over the last 90 days',
  orders_trend_90d: 'the change in orders over the last 90 days',
};

export function featureNoun(name: string): string {
  const windowed = windowDays(name);
  if (windowed) {
    const what = { orders: 'the number of orders', purchase_days: 'the number of purchase days', spend: 'spend' }[windowed[1]];
    return `${what} in the last ${windowed[2]} days`;
  }
  const label = featureLabel(name);
  return featureNouns[name] ?? `the ${label.charAt(0).toLowerCase()}${label.slice(1)}`;
}

/** A clause that names what weighs in without stating its value. */
export const withheldClause = (noun: string) => `${noun} plays a part (not shown to this credential)`;

/** What an input says that does not depend on its value, built once per feature name. */
const fixedParts = new Map<string, { label: string; sources: readonly FeatureSource[]; withheldPhrase: string }>();

/** The inputs of one row, for people; amounts in `currency` (currencyOf the model's card). */
export function featureInputs(names: readonly string[], values: Float64Array, currency: string): ExplainedInput[] {
  return names.map((name, i) => {
    let fixed = fixedParts.get(name);
    if (!fixed) {
      fixed = { label: featureLabel(name), sources: featureSources(name), withheldPhrase: withheldClause(featureNoun(name)) };
      fixedParts.set(name, fixed);
    }
    return {
      feature: name,
      label: fixed.label,
      value: Number.isNaN(values[i]) ? null : values[i],
      display: featureDisplay(name, values[i], currency),
      phrase: featurePhrase(name, values[i], currency),
      sources: fixed.sources,
      withheldLabel: fixed.label,
      withheldPhrase: fixed.withheldPhrase,
      withheld: false,
    };
  });
}

/**
 * The inputs as a caller may see them: an input whose sources are not all readable keeps its
 * feature name and contribution but loses its value, display text and any label or clause stating
 * the value. (Whether a value is missing is withheld too.)
 */
export function withholdUnreadable(inputs: readonly ExplainedInput[], readable: (sources: readonly FeatureSource[]) => boolean): ExplainedInput[] {
  return inputs.map((input) =>
    input.withheld || readable(input.sources)
      ? input
      : { ...input, value: null, display: null, label: input.withheldLabel, phrase: input.withheldPhrase, withheld: true },
  );
}

/** A probability for people: whole percent, never "0 %" or "100 %" for a model's estimate. */
export function percent(p: number): string {
  if (p < 0.005) return '<1 %';
  if (p > 0.995) return '>99 %';
  return `${Math.round(p * 100)} %`;
}

export const segmentLabel = (key: string) => key.charAt(0).toUpperCase() + key.slice(1).replace(/_/g, ' ');

/**
 * The top contributions and one true sentence. The sentence starts with how likely the explained
 * segment is — "High value is likely (96 %)", "Active is the most likely segment (45 %)", "Lapsing
 * is unlikely (2 %)", "Active is less likely than lapsing (33 % against 42 %)" — and names the two
 * inputs that weigh most in that direction: those pushing towards a likely segment, those pushing
 * away from a less likely one. The card's decision rule can predict a segment that is not the most
 * probable one (class weights favour rarer segments); the sentence then says so, rather than
 * calling it the most likely.
 */
export function presentExplanation(
  attribution: Attribution,
  classIndex: number,
  segment: string,
  inputs: readonly ExplainedInput[],
  top: number,
  outlook: SegmentOutlook,
): PresentedExplanation {
  const contributions = attribution.contributions[classIndex];
  // Ranked by magnitude (a stable sort of indices: ties keep the inputs' order); only the shown
  // inputs are copied, since a page explains 1000 rows of up to 32 inputs each. Withheld per-record
  // inputs are never listed (their number is derived data) and count in the rest.
  let rest = 0;
  const listed: number[] = [];
  for (let i = 0; i < inputs.length; i++) {
    if (inputs[i].withheld && inputs[i].perRecord) rest += contributions[i];
    else listed.push(i);
  }
  const order = listed.sort((a, b) => Math.abs(contributions[b]) - Math.abs(contributions[a]));
  const nShown = Math.min(order.length, Math.max(0, top));
  const shown = order.slice(0, nShown).map((i) => ({ ...inputs[i], contribution: contributions[i] }));
  for (let r = nShown; r < order.length; r++) rest += contributions[order[r]];
  const more = outlook.moreProbable;
  // Towards the segment when it is likely, the most probable, or predicted; else away from it.
  const towards = outlook.predicted || outlook.probability >= 0.5 || !more;
  const drivers: ExplainedInput[] = [];
  for (let r = 0; r < order.length && drivers.length < 2; r++) {
    const c = contributions[order[r]];
    if (towards ? c > 0 : c < 0) drivers.push(inputs[order[r]]);
  }
  const name = segmentLabel(segment);
  const p = percent(outlook.probability);
  const against = more ? `${p} against ${percent(more.probability)}` : '';
  const opening =
    outlook.probability >= 0.5
      ? `${name} is likely (${p})`
      : !more
        ? `${name} is the most likely segment (${p})`
        : outlook.predicted
          ? `${name} is the predicted segment, though ${segmentLabel(more.segment).toLowerCase()} is more probable (${against}; the decision rule weighs ${name.toLowerCase()} up)`
          : outlook.probability < 0.2
            ? `${name} is unlikely (${p})`
            : `${name} is less likely than ${segmentLabel(more.segment).toLowerCase()} (${against})`;
  const summary = drivers.length ? `${opening}, mainly because ${drivers.map((d) => d.phrase).join(' and ')}.` : `${opening}, with no single input standing out.`;
  return {
    segment,
    baseValue: attribution.base[classIndex],
    margin: attribution.margins[classIndex],
    contributions: shown,
    restContribution: rest,
    summary,
  };
}
