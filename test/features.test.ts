// Features in TypeScript: the spec constants, the pure computation on a hand-made case, and parity
// with the Python golden features/sequences after importing the fixture dataset into each database.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DAY_MS,
  FEATURE_COUNT,
  FEATURE_INDEX,
  FEATURE_NAMES,
  FEATURE_SPEC_VERSION,
  SEQUENCE_MAX_ORDERS,
  SEQUENCE_TOKEN_FEATURES,
  SEQUENCE_TOKEN_WIDTH,
  assertSpecMatches,
} from '../src/features/spec.js';
import { computeFeatures, computeSequence, type PaidOrder } from '../src/features/compute.js';
import { featureQueryCount, featuresForCustomers, loadFeatureInputs, loadFeatureInputsPage } from '../src/features/load.js';
import { importFiles } from '../src/ingest/import.js';
import { createTestDatabase, databaseKinds, type TestDatabase } from './helpers/databases.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const readJson = async (p: string) => JSON.parse(await readFile(path.join(root, p), 'utf8')) as unknown;

const MODELS = ['logistic-segment', 'xgboost-segment', 'transformer-segment'] as const;

interface GoldenCustomer {
  customer_id: string;
  features: (number | null)[];
  sequence?: number[][];
  mask_length?: number;
}
interface Golden {
  as_of: string;
  as_of_ms: number;
  feature_names: string[];
  customers: GoldenCustomer[];
}

const FEATURE_TOL = 1e-9;
const SEQUENCE_TOL = 1e-6;

function sameNumber(actual: number, expected: number | null, tol: number): boolean {
  if (expected === null || Number.isNaN(expected)) return Number.isNaN(actual);
  return Math.abs(actual - expected) <= tol;
}

// ─── spec ───────────────────────────────────────────────────────────────────────────────────────

describe('feature spec', () => {
  it('the constants are python-export/features.json, and every model was trained on them', async () => {
    const spec = (await readJson('python-export/features.json')) as {
      spec_version: string;
      features: { name: string }[];
      sequence: { max_orders: number; token_features: { name: string }[] };
    };
    expect(spec.spec_version).toBe(FEATURE_SPEC_VERSION);
    expect(spec.features.map((f) => f.name)).toEqual([...FEATURE_NAMES]);
    expect(FEATURE_COUNT).toBe(27);
    expect(spec.sequence.max_orders).toBe(SEQUENCE_MAX_ORDERS);
    expect(spec.sequence.token_features.map((t) => t.name)).toEqual([...SEQUENCE_TOKEN_FEATURES]);
    assertSpecMatches(spec, { requireSequence: true });
    for (const m of MODELS) {
      assertSpecMatches(await readJson(`models/${m}/1/features.json`), { source: `models/${m}/1/features.json` });
      const golden = (await readJson(`models/${m}/1/golden.json`)) as Golden;
      expect(golden.feature_names).toEqual([...FEATURE_NAMES]);
    }
  });

  it('assertSpecMatches names the first difference', async () => {
    const base = JSON.stringify(await readJson('python-export/features.json'));
    const variant = (edit: (s: any) => void) => {
      const s = JSON.parse(base);
      edit(s);
      return s;
    };
    const src = { source: 'models/x/features.json' };
    const swapped = variant((s) => ([s.features[4], s.features[5]] = [s.features[5], s.features[4]]));
    expect(() => assertSpecMatches(swapped, src)).toThrow(
      'models/x/features.json: feature 4 is "orders_180d", expected "orders_90d"',
    );
    expect(() => assertSpecMatches(variant((s) => s.features.pop()), src)).toThrow(
      'feature 26 is missing: expected "is_female" (model has 26 features, expected 27)',
    );
    expect(() => assertSpecMatches(variant((s) => s.features.push({ name: 'clv' })), src)).toThrow(
      'feature 27 "clv" is not computed here',
    );
    expect(() => assertSpecMatches(variant((s) => (s.sequence.max_orders = 64)), src)).toThrow(
      'sequence.max_orders is 64, expected 32',
    );
    expect(() => assertSpecMatches(variant((s) => (s.sequence.token_features[2].name = 'gap_hours')), src)).toThrow(
      'sequence token feature 2 is "gap_hours", expected "gap_days"',
    );
    expect(() => assertSpecMatches(variant((s) => (s.spec_version = '2.0.0')), src)).toThrow('spec_version "2.0.0" has a different major version');
    expect(() => assertSpecMatches(variant((s) => delete s.sequence), { requireSequence: true })).toThrow('"sequence" is missing');
    expect(() => assertSpecMatches(variant((s) => delete s.sequence))).not.toThrow();
    expect(() => assertSpecMatches(variant((s) => (s.spec_version = '1.0.1')))).not.toThrow();
    expect(() => assertSpecMatches([])).toThrow('not a JSON object');
  });
});

