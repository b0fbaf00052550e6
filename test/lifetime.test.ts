// BG/NBD and Gamma-Gamma in TypeScript against the Python pipeline's numbers (golden fixture written
// by python-export/lifetime_golden.py from the committed model fixture), within 1e-9.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { expectedPurchases, hyp2f1, lifetimeFigures, pAlive, type BgNbdParams, type GammaGammaParams } from '../src/lifetime/btyd.js';

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
