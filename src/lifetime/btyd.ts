// Buy-till-you-die figures per customer: BG/NBD (Fader, Hardie & Lee 2005) for how many orders a
// customer will place, Gamma-Gamma (Fader & Hardie 2013) for what each will be worth. The
// parameters are fitted in python-export/segments/lifetime.py; these are the same formulas, checked
// against Python's numbers within 1e-9 (test/lifetime.test.ts on test/fixtures/lifetime/golden.json).
// Pure functions: no database, no GraphQL.
import { rfmSummary, type Occasions } from './summary.js';

export interface BgNbdParams {
  r: number;
  alpha: number;
  a: number;
  b: number;
}

export interface GammaGammaParams {
  p: number;
  q: number;
  v: number;
}

/** A customer's calibration summary at a scoring time, in the parameters' time unit. */
export interface RfmSummary {
  /** Repeat purchase occasions (purchase days after the first). */
  x: number;
  /** Last occasion, counted from the first. */
  tX: number;
  /** Scoring time, counted from the first occasion. */
  T: number;
  /** Mean value of the repeat occasions (currency units); null when x = 0. */
  m: number | null;
}

export interface LifetimeFigures {
  pAlive: number;
  expectedOrders: number;
  expectedOrderValue: number;
  predictedClv: number;
  /** Days until the next order expected while the customer keeps buying; null when unbounded. */
  expectedDaysToNextOrder: number | null;
  /** Observed: days from the first to the last purchase occasion over the repeat occasions. */
  averageDaysBetweenOrders: number | null;
}

/** Gauss's series for 2F1(a, b; c; z), 0 ≤ z < 1 — the same series as the Python side. */
export function hyp2f1(a: number, b: number, c: number, z: number, tol = 1e-15, maxTerms = 100_000): number {
  if (!(z >= 0 && z < 1)) throw new RangeError(`hyp2f1 series needs 0 <= z < 1 (got ${z})`);
  let term = 1;
  let total = 1;
  for (let k = 0; k < maxTerms; k++) {
    term *= (((a + k) * (b + k)) / ((c + k) * (k + 1))) * z;
    total += term;
    if (Math.abs(term) <= tol * Math.abs(total)) return total;
  }
  throw new Error('hyp2f1 series did not converge');
}

/** P(alive | x, t_x, T), FHL (2005) eq. 11. */
export function pAlive(m: BgNbdParams, s: RfmSummary): number {
  if (s.x === 0) return 1;
  const ratio = (m.a / (m.b + s.x - 1)) * Math.exp((m.r + s.x) * Math.log((m.alpha + s.T) / (m.alpha + s.tX)));
  return 1 / (1 + ratio);
}

/** E[Y(t) | x, t_x, T]: expected purchase occasions in the next t time units, FHL (2005) eq. 10. */
export function expectedPurchases(m: BgNbdParams, t: number, s: RfmSummary): number {
  if (t <= 0) return 0;
  const { x, tX, T } = s;
  const z = t / (m.alpha + T + t);
  const f = hyp2f1(m.r + x, m.b + x, m.a + m.b + x - 1, z);
  const num = ((m.a + m.b + x - 1) / (m.a - 1)) * (1 - Math.exp((m.r + x) * Math.log((m.alpha + T) / (m.alpha + T + t))) * f);
  let den = 1;
  if (x > 0) den += (m.a / (m.b + x - 1)) * Math.exp((m.r + x) * Math.log((m.alpha + T) / (m.alpha + tX)));
  return num / den;
}

/**
 * Posterior mean time between occasions while the customer keeps buying: λ | data ~ Gamma(r + x,
 * α + T), so E[1/λ] = (α + T) / (r + x − 1); null when r + x ≤ 1 (infinite).
 */
export function expectedInterpurchaseTime(m: BgNbdParams, s: RfmSummary): number | null {
  const shape = m.r + s.x;
  return shape <= 1 ? null : (m.alpha + s.T) / (shape - 1);
}

/** E[M | x, m]: the customer's own mean spend shrunk toward the population's p·v/(q−1). */
export function expectedOrderValue(g: GammaGammaParams, s: RfmSummary): number {
  if (s.x <= 0 || s.m === null || !Number.isFinite(s.m)) return (g.p * g.v) / (g.q - 1);
  return (g.p * (g.v + s.x * s.m)) / (g.p * s.x + g.q - 1);
}

/**
 * Every figure of `Customer.lifetime` for a horizon in days. The CLV discounts month by month
 * (30-day steps, the last one partial): Σᵢ E[M] · (E[Y(tᵢ)] − E[Y(tᵢ₋₁)]) / (1 + d)ⁱ.
 */
export function lifetimeFigures(
  bg: BgNbdParams,
  gg: GammaGammaParams,
  unitDays: number,
  s: RfmSummary,
  horizonDays: number,
  monthlyDiscount = 0,
): LifetimeFigures {
  const h = horizonDays / unitDays;
  const value = expectedOrderValue(gg, s);
  const month = 30 / unitDays;
  let clv = 0;
  let prev = 0;
  for (let i = 1, t = 0; t < h - 1e-12; i++) {
    t = Math.min(h, i * month);
    const cum = expectedPurchases(bg, t, s);
    clv += (value * (cum - prev)) / (1 + monthlyDiscount) ** i;
    prev = cum;
  }
  const gap = expectedInterpurchaseTime(bg, s);
  return {
    pAlive: pAlive(bg, s),
    expectedOrders: expectedPurchases(bg, h, s),
    expectedOrderValue: value,
    predictedClv: clv,
    expectedDaysToNextOrder: gap === null ? null : gap * unitDays,
    averageDaysBetweenOrders: s.x > 0 ? (s.tX * unitDays) / s.x : null,
  };
}

/**
 * The figures of one customer at asOfMs from a card's parameters and the customer's occasions
 * (src/lifetime/summary.ts); null without parameters or without a paid order. Live answers
 * (Customer.lifetime) and stored scores (batch scoring) both come from here.
 */
export function lifetimeOf(
  params: { bgnbd: BgNbdParams; gammaGamma: GammaGammaParams; unitDays: number } | null,
  occasions: Occasions | null,
  asOfMs: number,
  horizonDays: number,
  monthlyDiscount = 0,
): LifetimeFigures | null {
  if (!params || !occasions) return null;
  return lifetimeFigures(params.bgnbd, params.gammaGamma, params.unitDays, rfmSummary(occasions, asOfMs, params.unitDays), horizonDays, monthlyDiscount);
}
