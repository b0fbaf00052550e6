// Customer.lifetime and the stored lifetime figures over real HTTP on each database, with the
// shipped model's card parameters:
//  - every customer of the demo data equals src/lifetime/btyd.ts on the card's parameters and a
//    summary computed here from the orders read back from the database;
//  - a fixture customer equals a hand computation from the formulas (FHL 2005 eqs. 10–11, the
//    Gamma-Gamma posterior mean), with 2F1 from its Euler integral instead of the series;
//  - batch scoring stores the 90-day figures; minPredictedClv and PREDICTED_CLV over keyset pages;
//  - one statement per page, input errors, and the field policy for every role.
import { readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'graphql';
import { getComplexity } from 'graphql-query-complexity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getSchema } from '../src/graphql/schema.js';
import { costEstimator } from '../src/server/limits.js';
import { seedDemo } from '../src/demo/seed.js';
import { createApiKey } from '../src/auth/api-keys.js';
import { policy, ruleFor } from '../src/graphql/auth/policy.js';
import { roles, type Role } from '../src/auth/principal.js';
import { lifetimeFigures, type BgNbdParams, type GammaGammaParams } from '../src/lifetime/btyd.js';
import { scoreCustomers } from '../src/scoring/batch.js';
import { databaseKinds } from './helpers/databases.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const MODEL = 'xgboost-segment';
const card = JSON.parse(readFileSync(new URL(`../models/${MODEL}/1/model.json`, import.meta.url), 'utf8'));
const lt = card.lifetime as { r: number; alpha: number; a: number; b: number; p: number; q: number; v: number; unit_days: number; currency: string; calibration: { end: string } };
const bg: BgNbdParams = { r: lt.r, alpha: lt.alpha, a: lt.a, b: lt.b };
const gg: GammaGammaParams = { p: lt.p, q: lt.q, v: lt.v };
const DAY = 86_400_000;
const asOf = '2025-12-31T23:59:59.999Z';

const FIELDS = 'pAlive expectedOrders expectedOrderValue predictedClv expectedDaysToNextOrder expectedNextOrderAt averageDaysBetweenOrders repeatPurchases currency horizonDays monthlyDiscountRate model modelVersion fittedThrough asOf';
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
const errCodes = (json: any): string[] => (json.errors ?? []).map((e: any) => e.extensions?.code);

/** Summary from orders as the test reads them: UTC calendar days as text, no shared code. */
function referenceSummary(orders: { orderedAt: Date; amount: unknown; status: string }[], asOfMs: number) {
  const byDay = new Map<string, number>();
  for (const o of orders) {
    if (o.status !== 'paid' || o.orderedAt.getTime() > asOfMs) continue;
    const day = o.orderedAt.toISOString().slice(0, 10);
    byDay.set(day, (byDay.get(day) ?? 0) + Math.round(Number(String(o.amount)) * 100));
  }
  const days = [...byDay.keys()].sort();
  if (days.length === 0) return null;
  const first = Date.parse(`${days[0]}T00:00:00Z`);
  const last = Date.parse(`${days.at(-1)}T00:00:00Z`);
  const x = days.length - 1;
  const repeatCents = days.slice(1).reduce((s, d) => s + byDay.get(d)!, 0);
  return { x, tX: (last - first) / DAY / lt.unit_days, T: (asOfMs - first) / DAY / lt.unit_days, m: x > 0 ? repeatCents / 100 / x : null };
}

// ---- the hand computation: closed forms, and 2F1 through its Euler integral (Simpson's rule) ----
function lgamma(z: number): number {
  // Lanczos (g = 7, n = 9).
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (z < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * z))) - lgamma(1 - z);
  z -= 1;
  let s = c[0];
  for (let i = 1; i < 9; i++) s += c[i] / (z + i);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(s);
}
/** 2F1(A, B; C; z) = ∫₀¹ t^(B−1) (1−t)^(C−B−1) (1−zt)^(−A) dt / B(B, C−B), for C > B > 1 (smooth integrand). */
function hyp2f1Euler(A: number, B: number, C: number, z: number): number {
  expect(B).toBeGreaterThan(1);
  expect(C - B).toBeGreaterThan(1);
  const n = 20_000;
  const f = (t: number) => t ** (B - 1) * (1 - t) ** (C - B - 1) * (1 - z * t) ** -A;
  let s = f(0) + f(1);
  for (let i = 1; i < n; i++) s += (i % 2 ? 4 : 2) * f(i / n);
  const integral = (s / (3 * n));
  return integral / Math.exp(lgamma(B) + lgamma(C - B) - lgamma(C));
}
/** FHL (2005) eq. 10 with the symmetric 2F1(r + x, b + x; a + b + x − 1; z) taken as 2F1(b + x, r + x; …). */
function handExpected(t: number, x: number, tX: number, T: number): number {
  const { r, alpha, a, b } = bg;
  const z = t / (alpha + T + t);
  const f = hyp2f1Euler(b + x, r + x, a + b + x - 1, z);
  const num = ((a + b + x - 1) / (a - 1)) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * f);
  const den = 1 + (x > 0 ? (a / (b + x - 1)) * ((alpha + T) / (alpha + tX)) ** (r + x) : 0);
  return num / den;
}

