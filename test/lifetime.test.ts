// BG/NBD and Gamma-Gamma in TypeScript against the Python pipeline's numbers (golden fixture written
// by python-export/lifetime_golden.py from the committed model fixture), within 1e-9.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { expectedPurchases, hyp2f1, lifetimeFigures, pAlive, type BgNbdParams, type GammaGammaParams } from '../src/lifetime/btyd.js';
import { lifetimeParams } from '../src/lifetime/card.js';
import { occasionsOf, rfmSummary } from '../src/lifetime/summary.js';
import type { ModelCard } from '../src/inference/registry.js';

interface GoldenCase {
  id: string;
  x: number;
  t_x: number;
  T: number;
  m: number | null;
  expected: Record<string, Record<string, number | null>>;
}
const golden = JSON.parse(readFileSync(new URL('./fixtures/lifetime/golden.json', import.meta.url), 'utf8')) as {
  unitDays: number;
  bgnbd: BgNbdParams;
  gammaGamma: GammaGammaParams;
  cases: GoldenCase[];
};

const close = (actual: number | null, expected: number | null, what: string) => {
  if (expected === null) return expect(actual, what).toBeNull();
  expect(actual, what).not.toBeNull();
  // 1e-9 relative to the figure's size (CLVs run into the hundreds).
  expect(Math.abs(actual! - expected), `${what}: ${actual} vs ${expected}`).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(expected)));
};

describe('lifetime figures (BG/NBD + Gamma-Gamma)', () => {
  it('equal the Python pipeline within 1e-9 for every golden customer, horizon and discount rate', () => {
    let checked = 0;
    for (const c of golden.cases) {
      for (const [key, want] of Object.entries(c.expected)) {
        const [horizon, discount] = key.split('|').map(Number);
        const got = lifetimeFigures(golden.bgnbd, golden.gammaGamma, golden.unitDays, { x: c.x, tX: c.t_x, T: c.T, m: c.m }, horizon, discount);
        close(got.pAlive, want.p_alive, `${c.id} ${key} pAlive`);
        close(got.expectedOrders, want.expected_orders, `${c.id} ${key} expectedOrders`);
        close(got.expectedOrderValue, want.expected_order_value, `${c.id} ${key} expectedOrderValue`);
        close(got.predictedClv, want.predicted_clv, `${c.id} ${key} predictedClv`);
        close(got.expectedDaysToNextOrder, want.expected_days_to_next_order, `${c.id} ${key} expectedDaysToNextOrder`);
        close(got.averageDaysBetweenOrders, want.average_days_between_orders, `${c.id} ${key} averageDaysBetweenOrders`);
        checked += 1;
      }
    }
    expect(checked).toBe(golden.cases.length * 6);
  });

  it('reproduces the published CDNOW conditional expectation (x = 2, t_x = 30.43, T = 38.86, t = 39 weeks → 1.226)', () => {
    // Fader, Hardie & Lee (2005), with their published parameters.
    const published = { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 };
    expect(expectedPurchases(published, 39, { x: 2, tX: 30.43, T: 38.86, m: null })).toBeCloseTo(1.226, 3);
  });

  it('behaves at the edges: a new customer is alive, discounting lowers the CLV, the series matches closed forms', () => {
    const { bgnbd, gammaGamma, unitDays } = golden;
    expect(pAlive(bgnbd, { x: 0, tX: 0, T: 10, m: null })).toBe(1);
    const s = { x: 3, tX: 20, T: 30, m: 50 };
    const plain = lifetimeFigures(bgnbd, gammaGamma, unitDays, s, 365);
    const discounted = lifetimeFigures(bgnbd, gammaGamma, unitDays, s, 365, 0.02);
    expect(discounted.predictedClv).toBeLessThan(plain.predictedClv);
    expect(plain.predictedClv).toBeCloseTo(plain.expectedOrders * plain.expectedOrderValue, 9);
    // 2F1(1, 1; 2; z) = −ln(1 − z)/z.
    expect(hyp2f1(1, 1, 2, 0.5)).toBeCloseTo(-Math.log(0.5) / 0.5, 14);
    expect(() => hyp2f1(1, 1, 2, 1)).toThrow(RangeError);
  });
});

describe('lifetime parameters of a model card, and the summary the API computes', () => {
  const shipped = JSON.parse(readFileSync(new URL('../models/xgboost-segment/1/model.json', import.meta.url), 'utf8')) as ModelCard;

  it('reads the shipped card: BG/NBD and Gamma-Gamma parameters, unit, currency, calibration end', () => {
    const p = lifetimeParams(shipped)!;
    const lt = shipped.lifetime as Record<string, number>;
    expect(p.bgnbd).toEqual({ r: lt.r, alpha: lt.alpha, a: lt.a, b: lt.b });
    expect(p.gammaGamma).toEqual({ p: lt.p, q: lt.q, v: lt.v });
    expect(p).toMatchObject({ unitDays: 7, currency: 'USD', customers: lt.customers });
    expect(p.calibrationEnd?.toISOString()).toBe((shipped.task as { test_cutoff: string }).test_cutoff);
  });

  it('has none for a card without the section or with unusable parameters (q <= 1 has no mean spend)', () => {
    const { lifetime, ...without } = shipped;
    expect(lifetime).toBeDefined();
    expect(lifetimeParams(without as ModelCard)).toBeNull();
    expect(lifetimeParams({ ...shipped, lifetime: { ...(lifetime as object), q: 1 } })).toBeNull();
    expect(lifetimeParams({ ...shipped, lifetime: { ...(lifetime as object), r: -0.5 } })).toBeNull();
    expect(lifetimeParams({ ...shipped, lifetime: { ...(lifetime as object), alpha: 'x' } })).toBeNull();
  });

  it('counts one occasion per UTC day, ignores orders after asOf, and measures T to the scoring instant', () => {
    const o = (iso: string, cents: number, id: string) => ({ orderedAtMs: Date.parse(iso), amountCents: cents, itemCount: 1, externalId: id });
    const orders = [o('2025-01-10T23:59:59Z', 1000, 'a'), o('2025-01-11T00:00:00Z', 500, 'b'), o('2025-01-11T22:00:00Z', 700, 'c'), o('2025-02-11T08:00:00Z', 300, 'd'), o('2025-03-01T00:00:00Z', 9900, 'e')];
    const asOf = Date.parse('2025-02-28T12:00:00Z');
    const occ = occasionsOf(orders, asOf)!;
    expect(occ).toEqual({ repeats: 2, firstDay: Date.parse('2025-01-10') / 86_400_000, lastDay: Date.parse('2025-02-11') / 86_400_000, repeatCents: 1500 });
    expect(rfmSummary(occ, asOf, 7)).toEqual({ x: 2, tX: 32 / 7, T: 49.5 / 7, m: 7.5 });
    expect(occasionsOf([], asOf)).toBeNull();
    expect(occasionsOf([o('2025-03-02T00:00:00Z', 100, 'x')], asOf)).toBeNull();
    expect(rfmSummary(occasionsOf([orders[0]], asOf)!, asOf, 1)).toEqual({ x: 0, tX: 0, T: 49.5, m: null });
    expect(() => occasionsOf([orders[3], orders[0]], asOf)).toThrow(/sorted/);
  });
});
