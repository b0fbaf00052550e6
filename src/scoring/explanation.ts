// From attributions (per class: base, one contribution per input, margin) to what a dashboard
// shows: the top contributions with readable labels, the sum of the rest, and one sentence.
import type { Attribution } from '../inference/explain/index.js';

/** What each contribution is about: a model feature, or one of the customer's orders. */
export interface ExplainedInput {
  feature: string;
  label: string;
  value: number | null;
  /** Phrase for the summary, e.g. "the last order was 212 days ago". */
  phrase: string;
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

const money = (v: number) => `$${v.toFixed(2)}`;
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
  const windowed = /^(orders|purchase_days|spend)_(\d+)d$/.exec(name);
  if (windowed) {
    const what = { orders: 'Orders', purchase_days: 'Purchase days', spend: 'Spend' }[windowed[1]];
    return `${what}, last ${windowed[2]} days`;
  }
  return featureLabels[name] ?? name;
}

/** A clause for the summary sentence ("… mostly because <clause> and <clause>."). */
export function featurePhrase(name: string, v: number): string {
  const missing = Number.isNaN(v);
  const windowed = /^(orders|purchase_days|spend)_(\d+)d$/.exec(name);
  if (windowed) {
    const days = windowed[2];
    if (windowed[1] === 'orders') return `there ${Math.round(v) === 1 ? 'was' : 'were'} ${plural(v, 'order', 'orders')} in the last ${days} days`;
    if (windowed[1] === 'purchase_days') return `the customer bought on ${plural(v, 'day', 'days')} of the last ${days}`;
    return `spend in the last ${days} days was ${money(v)}`;
  }
  switch (name) {
    case 'recency_days':
    case 'days_since_first_order':
      if (missing) return 'there is no order yet';
      return `the ${name === 'recency_days' ? 'last' : 'first'} order was ${plural(v, 'day', 'days')} ago`;
    case 'tenure_days':
      return missing ? 'the signup date is unknown' : `the account is ${plural(v, 'day', 'days')} old`;
    case 'orders_all':
      return `there ${Math.round(v) === 1 ? 'was' : 'were'} ${plural(v, 'order', 'orders')} in total`;
    case 'purchase_days_all':
      return `the customer bought on ${plural(v, 'day', 'days')} in total`;
    case 'spend_all':
      return `total spend is ${money(v)}`;
    case 'monetary_mean':
      return missing ? 'there is no order yet' : `the average order is ${money(v)}`;
    case 'monetary_max':
      return missing ? 'there is no order yet' : `the largest order was ${money(v)}`;
    case 'items_all':
      return `${plural(v, 'item was', 'items were')} bought`;
    case 'ipt_mean_days':
      return missing ? 'there are fewer than two purchase days' : `purchases come ${plural(v, 'day', 'days')} apart on average`;
    case 'ipt_std_days':
      return missing ? 'there are too few purchases to show a rhythm' : `gaps between purchases vary by ${plural(v, 'day', 'days')}`;
    case 'spend_trend_90d':
      return v >= 0 ? `spend rose by ${money(v)} against the previous 90 days` : `spend fell by ${money(-v)} against the previous 90 days`;
    case 'orders_trend_90d':
      return v >= 0 ? `orders rose by ${round(v)} against the previous 90 days` : `orders fell by ${round(-v)} against the previous 90 days`;
    case 'age_years':
      return missing ? 'the age is unknown' : `the customer is ${round(v)} years old`;
    case 'is_female':
      return missing ? 'the gender is unknown' : `the customer is ${v === 1 ? 'female' : 'male'}`;
    default:
      return missing ? `${featureLabel(name)} is unknown` : `${featureLabel(name)} is ${v}`;
  }
}

export function featureInputs(names: readonly string[], values: Float64Array): ExplainedInput[] {
  return names.map((name, i) => ({
    feature: name,
    label: featureLabel(name),
    value: Number.isNaN(values[i]) ? null : values[i],
    phrase: featurePhrase(name, values[i]),
  }));
}

export const segmentLabel = (key: string) => key.charAt(0).toUpperCase() + key.slice(1).replace(/_/g, ' ');

export function presentExplanation(
  attribution: Attribution,
  classIndex: number,
  segment: string,
  inputs: readonly ExplainedInput[],
  top: number,
): PresentedExplanation {
  const contributions = attribution.contributions[classIndex];
  const ranked = inputs
    .map((input, i) => ({ ...input, contribution: contributions[i] }))
    .sort((a, b) => Math.abs(b.contribution) - Math.abs(a.contribution));
  const shown = ranked.slice(0, Math.max(0, top));
  const rest = ranked.slice(shown.length).reduce((s, c) => s + c.contribution, 0);
  const drivers = ranked.filter((c) => c.contribution > 0).slice(0, 2);
  const summary = drivers.length
    ? `${segmentLabel(segment)} mostly because ${drivers.map((d) => d.phrase).join(' and ')}.`
    : `${segmentLabel(segment)}, with no single input pushing towards it.`;
  return {
    segment,
    baseValue: attribution.base[classIndex],
    margin: attribution.margins[classIndex],
    contributions: shown,
    restContribution: rest,
    summary,
  };
}