describe.each(databaseKinds)('lifetime value on %s', (kind) => {
  let t: TestServer;
  const keys = {} as Record<Role, string>;
  let hand: { id: string };
  const send = async (query: string, role: Role = 'admin', variables?: unknown) => (await t.post(JSON.stringify({ query, variables }), bearer(keys[role]))).json;

  beforeAll(async () => {
    t = await startTestServer(kind, { AUTH_MODE: 'required', AUTH_CACHE_TTL_SECONDS: '0', MAX_PAGE_SIZE: '200' });
    await seedDemo(t.db, { customers: 150, seed: 5, anchor: '2026-01-01' });
    // The fixture customer: purchase days 2025-01-10 ($20), 2025-03-01 ($30 + $10: one occasion of $40),
    // 2025-06-15 ($50); a refund (not paid) and an order after asOf that must not count.
    hand = await t.db.prisma.customer.create({ data: { externalId: 'hand-1', name: 'Hand Computed', country: 'DE', createdAt: new Date('2025-01-01T00:00:00Z') }, select: { id: true } });
    const orders: [string, string, string, string][] = [
      ['h-1', '2025-01-10T09:00:00Z', '20.00', 'paid'],
      ['h-2', '2025-03-01T10:00:00Z', '30.00', 'paid'],
      ['h-3', '2025-03-01T18:00:00Z', '10.00', 'paid'],
      ['h-4', '2025-06-15T12:00:00Z', '50.00', 'paid'],
      ['h-5', '2025-08-01T12:00:00Z', '99.00', 'refunded'],
      ['h-6', '2026-01-02T12:00:00Z', '70.00', 'paid'],
    ];
    for (const [externalId, at, amount, status] of orders) {
      await t.db.prisma.order.create({ data: { customerId: hand.id, externalId, orderedAt: new Date(at), amount, itemCount: 1, currency: 'USD', status: status as 'paid' } });
    }
    keys.admin = (await createApiKey(t.db, { role: 'admin' })).key;
    keys.bi = (await createApiKey(t.db, { role: 'bi' })).key;
    keys.frontend = (await createApiKey(t.db, { role: 'frontend', customer: 'hand-1' })).key;
  });
  afterAll(() => t?.close());

  it("equals src/lifetime/btyd.ts on the card's parameters for every customer, from the orders in the database", async () => {
    const asOfMs = Date.parse(asOf);
    const orders = await t.db.prisma.order.findMany({ select: { customerId: true, orderedAt: true, amount: true, status: true } });
    const byCustomer = new Map<string, typeof orders>();
    for (const o of orders) byCustomer.set(o.customerId, [...(byCustomer.get(o.customerId) ?? []), o]);
    let after: string | null = null;
    let withFigures = 0;
    let without = 0;
    let nextUnbounded = 0;
    for (let page = 0; page < 10; page++) {
      const res: any = await send(
        `query($after: String) { customers(first: 60, after: $after) { pageInfo { hasNextPage endCursor } edges { node { id lifetime(asOf: "${asOf}", horizonDays: 180, monthlyDiscountRate: 0.01, model: "${MODEL}") { ${FIELDS} } } } } }`,
        'admin',
        { after },
      );
      expect(res.errors).toBeUndefined();
      for (const { node } of res.data.customers.edges) {
        const s = referenceSummary(byCustomer.get(node.id) ?? [], asOfMs);
        if (!s) {
          expect(node.lifetime).toBeNull();
          without += 1;
          continue;
        }
        withFigures += 1;
        const want = lifetimeFigures(bg, gg, lt.unit_days, s, 180, 0.01);
        const got = node.lifetime;
        for (const k of ['pAlive', 'expectedOrders', 'expectedOrderValue', 'predictedClv'] as const) {
          expect(Math.abs(got[k] - want[k]), `${node.id} ${k}`).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(want[k])));
        }
        if (want.averageDaysBetweenOrders === null) expect(got.averageDaysBetweenOrders).toBeNull();
        else expect(got.averageDaysBetweenOrders).toBeCloseTo(want.averageDaysBetweenOrders, 9);
        if (want.expectedDaysToNextOrder === null) {
          // r + x <= 1: the posterior mean time to the next order is infinite (with this card: x = 0).
          expect(bg.r + s.x).toBeLessThanOrEqual(1);
          expect(got).toMatchObject({ expectedDaysToNextOrder: null, expectedNextOrderAt: null });
          nextUnbounded += 1;
        } else {
          expect(got.expectedDaysToNextOrder).toBeCloseTo(want.expectedDaysToNextOrder, 9);
          expect(Math.abs(Date.parse(got.expectedNextOrderAt) - (asOfMs + want.expectedDaysToNextOrder * DAY))).toBeLessThanOrEqual(1);
        }
        expect(got.repeatPurchases).toBe(s.x);
        expect(got).toMatchObject({ currency: 'USD', horizonDays: 180, monthlyDiscountRate: 0.01, model: MODEL, modelVersion: '1', asOf, fittedThrough: lt.calibration.end });
      }
      if (!res.data.customers.pageInfo.hasNextPage) break;
      after = res.data.customers.pageInfo.endCursor;
    }
    expect(withFigures).toBeGreaterThan(50);
    expect(without).toBeGreaterThan(0); // the demo data has customers without a paid order before asOf
    expect(withFigures + without).toBe(151);
    expect(nextUnbounded).toBeGreaterThan(0);
    expect(nextUnbounded).toBeLessThan(withFigures);
  });

  it('equals a hand computation from the formulas for a fixture customer', async () => {
    const res = await send(`{ customerByExternalId(externalId: "hand-1") { lifetime(asOf: "2025-12-31", horizonDays: 90) { ${FIELDS} } discounted: lifetime(asOf: "2025-12-31", horizonDays: 90, monthlyDiscountRate: 0.05) { predictedClv } } }`);
    expect(res.errors).toBeUndefined();
    const got = res.data.customerByExternalId.lifetime;
    // x = 2 repeat purchase days; t_x = 2025-01-10 → 2025-06-15 = 156 days; T = 2025-01-10T00:00Z →
    // 2025-12-31T23:59:59.999Z = 356 days less 1 ms; m = ($40 + $50) / 2 = $45. Weeks.
    const x = 2;
    const tX = 156 / 7;
    const T = (356 - 1 / DAY) / 7;
    const m = 45;
    const { r, alpha, a, b } = bg;
    const { p, q, v } = gg;
    const pAlive = 1 / (1 + (a / (b + x - 1)) * ((alpha + T) / (alpha + tX)) ** (r + x));
    const orders90 = handExpected(90 / 7, x, tX, T);
    const value = (p * (v + x * m)) / (p * x + q - 1);
    const gapDays = ((alpha + T) / (r + x - 1)) * 7;
    expect(got.repeatPurchases).toBe(2);
    expect(got.pAlive).toBeCloseTo(pAlive, 12);
    expect(got.expectedOrders).toBeCloseTo(orders90, 7); // Simpson's rule on 20 000 intervals
    expect(got.expectedOrderValue).toBeCloseTo(value, 10);
    expect(got.predictedClv).toBeCloseTo(value * orders90, 5); // undiscounted: the monthly steps telescope
    expect(got.averageDaysBetweenOrders).toBeCloseTo(78, 12);
    expect(got.expectedDaysToNextOrder).toBeCloseTo(gapDays, 9);
    expect(Math.abs(Date.parse(got.expectedNextOrderAt) - (Date.parse(asOf) + gapDays * DAY))).toBeLessThanOrEqual(1);
    // 5 % a month over the three 30-day steps.
    const cum = [0, 30, 60, 90].map((d) => handExpected(d / 7, x, tX, T));
    const discounted = [1, 2, 3].reduce((s, i) => s + (value * (cum[i] - cum[i - 1])) / 1.05 ** i, 0);
    expect(res.data.customerByExternalId.discounted.predictedClv).toBeCloseTo(discounted, 5);
    expect(res.data.customerByExternalId.discounted.predictedClv).toBeLessThan(got.predictedClv);
    // Before the first purchase there is nothing to extrapolate.
    const before = await send(`{ customerByExternalId(externalId: "hand-1") { lifetime(asOf: "2025-01-09") { pAlive } } }`);
    expect(before.errors).toBeUndefined();
    expect(before.data.customerByExternalId.lifetime).toBeNull();
  });

  it('shows the parameters it uses in Query.models, as the card states them', async () => {
    const res = await send(`{ models(name: "${MODEL}") { version lifetime } }`);
    expect(res.errors).toBeUndefined();
    expect(res.data.models).toEqual([{ version: '1', lifetime: card.lifetime }]);
  });

  it('costs one statement per page whatever its size, per scoring time', async () => {
    const count = async (first: number) => {
      const before = t.db.queryCount();
      const res = await send(`{ customers(first: ${first}) { edges { node { id lifetime(asOf: "${asOf}") { pAlive predictedClv } } } } }`);
      expect(res.errors).toBeUndefined();
      expect(res.data.customers.edges).toHaveLength(first);
      return t.db.queryCount() - before;
    };
    const for10 = await count(10);
    expect(await count(150)).toBe(for10);
    expect(for10).toBeLessThanOrEqual(4); // the key lookup (key and its customer), the page, the lifetime inputs
  });

  it('shares the page\'s feature statement with its predictions: segments plus lifetime cost what segments alone cost', async () => {
    const statements = async (fields: string) => {
      const before = t.db.queryCount();
      const res = await send(`{ customers(first: 20) { edges { node { id ${fields} } } } }`);
      expect(res.errors).toBeUndefined();
      return t.db.queryCount() - before;
    };
    // A scoring time of its own per request, so no prediction comes from the cache.
    const at = (k: number) => new Date(Date.parse(asOf) - k * 1000).toISOString();
    const segments = (when: string) => `prediction(asOf: "${when}") { segment probability }`;
    await statements(segments(at(1))); // warm: the key lookup is cached after the first request
    const alone = await statements(segments(at(2)));
    expect(await statements(`${segments(at(3))} lifetime(asOf: "${at(3)}") { pAlive predictedClv }`)).toBe(alone);
  });

  it('refuses a horizon outside 1–3650 days, a discount outside 0–1 and an unknown model, with BAD_USER_INPUT naming the argument', async () => {
    const ask = (args: string) => send(`{ customerByExternalId(externalId: "hand-1") { lifetime(${args}) { pAlive } } }`);
    for (const [args, field] of [
      ['horizonDays: 0', 'horizonDays'],
      ['horizonDays: 3651', 'horizonDays'],
      ['horizonDays: -5', 'horizonDays'],
      ['monthlyDiscountRate: -0.1', 'monthlyDiscountRate'],
      ['monthlyDiscountRate: 1.5', 'monthlyDiscountRate'],
      ['model: "nope"', 'model'],
    ] as const) {
      const res = await ask(args);
      expect(errCodes(res), args).toEqual(['BAD_USER_INPUT']);
      expect(res.errors[0].extensions.field, args).toBe(field);
    }
    expect((await ask('horizonDays: 3650')).errors).toBeUndefined();
    expect((await ask('horizonDays: 1')).errors).toBeUndefined();
  });

  describe('stored with the scores', () => {
    beforeAll(async () => {
      const summary = await scoreCustomers(t.db, t.scoring, { asOf: new Date(asOf), pageSize: 40 });
      expect(summary.scored).toBe(151);
    });

    async function walk(query: string, vars: Record<string, unknown>, role: Role = 'admin') {
      const nodes: any[] = [];
      let after: string | null = null;
      let totalCount = -1;
      for (let page = 0; page < 50; page++) {
        const res: any = await send(query, role, { ...vars, after });
        expect(res.errors).toBeUndefined();
        totalCount = res.data.customers.totalCount;
        nodes.push(...res.data.customers.edges.map((e: any) => e.node));
        if (!res.data.customers.pageInfo.hasNextPage) break;
        after = res.data.customers.pageInfo.endCursor;
      }
      return { nodes, totalCount };
    }
    const page = `query($after: String, $filter: CustomerFilter, $orderBy: CustomerOrderBy) {
      customers(first: 23, after: $after, filter: $filter, orderBy: $orderBy) {
        totalCount pageInfo { hasNextPage endCursor }
        edges { node { id score { pAlive expectedOrders predictedClv modelVersion } lifetime(asOf: "${asOf}", horizonDays: 90) { pAlive expectedOrders predictedClv } } }
      } }`;

    it('stores P(alive), expected orders and the 90-day CLV equal to Customer.lifetime at the run\'s asOf', async () => {
      const { nodes } = await walk(page, {});
      expect(nodes).toHaveLength(151);
      let stored = 0;
      for (const n of nodes) {
        if (n.lifetime === null) {
          expect(n.score).toMatchObject({ pAlive: null, expectedOrders: null, predictedClv: null });
          continue;
        }
        stored += 1;
        expect(n.score).toEqual({ ...n.lifetime, modelVersion: '1' });
      }
      expect(stored).toBeGreaterThan(50);
    });

    it.each(['DESC', 'ASC'] as const)('orders by stored PREDICTED_CLV %s over keyset pages, with and without minPredictedClv', async (direction) => {
      const { nodes } = await walk(page, {});
      const sign = direction === 'DESC' ? -1 : 1;
      const idCmp = (x: any, y: any) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0);
      const valued = nodes.filter((n) => n.score?.predictedClv != null).sort((x, y) => sign * (x.score.predictedClv - y.score.predictedClv || idCmp(x, y)));
      const rest = nodes.filter((n) => n.score?.predictedClv == null).sort((x, y) => sign * idCmp(x, y));
      const ordered = await walk(page, { orderBy: { field: 'PREDICTED_CLV', direction } });
      expect(ordered.nodes.map((n) => n.id)).toEqual([...valued, ...rest].map((n) => n.id));
      const threshold = valued.map((n) => n.score.predictedClv).sort((x, y) => x - y)[Math.floor(valued.length / 2)];
      const filtered = await walk(page, { orderBy: { field: 'PREDICTED_CLV', direction }, filter: { minPredictedClv: threshold } }, 'bi');
      const matching = valued.filter((n) => n.score.predictedClv >= threshold);
      expect(matching.length).toBeGreaterThan(10);
      expect(filtered.totalCount).toBe(matching.length);
      expect(filtered.nodes.map((n) => n.id)).toEqual(matching.map((n) => n.id));
    });

    it('refuses a PREDICTED_CLV cursor under another ordering', async () => {
      const first = await send(page, 'admin', { orderBy: { field: 'PREDICTED_CLV', direction: 'DESC' } });
      const cursor = first.data.customers.pageInfo.endCursor;
      const res = await send(page, 'admin', { after: cursor, orderBy: { field: 'PROBABILITY', direction: 'DESC' } });
      expect(errCodes(res)).toEqual(['INVALID_CURSOR']);
    });

    it('shows the stored figures in the bi views', async () => {
      const rows = await t.db.prisma.$queryRawUnsafe<{ customer_id: string; p_alive: number | null; expected_orders_90d: number | null; predicted_clv_90d: number | null }[]>(
        `SELECT customer_id::text, p_alive, expected_orders_90d, predicted_clv_90d FROM bi.customer_scores WHERE model = '${MODEL}'`,
      );
      const scores = new Map((await t.db.prisma.customerScore.findMany({ where: { model: MODEL } })).map((s) => [s.customerId, s]));
      expect(rows).toHaveLength(151);
      for (const r of rows) {
        const s = scores.get(r.customer_id)!;
        expect([r.p_alive, r.expected_orders_90d, r.predicted_clv_90d]).toEqual([s.pAlive, s.expectedOrders, s.predictedClv]);
      }
      expect(rows.filter((r) => r.predicted_clv_90d !== null).length).toBeGreaterThan(50);
    });

    it('field policy: admin and bi read lifetime figures (derived from orders they may read); frontend may not, not even its own', async () => {
      const q = `{ customerByExternalId(externalId: "hand-1") { id lifetime(asOf: "${asOf}") { pAlive predictedClv } } }`;
      const qScore = `{ customerByExternalId(externalId: "hand-1") { score { pAlive expectedOrders predictedClv } } }`;
      const qFilter = `{ customers(first: 5, filter: { minPredictedClv: 0 }) { totalCount } }`;
      const qOrder = `{ customers(first: 5, orderBy: { field: PREDICTED_CLV, direction: DESC }) { totalCount } }`;
      for (const role of roles) {
        const mayRead = ruleFor(role, 'Customer', 'orders') === 'allow' && ruleFor(role, 'Customer', 'stats') === 'allow';
        expect(ruleFor(role, 'Customer', 'lifetime'), role).toBe(mayRead ? 'allow' : 'deny');
        for (const f of ['pAlive', 'expectedOrders', 'predictedClv']) expect(ruleFor(role, 'StoredScore', f), `${role} ${f}`).toBe(mayRead ? 'allow' : 'deny');
        const res = await send(q, role);
        const score = await send(qScore, role);
        if (mayRead) {
          expect(res.errors, role).toBeUndefined();
          expect(res.data.customerByExternalId.lifetime.pAlive, role).toBeGreaterThan(0);
          expect(score.errors, role).toBeUndefined();
          expect(score.data.customerByExternalId.score.predictedClv, role).toBeGreaterThan(0);
          expect((await send(qFilter, role)).errors, role).toBeUndefined();
          expect((await send(qOrder, role)).errors, role).toBeUndefined();
        } else {
          expect(errCodes(res), role).toEqual(['FORBIDDEN']);
          expect(JSON.stringify(res), role).not.toContain('pAlive":0.');
          expect(errCodes(score), role).toContain('FORBIDDEN');
          expect(JSON.stringify(score), role).not.toContain('predictedClv":');
          expect(errCodes(await send(qFilter, role)), role).toEqual(['FORBIDDEN']);
        }
      }
      expect(ruleFor('frontend', 'Customer', 'lifetime')).toBe('deny');
      expect(ruleFor('bi', 'Customer', 'lifetime')).toBe('allow');
    });
  });
});