// ─── pure computation ──────────────────────────────────────────────────────────────────────────

describe('computeFeatures / computeSequence (hand-made case)', () => {
  // T = 2026-01-01T00:00Z (a Thursday). Orders (cents):
  //   a  T - 100d + 6h  (2025-09-23 06:00, Tue)   1000  1 item
  //   b  T -  40d       (2025-11-22 00:00, Sat)   2550  2 items
  //   c  T -  10d       (2025-12-22 00:00, Mon)    333  1 item
  //   d  T -  10d + 1h  (same UTC day as c)         7  3 items
  //   e  T +   1d       after T: ignored
  const T = Date.UTC(2026, 0, 1);
  const H = 3_600_000;
  const orders: PaidOrder[] = [
    { orderedAtMs: T - 100 * DAY_MS + 6 * H, amountCents: 1000, itemCount: 1, externalId: 'a' },
    { orderedAtMs: T - 40 * DAY_MS, amountCents: 2550, itemCount: 2, externalId: 'b' },
    { orderedAtMs: T - 10 * DAY_MS, amountCents: 333, itemCount: 1, externalId: 'c' },
    { orderedAtMs: T - 10 * DAY_MS + H, amountCents: 7, itemCount: 3, externalId: 'd' },
    { orderedAtMs: T + DAY_MS, amountCents: 99_999, itemCount: 9, externalId: 'e' },
  ];
  const customer = { createdAt: new Date(T - 200 * DAY_MS), birthDate: '2000-01-01', gender: 'F' };
  const f = computeFeatures(customer, orders, T);
  const get = (name: (typeof FEATURE_NAMES)[number]) => f[FEATURE_INDEX[name]];

  it('recency, first order, tenure, counts and purchase days per window', () => {
    expect(f).toBeInstanceOf(Float64Array);
    expect(f.length).toBe(27);
    expect(get('recency_days')).toBe((10 * DAY_MS - H) / DAY_MS);
    expect(get('days_since_first_order')).toBe(100 - 0.25);
    expect(get('tenure_days')).toBe(200);
    expect([get('orders_30d'), get('orders_90d'), get('orders_180d'), get('orders_365d'), get('orders_all')]).toEqual([2, 3, 4, 4, 4]);
    // c and d share a UTC day: one purchase day.
    expect([get('purchase_days_30d'), get('purchase_days_90d'), get('purchase_days_180d'), get('purchase_days_365d'), get('purchase_days_all')]).toEqual([1, 2, 3, 3, 3]);
  });

  it('spend windows in exact cents, monetary, items, trends', () => {
    expect(get('spend_30d')).toBe(3.4); // 333 + 7 cents
    expect(get('spend_90d')).toBe(28.9); // + 2550
    expect(get('spend_180d')).toBe(38.9); // + 1000
    expect(get('spend_365d')).toBe(38.9);
    expect(get('spend_all')).toBe(38.9);
    expect(get('monetary_mean')).toBe(38.9 / 4);
    expect(get('monetary_max')).toBe(25.5);
    expect(get('items_all')).toBe(7);
    // (T-90d, T] vs (T-180d, T-90d]: 28.90 - 10.00; 3 orders - 1 order.
    expect(get('spend_trend_90d')).toBe(18.9);
    expect(get('orders_trend_90d')).toBe(2);
  });

  it('inter-purchase time over distinct UTC days (population std)', () => {
    // Purchase days: T-100d (the 06:00 order is on that UTC day), T-40d, T-10d → gaps 60, 30.
    expect(get('ipt_mean_days')).toBe(45);
    expect(get('ipt_std_days')).toBe(15);
  });

  it('demographics', () => {
    expect(get('age_years')).toBe((T - Date.UTC(2000, 0, 1)) / DAY_MS / 365.25);
    expect(get('is_female')).toBe(1);
    const m = computeFeatures({ createdAt: null, birthDate: null, gender: 'M' }, orders, T);
    expect(m[FEATURE_INDEX.is_female]).toBe(0);
    expect(m[FEATURE_INDEX.tenure_days]).toBeNaN();
    expect(m[FEATURE_INDEX.age_years]).toBeNaN();
    const u = computeFeatures({ createdAt: null, birthDate: null, gender: 'X' }, orders, T);
    expect(u[FEATURE_INDEX.is_female]).toBeNaN();
  });

  it('no counted order: NaN where undefined, 0 for counts and sums; fewer than 3 purchase days: std NaN', () => {
    const none = computeFeatures(customer, orders.slice(4), T);
    for (const name of ['recency_days', 'days_since_first_order', 'monetary_mean', 'monetary_max', 'ipt_mean_days', 'ipt_std_days'] as const) {
      expect(none[FEATURE_INDEX[name]]).toBeNaN();
    }
    for (const name of ['orders_all', 'purchase_days_all', 'spend_all', 'items_all', 'spend_trend_90d', 'orders_trend_90d'] as const) {
      expect(none[FEATURE_INDEX[name]]).toBe(0);
    }
    const two = computeFeatures(customer, orders.slice(1, 4), T); // purchase days T-40d, T-10d
    expect(two[FEATURE_INDEX.ipt_mean_days]).toBe(30);
    expect(two[FEATURE_INDEX.ipt_std_days]).toBeNaN();
  });

  it('a purchase day straddling a window edge counts inside the window', () => {
    // Two orders on one UTC day, the first just outside (T-30d], the second inside.
    const edge: PaidOrder[] = [
      { orderedAtMs: T - 30 * DAY_MS, amountCents: 100, itemCount: 1, externalId: 'x' },
      { orderedAtMs: T - 30 * DAY_MS + 1, amountCents: 100, itemCount: 1, externalId: 'y' },
    ];
    const e = computeFeatures(customer, edge, T);
    expect(e[FEATURE_INDEX.orders_30d]).toBe(1);
    expect(e[FEATURE_INDEX.purchase_days_30d]).toBe(1);
    expect(e[FEATURE_INDEX.purchase_days_all]).toBe(1);
  });

  it('an order without amount (--no-amounts) counts, but no money feature whose window holds it pretends to know its amount', () => {
    // Order a (T - 100d) has no known amount: inside 180d/365d/all, outside 30d/90d.
    const unknownA = orders.map((o) => (o.externalId === 'a' ? { ...o, amountCents: 0, amountKnown: false } : o));
    const u = computeFeatures(customer, unknownA, T);
    const val = (name: (typeof FEATURE_NAMES)[number]) => u[FEATURE_INDEX[name]];
    expect([val('spend_30d'), val('spend_90d')]).toEqual([get('spend_30d'), get('spend_90d')]);
    for (const name of ['spend_180d', 'spend_365d', 'spend_all', 'monetary_mean', 'monetary_max', 'spend_trend_90d'] as const) expect(val(name), name).toBeNaN();
    for (const name of ['orders_all', 'orders_180d', 'purchase_days_all', 'items_all', 'recency_days', 'days_since_first_order', 'ipt_mean_days'] as const) {
      expect(val(name), name).toBe(get(name));
    }
    const seq = computeSequence(unknownA, T).tokens;
    expect(seq[0]).toBe(0); // its token amount is 0, and the position is reported as unknown
    expect(computeSequence(unknownA, T).unknownAmounts).toEqual([0]);
    expect(computeSequence(orders, T).unknownAmounts).toEqual([]);
    expect(seq[SEQUENCE_TOKEN_WIDTH]).toBe(25.5);
  });

  it('rejects orders that are not in time order', () => {
    expect(() => computeFeatures(customer, [orders[1], orders[0]], T)).toThrow(/sorted/);
  });

  it('sequence: oldest first, raw tokens, gap from the previous order, Monday = 0, zero padding', () => {
    const { tokens, length } = computeSequence(orders, T);
    expect(length).toBe(4);
    expect(tokens.length).toBe(SEQUENCE_MAX_ORDERS * SEQUENCE_TOKEN_WIDTH);
    const row = (i: number) => Array.from(tokens.subarray(i * 5, i * 5 + 5));
    expect(row(0)).toEqual([10, 1, 0, 99.75, 1]); // Tuesday
    expect(row(1)).toEqual([25.5, 2, 59.75, 40, 5]); // Saturday
    expect(row(2)).toEqual([3.33, 1, 30, 10, 0]); // Monday
    expect(row(3)).toEqual([0.07, 3, 1 / 24, (10 * DAY_MS - H) / DAY_MS, 0]);
    expect(tokens.subarray(4 * 5).every((v) => v === 0)).toBe(true);
  });

  it('sequence keeps the last 32 orders; the first kept gap is measured from the dropped order before it', () => {
    const many: PaidOrder[] = Array.from({ length: 40 }, (_, i) => ({
      orderedAtMs: T - (40 - i) * 2 * DAY_MS,
      amountCents: i * 100,
      itemCount: 1,
      externalId: `o${String(i).padStart(2, '0')}`,
    }));
    const { tokens, length } = computeSequence(many, T, new Float32Array(32 * 5));
    expect(tokens).toBeInstanceOf(Float32Array);
    expect(length).toBe(32);
    expect(tokens[0]).toBe(8); // order 8 is the oldest kept
    expect(tokens[2]).toBe(2); // gap to order 7, not 0
    expect(tokens[31 * 5 + 3]).toBe(2);
  });
});

