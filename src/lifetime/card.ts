// The `lifetime` section of a model card (python-export/segments/lifetime.py `lifetime_card`): the
// BG/NBD and Gamma-Gamma parameters fitted when that model version was trained, and what they were
// fitted on. A card without a valid section has no lifetime figures (the API answers null).
import type { ModelCard } from '../inference/registry.js';
import { currencyOf } from '../models/card.js';
import type { BgNbdParams, GammaGammaParams } from './btyd.js';

/** `Customer.lifetime(horizonDays)`: its default and its largest accepted value (also what the query cost assumes). */
export const DEFAULT_HORIZON_DAYS = 90;
export const MAX_HORIZON_DAYS = 3650;

export interface LifetimeParams {
  bgnbd: BgNbdParams;
  gammaGamma: GammaGammaParams;
  /** The time unit of the parameters, in days (7: weeks). */
  unitDays: number;
  currency: string;
  /** End of the calibration period (the training run's test cutoff). */
  calibrationEnd: Date | null;
  /** Training customers the parameters were fitted on. */
  customers: number | null;
}

const positive = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;

const parsed = new WeakMap<ModelCard, LifetimeParams | null>();

/** The card's lifetime parameters, or null when it has none (or they are unusable: q ≤ 1 has no mean spend). */
export function lifetimeParams(card: ModelCard): LifetimeParams | null {
  if (parsed.has(card)) return parsed.get(card)!;
  const s = card.lifetime as Record<string, unknown> | undefined;
  let result: LifetimeParams | null = null;
  if (s && typeof s === 'object') {
    const { r, alpha, a, b, p, q, v } = s;
    const unitDays = s.unit_days;
    if (positive(r) && positive(alpha) && positive(a) && positive(b) && positive(p) && positive(q) && q > 1 && positive(v) && positive(unitDays)) {
      const end = (s.calibration as { end?: unknown } | undefined)?.end;
      const currency = typeof s.currency === 'string' && /^[A-Z]{3}$/.test(s.currency) ? s.currency : currencyOf(card);
      result = {
        bgnbd: { r, alpha, a, b },
        gammaGamma: { p, q, v },
        unitDays,
        currency,
        calibrationEnd: typeof end === 'string' && !Number.isNaN(Date.parse(end)) ? new Date(end) : null,
        customers: typeof s.customers === 'number' ? s.customers : null,
      };
    }
  }
  parsed.set(card, result);
  return result;
}