describe('derived-data rule for the lifetime fields', () => {
  it('follows the rules of the fields they derive from (orders and stats), whatever they become', () => {
    const saved = { ...policy.bi.fields };
    try {
      expect(ruleFor('bi', 'Customer', 'lifetime')).toBe('allow');
      policy.bi.fields['Customer.stats'] = 'mask';
      expect(ruleFor('bi', 'Customer', 'lifetime')).toBe('mask');
      expect(ruleFor('bi', 'StoredScore', 'predictedClv')).toBe('mask');
      policy.bi.fields['Customer.orders'] = 'deny';
      expect(ruleFor('bi', 'Customer', 'lifetime')).toBe('deny');
      expect(ruleFor('bi', 'Lifetime', 'pAlive')).toBe('deny');
      // An explicit rule on the derived field does not open it beyond its sources.
      policy.bi.fields['Customer.lifetime'] = 'allow';
      expect(ruleFor('bi', 'Customer', 'lifetime')).toBe('deny');
      // A guard on a source (row-level, decided by other arguments) counts as deny.
      policy.bi.fields['Customer.stats'] = 'allow';
      policy.bi.fields['Customer.orders'] = () => true;
      expect(ruleFor('bi', 'Customer', 'lifetime')).toBe('deny');
    } finally {
      policy.bi.fields = saved;
    }
    expect(ruleFor('bi', 'Customer', 'lifetime')).toBe('allow');
  });
});

