import { describe, expect, it } from 'vitest';
import { anchorTime, generateCustomer, generateCustomers, type DemoCustomer } from '../src/demo/generator.js';
import { Random } from '../src/demo/random.js';

const DAY = 86_400_000;
const anchor = '2025-06-01';
const A = anchorTime(anchor);

const take = (customers: number, seed = 42, start?: number) => [...generateCustomers({ customers, seed, anchor, start })];

describe('Random', () => {
  it('is reproducible per (seed, stream) and differs across streams', () => {
    const a = new Random(1, 5);
    const b = new Random(1, 5);
    const c = new Random(1, 6);
    const xs = Array.from({ length: 10 }, () => a.next());
    expect(Array.from({ length: 10 }, () => b.next())).toEqual(xs);
    expect(Array.from({ length: 10 }, () => c.next())).not.toEqual(xs);
    for (const x of xs) expect(x >= 0 && x < 1).toBe(true);
  });

  it('samplers have the right means', () => {
    const r = new Random(3);
    const n = 40_000;
    const mean = (f: () => number) => Array.from({ length: n }, f).reduce((s, x) => s + x, 0) / n;
    expect(mean(() => r.gamma(0.7, 2))).toBeCloseTo(1.4, 1);
    expect(mean(() => r.gamma(5, 0.2))).toBeCloseTo(1, 1);
    expect(mean(() => r.exponential(4))).toBeCloseTo(0.25, 1);
    expect(mean(() => r.poisson(3))).toBeCloseTo(3, 1);
    expect(mean(() => r.lognormal(0, 0.5))).toBeCloseTo(Math.exp(0.125), 1);
  });
});

describe('generator', () => {
  it('same seed gives identical output; another seed differs', () => {
    expect(take(200)).toEqual(take(200));
    expect(take(200, 43)).not.toEqual(take(200));
  });

  it('customer i depends on (seed, i) only: prefixes and offsets agree', () => {
    const big = take(500);
    expect(take(50)).toEqual(big.slice(0, 50));
    expect(take(100, 42, 301)).toEqual(big.slice(300, 400));
    expect(generateCustomer(42, 123, anchor)).toEqual(big[122]);
  });

  it('produces well-formed customers and orders, none at or after the anchor', () => {
    const customers = take(2_000);
    const emails = new Set<string>();
    for (const [k, c] of customers.entries()) {
      expect(c.externalId).toBe(`demo-${String(k + 1).padStart(7, '0')}`);
      expect(c.email).toMatch(/^[a-z]+\.[a-z]+\.\d+@example\.com$/);
      emails.add(c.email);
      expect([null, 'F', 'M']).toContain(c.gender);
      if (c.country !== null) expect(c.country).toMatch(/^[A-Z]{2}$/);
      if (c.birthDate !== null) expect(c.birthDate).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      expect(c.createdAt.getTime()).toBeLessThan(A);
      expect(c.createdAt.getTime()).toBeGreaterThanOrEqual(A - 731 * DAY);
      if (c.orders.length > 0) expect(c.orders[0].orderedAt).toEqual(c.createdAt);
      let prev = -Infinity;
      for (const [n, o] of c.orders.entries()) {
        expect(o.externalId).toBe(`${c.externalId}-${String(n + 1).padStart(4, '0')}`);
        expect(o.customerExternalId).toBe(c.externalId);
        expect(o.orderedAt.getTime()).toBeLessThan(A);
        expect(o.orderedAt.getTime()).toBeGreaterThanOrEqual(prev);
        prev = o.orderedAt.getTime();
        expect(o.amount).toMatch(/^\d+\.\d{2}$/);
        expect(Number(o.amount)).toBeGreaterThan(0);
        expect(Number.isInteger(o.itemCount) && o.itemCount >= 1).toBe(true);
        expect(o.currency).toBe('USD');
        expect(['paid', 'refunded', 'cancelled']).toContain(o.status);
      }
    }
    expect(emails.size).toBe(customers.length);
    // Some demographics are missing, but not most.
    const frac = (p: (c: DemoCustomer) => boolean) => customers.filter(p).length / customers.length;
    expect(frac((c) => c.gender === null)).toBeGreaterThan(0.02);
    expect(frac((c) => c.birthDate === null)).toBeGreaterThan(0.05);
    expect(frac((c) => c.country === null)).toBeGreaterThan(0.01);
    expect(frac((c) => c.country === null)).toBeLessThan(0.1);
    expect(frac((c) => c.orders.length === 0)).toBeLessThan(0.15);
    const statuses = customers.flatMap((c) => c.orders.map((o) => o.status));
    expect(statuses.filter((s) => s === 'paid').length / statuses.length).toBeGreaterThan(0.9);
    expect(statuses).toContain('refunded');
    expect(statuses).toContain('cancelled');
  });

  it('gives a useful class mix for a 90-day horizon', () => {
    // Labels as python-export/segments/labels.py defines them, at cutoff T = anchor − 90 days:
    // lapsing = no paid order in (T, anchor]; high_value = horizon spend ≥ 80th percentile of positive spends.
    const T = A - 90 * DAY;
    const spends: number[] = [];
    let population = 0;
    for (const c of take(5_000)) {
      if (c.orders.length === 0 || c.orders[0].orderedAt.getTime() > T) continue;
      population += 1;
      const s = c.orders.filter((o) => o.status === 'paid' && o.orderedAt.getTime() > T).reduce((a, o) => a + Number(o.amount), 0);
      if (s > 0) spends.push(s);
    }
    const activeShare = spends.length / population;
    expect(population).toBeGreaterThan(3_000);
    expect(activeShare).toBeGreaterThan(0.25); // active + high_value
    expect(activeShare).toBeLessThan(0.6); // lapsing stays the largest class
    // Spend is heterogeneous enough that the top fifth is well separated from the median.
    spends.sort((a, b) => a - b);
    expect(spends[Math.floor(spends.length * 0.8)]).toBeGreaterThan(2 * spends[Math.floor(spends.length * 0.5)]);
  });

  it('rejects malformed anchors', () => {
    expect(() => anchorTime('2025-02-30')).toThrow(/no such day/);
    expect(() => anchorTime('June 1')).toThrow(/YYYY-MM-DD/);
  });
});
