// What a model card says, in the words the API shows: each class's definition with the horizon and
// threshold of that version (the shipped cards state them symbolically, "(T, T+H]").
import type { ModelCard } from '../inference/registry.js';

export function horizonDays(card: ModelCard): number | null {
  const h = (card.task as { horizon_days?: unknown } | undefined)?.horizon_days;
  return typeof h === 'number' ? h : null;
}

/** The currency of the training data's amounts (USD when the card does not say). */
export function currencyOf(card: ModelCard): string {
  const c = (card.training_data as { currency?: unknown } | undefined)?.currency ?? (card.high_value_threshold as { currency?: unknown } | undefined)?.currency;
  return typeof c === 'string' && /^[A-Z]{3}$/.test(c) ? c : 'USD';
}

const symbols: Record<string, string> = { USD: '$', EUR: '€', GBP: '£', JPY: '¥' };

const withSymbol = (amount: string, currency: string) => (symbols[currency] ? `${symbols[currency]}${amount}` : `${amount} ${currency}`);

export function money(value: number, currency: string): string {
  return withSymbol(value.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 }), currency);
}

/** The same without thousands separators, as explanations state amounts: "$9001.50", "€88.10", "88.10 CHF". */
export function plainMoney(value: number, currency: string): string {
  return withSymbol(value.toFixed(2), currency);
}

/**
 * One sentence per class, e.g. high_value: "spends at least $201.58 in the next 90 days". A card
 * whose threshold is a number of orders (logs without amounts) says so.
 */
export function classDefinition(card: ModelCard, key: string, fallback: string): string {
  const h = horizonDays(card);
  const t = card.high_value_threshold as { value?: unknown; unit?: unknown } | undefined;
  if (h === null || typeof t?.value !== 'number') return fallback;
  const next = `in the next ${h} days`;
  const byOrders = t.unit === 'orders';
  const threshold = byOrders ? `${Math.ceil(t.value)} paid orders` : money(Math.round(t.value * 100) / 100, currencyOf(card));
  switch (key) {
    case 'lapsing':
      return `places no paid order ${next}`;
    case 'active':
      return byOrders
        ? `places at least one but fewer than ${threshold} ${next}`
        : `places at least one paid order ${next} and spends less than ${threshold}`;
    case 'high_value':
      return byOrders ? `places at least ${threshold} ${next}` : `spends at least ${threshold} ${next}`;
    default:
      return fallback;
  }
}