describe('a model card without lifetime parameters', () => {
  let t: TestServer;
  let dir: string;

  beforeAll(async () => {
    // The shipped XGBoost model, its card without the `lifetime` section (as cards trained before it).
    dir = await mkdtemp(path.join(os.tmpdir(), 'cia-lifetime-'));
    const from = new URL(`../models/${MODEL}/1/`, import.meta.url);
    const to = path.join(dir, MODEL, '1');
    await mkdir(to, { recursive: true });
    for (const f of ['model.onnx', 'features.json', 'golden.json']) await copyFile(new URL(f, from), path.join(to, f));
    const { lifetime: _dropped, ...older } = card;
    await writeFile(path.join(to, 'model.json'), JSON.stringify(older, null, 2));
    t = await startTestServer('pglite', { MODELS_DIR: dir, DEFAULT_MODEL: MODEL });
    await seedDemo(t.db, { customers: 20, seed: 5, anchor: '2026-01-01' });
  });
  afterAll(async () => {
    await t?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers null with a LIFETIME_UNAVAILABLE warning, and batch scoring stores no lifetime figures', async () => {
    const res = (await t.post(JSON.stringify({ query: `{ customers(first: 20) { edges { node { lifetime(asOf: "${asOf}") { pAlive } segment(asOf: "${asOf}") } } } }` }))).json;
    expect(res.errors).toBeUndefined();
    expect(res.data.customers.edges.every((e: any) => e.node.lifetime === null && typeof e.node.segment === 'string')).toBe(true);
    expect(res.extensions.warnings).toEqual([expect.objectContaining({ code: 'LIFETIME_UNAVAILABLE', model: MODEL, version: '1' })]);
    await scoreCustomers(t.db, t.scoring, { asOf: new Date(asOf) });
    const rows = await t.db.prisma.customerScore.findMany();
    expect(rows).toHaveLength(20);
    expect(rows.every((r) => r.pAlive === null && r.expectedOrders === null && r.predictedClv === null && r.segment)).toBe(true);
  });
});

describe('the cost of lifetime figures', () => {
  const costOf = async (query: string, variables: Record<string, unknown> = {}) => {
    const document = parse(query);
    return getComplexity({ schema: await getSchema(), query: document, variables, estimators: [costEstimator(100, undefined, document)] });
  };

  it('is 1 + ceil(horizonDays / 365) per customer, page sizes multiplying (variables too)', async () => {
    const bare = await costOf('{ customers(first: 100) { edges { node { id } } } }');
    expect((await costOf('{ customers(first: 100) { edges { node { lifetime { pAlive } } } } }')) - bare).toBe(100 * 2);
    expect((await costOf('{ customers(first: 100) { edges { node { lifetime(horizonDays: 3650) { pAlive } } } } }')) - bare).toBe(100 * 11);
    expect((await costOf('query($h: Int!) { customers(first: 100) { edges { node { lifetime(horizonDays: $h) { pAlive } } } } }', { h: 730 })) - bare).toBe(100 * 3);
  });
});