// ─── database parity with the Python golden files ─────────────────────────────────────────────

const goldens = await Promise.all(MODELS.map(async (m) => [m, (await readJson(`models/${m}/1/golden.json`)) as Golden] as const));

describe.each(databaseKinds)('features from the database (%s)', (kind) => {
  let t: TestDatabase;
  /** fixture customer_id (Customer.externalId) → Customer.id */
  const idOf = new Map<string, string>();

  beforeAll(async () => {
    t = await createTestDatabase(kind);
    // The fixture as the Python side read it (fx-0006 has gender "X": is_female NaN).
    await importFiles(t.db, {
      orders: path.join(root, 'test/fixtures/models/orders.csv'),
      customers: path.join(root, 'test/fixtures/models/customers.csv'),
    });
    for (const c of await t.db.prisma.customer.findMany({ select: { id: true, externalId: true } })) idOf.set(c.externalId, c.id);
  });
  afterAll(async () => {
    await t?.drop();
  });

  it.each(goldens.map(([m, g]) => [m, g] as const))('%s golden features (≤ 1e-9) in one SQL statement', async (_model, golden) => {
    const asOf = new Date(golden.as_of);
    expect(asOf.getTime()).toBe(golden.as_of_ms);
    const ids = golden.customers.map((c) => idOf.get(c.customer_id)!);
    expect(ids.every(Boolean)).toBe(true);

    const before = t.db.queryCount();
    const moduleBefore = featureQueryCount();
    const statements: number[] = [];
    const result = await featuresForCustomers(t.db, ids, asOf, { onQuery: (q) => statements.push(q.customers) });
    expect(t.db.queryCount() - before).toBe(1);
    expect(featureQueryCount() - moduleBefore).toBe(1);
    expect(statements).toEqual([ids.length]);
    expect(result.size).toBe(golden.customers.length);

    let maxDiff = 0;
    const mismatches: string[] = [];
    for (const g of golden.customers) {
      const { features } = result.get(idOf.get(g.customer_id)!)!;
      expect(features.length).toBe(FEATURE_COUNT);
      g.features.forEach((expected, i) => {
        const actual = features[i];
        if (!sameNumber(actual, expected, FEATURE_TOL)) mismatches.push(`${g.customer_id} ${FEATURE_NAMES[i]}: ${actual} ≠ ${expected}`);
        if (expected !== null) maxDiff = Math.max(maxDiff, Math.abs(actual - expected));
      });
    }
    expect(mismatches).toEqual([]);
    expect(maxDiff).toBeLessThanOrEqual(FEATURE_TOL);
  });

  it('transformer golden sequences and mask lengths', async () => {
    const golden = goldens.find(([m]) => m === 'transformer-segment')![1];
    const asOf = new Date(golden.as_of);
    const ids = golden.customers.map((c) => idOf.get(c.customer_id)!);
    const result = await featuresForCustomers(t.db, ids, asOf);
    const inputs = await loadFeatureInputs(t.db, ids, asOf);
    for (const g of golden.customers) {
      const id = idOf.get(g.customer_id)!;
      const { sequence, sequenceLength } = result.get(id)!;
      expect(sequenceLength, g.customer_id).toBe(g.mask_length);
      expect(g.sequence!.length).toBe(g.mask_length);
      expect(sequence).toBeInstanceOf(Float32Array);
      expect(sequence.length).toBe(SEQUENCE_MAX_ORDERS * SEQUENCE_TOKEN_WIDTH);
      // float64 tokens against the golden values…
      const exact = computeSequence(inputs.get(id)!.paidOrders, asOf.getTime()).tokens;
      g.sequence!.forEach((token, p) =>
        token.forEach((expected, k) => {
          expect(Math.abs(exact[p * 5 + k] - expected), `${g.customer_id}[${p}][${k}]`).toBeLessThanOrEqual(SEQUENCE_TOL);
          // …and the float32 input the model receives is the float32 rounding of the same value.
          expect(sequence[p * 5 + k], `${g.customer_id}[${p}][${k}] f32`).toBe(Math.fround(exact[p * 5 + k]));
          expect(Math.abs(sequence[p * 5 + k] - expected)).toBeLessThanOrEqual(Math.max(SEQUENCE_TOL, Math.abs(expected) * 2 ** -23));
        }),
      );
      expect(sequence.subarray(sequenceLength * 5).every((v) => v === 0)).toBe(true);
    }
  });

  it('unknown and malformed ids are absent; duplicates are answered once; an empty batch sends nothing', async () => {
    const known = idOf.get('fx-0001')!;
    const before = t.db.queryCount();
    const result = await featuresForCustomers(t.db, [known, '00000000-0000-4000-8000-000000000000', 'not-a-uuid', known], new Date('2026-01-01T00:00:00Z'));
    expect([...result.keys()]).toEqual([known]);
    expect(t.db.queryCount() - before).toBe(1);
    expect((await featuresForCustomers(t.db, ['nope'], new Date())).size).toBe(0);
    expect(t.db.queryCount() - before).toBe(1);
  });

  it('a customer without orders gets counts 0 and NaN recency', async () => {
    const golden = goldens[0][1];
    const noOrders = golden.customers.find((c) => c.features[FEATURE_INDEX.orders_all] === 0)!;
    expect(noOrders).toBeDefined();
    const r = await featuresForCustomers(t.db, [idOf.get(noOrders.customer_id)!], new Date(golden.as_of));
    const f = r.get(idOf.get(noOrders.customer_id)!)!.features;
    expect(f[FEATURE_INDEX.orders_all]).toBe(0);
    expect(f[FEATURE_INDEX.recency_days]).toBeNaN();
    expect(r.get(idOf.get(noOrders.customer_id)!)!.sequenceLength).toBe(0);
  });

  it('leakage guard: an order after asOf, a refunded and a cancelled order change no feature', async () => {
    const asOf = new Date(goldens[0][1].as_of);
    const customerId = idOf.get('fx-0002')!;
    const before = (await featuresForCustomers(t.db, [customerId], asOf)).get(customerId)!;
    const base = { customerId, amount: '500.00', itemCount: 5, currency: 'EUR' };
    await t.db.prisma.order.createMany({
      data: [
        { ...base, externalId: 'leak-after', orderedAt: new Date(asOf.getTime() + 1), status: 'paid' },
        { ...base, externalId: 'leak-refunded', orderedAt: new Date(asOf.getTime() - DAY_MS), status: 'refunded' },
        { ...base, externalId: 'leak-cancelled', orderedAt: new Date(asOf.getTime() - 2 * DAY_MS), status: 'cancelled' },
      ],
    });
    const after = (await featuresForCustomers(t.db, [customerId], asOf)).get(customerId)!;
    expect(Array.from(after.features)).toEqual(Array.from(before.features));
    expect(Array.from(after.sequence)).toEqual(Array.from(before.sequence));
    expect(after.sequenceLength).toBe(before.sequenceLength);
    // The same paid order at asOf itself (inclusive) does count.
    await t.db.prisma.order.create({ data: { ...base, externalId: 'at-asof', orderedAt: asOf, status: 'paid' } });
    const inclusive = (await featuresForCustomers(t.db, [customerId], asOf)).get(customerId)!;
    expect(inclusive.features[FEATURE_INDEX.orders_all]).toBe(before.features[FEATURE_INDEX.orders_all] + 1);
    expect(inclusive.features[FEATURE_INDEX.recency_days]).toBe(0);
    await t.db.prisma.order.deleteMany({ where: { externalId: { in: ['leak-after', 'leak-refunded', 'leak-cancelled', 'at-asof'] } } });
  });

  it('an order stored with amountKnown = false reaches the features as unknown (spend NaN), not as 0.00', async () => {
    const asOf = new Date(goldens[0][1].as_of);
    const customerId = idOf.get('fx-0002')!;
    const before = (await featuresForCustomers(t.db, [customerId], asOf)).get(customerId)!;
    await t.db.prisma.order.create({
      data: { customerId, externalId: 'no-amount', amount: '0.00', amountKnown: false, itemCount: 2, currency: 'EUR', orderedAt: new Date(asOf.getTime() - DAY_MS) },
    });
    try {
      const after = (await featuresForCustomers(t.db, [customerId], asOf)).get(customerId)!;
      expect(after.features[FEATURE_INDEX.orders_all]).toBe(before.features[FEATURE_INDEX.orders_all] + 1);
      expect(after.features[FEATURE_INDEX.spend_30d]).toBeNaN();
      expect(after.features[FEATURE_INDEX.spend_all]).toBeNaN();
      expect(after.features[FEATURE_INDEX.monetary_max]).toBeNaN();
    } finally {
      await t.db.prisma.order.deleteMany({ where: { externalId: 'no-amount' } });
    }
  });

  it('orders at the same instant come in code-point order of externalId, whatever order they were stored in', async () => {
    const asOf = new Date('2025-07-01T00:00:00.000Z');
    const customerId = idOf.get('fx-0003')!;
    const at = new Date(asOf.getTime() - 3 * DAY_MS);
    // U+1F600 is above U+FF5E in code points, below it in UTF-16 units (JavaScript's `<`).
    const stored = ['tie-b', 'tie-\u{1F600}', 'tie-\u{FF5E}', 'tie-a'];
    for (const externalId of stored) {
      await t.db.prisma.order.create({ data: { customerId, externalId, amount: '1.00', itemCount: 1, currency: 'EUR', orderedAt: at } });
    }
    try {
      const inputs = await loadFeatureInputs(t.db, [customerId], asOf);
      const ties = inputs.get(customerId)!.paidOrders.filter((o) => o.orderedAtMs === at.getTime()).map((o) => o.externalId);
      expect(ties).toEqual(['tie-a', 'tie-b', 'tie-\u{FF5E}', 'tie-\u{1F600}']);
      const page = await loadFeatureInputsPage(t.db, { after: null, limit: 100_000 }, asOf);
      const same = page.inputs[page.ids.indexOf(customerId)].paidOrders.filter((o) => o.orderedAtMs === at.getTime()).map((o) => o.externalId);
      expect(same).toEqual(ties);
    } finally {
      await t.db.prisma.order.deleteMany({ where: { externalId: { in: stored } } });
    }
  });

  it('all fixture customers in one statement, ties on orderedAt broken by externalId', async () => {
    const asOf = new Date('2025-07-01T00:00:00.000Z');
    const ids = [...idOf.values()];
    const before = t.db.queryCount();
    const inputs = await loadFeatureInputs(t.db, ids, asOf);
    expect(t.db.queryCount() - before).toBe(1);
    expect(inputs.size).toBe(ids.length);
    let orders = 0;
    for (const { paidOrders } of inputs.values()) {
      orders += paidOrders.length;
      for (let i = 1; i < paidOrders.length; i++) {
        const a = paidOrders[i - 1];
        const b = paidOrders[i];
        expect(a.orderedAtMs < b.orderedAtMs || (a.orderedAtMs === b.orderedAtMs && a.externalId < b.externalId)).toBe(true);
      }
      for (const o of paidOrders) {
        expect(o.orderedAtMs).toBeLessThanOrEqual(asOf.getTime());
        expect(Number.isInteger(o.amountCents)).toBe(true);
      }
    }
    const paidUpToAsOf = await t.db.prisma.order.count({ where: { status: 'paid', orderedAt: { lte: asOf } } });
    expect(orders).toBe(paidUpToAsOf);
  });
});
