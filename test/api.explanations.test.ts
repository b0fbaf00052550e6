// Explanations over real HTTP with real API keys: a contribution's value, display text, label and
// the summary follow the field policy of the customer data they are derived from (a `bi` key that
// reads `birthDate: null` must not read `age_years`; a `frontend` key denied `orders`, `stats`,
// `gender`, `birthDate` and `createdAt` must not read them through contributions, nor learn how
// many orders there are from the sequence model's per-order ones). A scoring time of the caller's
// choosing is refused to a role that may not read every input of the models: asked day by day,
// the answers would show when the orders were placed or the birthday. And the summary says what is
// true ("Lapsing is unlikely (2 %)"), with numbers rounded for people and exact in `value`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FEATURES, FEATURE_SOURCES, SEQUENCE_SOURCES, type FeatureSource } from '../src/features/spec.js';
import { createApiKey } from '../src/auth/api-keys.js';
import { sourceFields } from '../src/graphql/auth/derived-data.js';
import { ruleFor } from '../src/graphql/auth/policy.js';
import { roles, type Role } from '../src/auth/principal.js';
import { getSchema } from '../src/graphql/schema.js';
import { featureLabel, presentExplanation, featureInputs } from '../src/scoring/explanation.js';
import { databaseKinds } from './helpers/databases.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const models = ['xgboost-segment', 'logistic-segment', 'transformer-segment'] as const;
const segments = ['lapsing', 'active', 'high_value'] as const;
const aliasOf = { 'xgboost-segment': 'x', 'logistic-segment': 'l', 'transformer-segment': 't' } as const;

const QUERY = `query($id: ID!, $asOf: ScoringTime) { customer(id: $id) {
  ${models.map((m) => `${aliasOf[m]}: prediction(model: "${m}", asOf: $asOf) { ...P }`).join('\n  ')}
  d: explanation(top: 100, asOf: $asOf) { ...E }
} }
fragment P on Prediction { model segment segmentProbabilities { segment probability }
  ${segments.map((s) => `${s}: explanation(top: 100, segment: "${s}") { ...E }`).join(' ')} }
fragment E on Explanation { segment summary baseValue margin restContribution contributions { feature label value displayValue withheld contribution } }`;

interface Contribution {
  feature: string;
  label: string;
  value: number | null;
  displayValue: string | null;
  withheld: boolean;
  contribution: number;
}
interface Explanation {
  segment: string;
  summary: string;
  baseValue: number;
  margin: number;
  restContribution: number;
  contributions: Contribution[];
}
type PredictionData = { model: string; segment: string; segmentProbabilities: { segment: string; probability: number }[] } & Record<string, Explanation>;

/** What the policy says, independently of the code under test: may `role` read all of `sources`? */
const expectVisible = (role: Role, sources: readonly FeatureSource[]) =>
  sources.every((s) => sourceFields[s].every((key) => ruleFor(role, ...(key.split('.') as [string, string])) === 'allow'));
const sourcesOf = (feature: string) => (feature.startsWith('order[') ? SEQUENCE_SOURCES : FEATURES.find((f) => f.name === feature)!.sources);
/** The shipped models read every source (orders, createdAt, birthDate, gender): choosing asOf needs all of them. */
const mayChooseAsOf = (role: Role) => expectVisible(role, FEATURE_SOURCES);
const CHOSEN = '2025-12-24T06:07:08.009Z';

describe('every feature declares the customer data it is derived from', () => {
  it('has non-empty sources, each mapped to fields of Customer that the policy governs', async () => {
    const schema = await getSchema();
    const customerFields = Object.keys((schema.getType('Customer') as any).getFields());
    for (const f of FEATURES) {
      expect(f.sources.length, f.name).toBeGreaterThan(0);
      for (const s of f.sources) expect(FEATURE_SOURCES, f.name).toContain(s);
    }
    for (const source of FEATURE_SOURCES) {
      expect(sourceFields[source].length, source).toBeGreaterThan(0);
      for (const key of sourceFields[source]) {
        const [type, field] = key.split('.');
        expect(type).toBe('Customer');
        expect(customerFields, key).toContain(field);
      }
    }
    expect(SEQUENCE_SOURCES).toEqual(['orders']);
    // The demographic features name their fields (the leak the audit found).
    expect(FEATURES.find((f) => f.name === 'age_years')!.sources).toEqual(['birthDate']);
    expect(FEATURES.find((f) => f.name === 'is_female')!.sources).toEqual(['gender']);
  });
});

describe.each(databaseKinds)('explanations follow the field policy on %s', (kind) => {
  let t: TestServer;
  let alice: string;
  const keys = {} as Record<Role, string>;
  const answers = new Map<string, any>(); // `${role}|${asOf}` → customer
  const refusals = new Map<Role, any[]>(); // role → the errors of its request at a chosen asOf

  beforeAll(async () => {
    t = await startTestServer(kind, { AUTH_MODE: 'required', SCORING_AS_OF: '2026-01-01T23:59:59.999Z' });
    const c = await t.db.prisma.customer.create({
      data: { externalId: 'alice', name: 'Alice Archer', email: 'alice@example.com', gender: 'F', birthDate: new Date('1980-02-03'), country: 'DE', createdAt: new Date('2023-05-06T10:11:12.345Z') },
    });
    alice = c.id;
    const orders = [
      ['2025-01-14T09:13:41.127Z', '23.40'],
      ['2025-03-02T18:02:11.001Z', '61.99'],
      ['2025-05-20T07:45:00.550Z', '12.05'],
      ['2025-08-09T21:30:30.303Z', '140.00'],
      ['2025-10-28T11:11:11.111Z', '35.75'],
      ['2025-12-03T15:16:17.181Z', '88.10'],
      ['2025-12-21T08:09:10.111Z', '19.99'],
    ];
    for (const [i, [at, amount]] of orders.entries()) {
      await t.db.prisma.order.create({ data: { customerId: alice, externalId: `alice-${i}`, orderedAt: new Date(at), amount, itemCount: 1 + (i % 3), currency: 'USD' } });
    }
    keys.admin = (await createApiKey(t.db, { role: 'admin' })).key;
    keys.bi = (await createApiKey(t.db, { role: 'bi' })).key;
    keys.frontend = (await createApiKey(t.db, { role: 'frontend', customer: 'alice' })).key;
    // Each role, at the default scoring time and at one the caller chose.
    for (const role of roles) {
      for (const asOf of [null, CHOSEN]) {
        const res = await t.post(JSON.stringify({ query: QUERY, variables: { id: alice, asOf } }), { authorization: `Bearer ${keys[role]}` });
        expect(res.status).toBe(200);
        if (asOf && !mayChooseAsOf(role)) {
          refusals.set(role, res.json.errors);
          continue;
        }
        expect(res.json.errors, `${role} ${asOf}`).toBeUndefined();
        answers.set(`${role}|${asOf}`, res.json.data.customer);
      }
    }
  });

  it('refuses a chosen asOf to every role that may not read all the models\' inputs, and tells nothing at that time', () => {
    expect([...refusals.keys()].sort()).toEqual(['bi', 'frontend']);
    for (const [role, errors] of refusals) {
      // One FORBIDDEN per field that took the asOf: the three predictions and the default explanation.
      expect(errors.map((e: any) => [e.extensions.code, e.extensions.argument]), role).toEqual(Array.from({ length: 4 }, () => ['FORBIDDEN', 'asOf']));
      for (const e of errors) expect(e.message).toMatch(/^Not allowed for this credential: asOf .*omit asOf to use the default scoring time$/);
    }
  });
  afterAll(() => t?.close());

  /** Every explanation of an answer: per model × segment, and the default one. */
  const explanations = (customer: any): [string, Explanation][] => [
    ...models.flatMap((m) => segments.map((s): [string, Explanation] => [`${m}/${s}`, customer[aliasOf[m]][s]])),
    ['default', customer.d],
  ];

  it('admin reads every feature of every model, exactly', () => {
    for (const asOf of [null, CHOSEN]) {
      const customer = answers.get(`admin|${asOf}`);
      for (const [where, e] of explanations(customer)) {
        const model = where.split('/')[0];
        if (model === 'transformer-segment') expect(e.contributions.map((c) => c.feature).sort()).toEqual(Array.from({ length: 7 }, (_, j) => `order[${j}]`).sort());
        else expect(e.contributions.map((c) => c.feature).sort()).toEqual(FEATURES.map((f) => f.name).sort());
        for (const c of e.contributions) {
          expect(c.withheld, `${where} ${c.feature}`).toBe(false);
          expect(c.value, `${where} ${c.feature}`).not.toBeNull();
          expect(c.displayValue, `${where} ${c.feature}`).not.toBeNull();
        }
      }
    }
  });

  it.each(roles)('%s: each contribution is shown or withheld as the policy of its sources says', (role) => {
    let withheldSeen = 0;
    for (const asOf of [null, CHOSEN]) {
      const mine = answers.get(`${role}|${asOf}`);
      if (!mine) continue; // refused (above)
      const admin = answers.get(`admin|${asOf}`);
      const adminByWhere = new Map(explanations(admin));
      for (const [where, e] of explanations(mine)) {
        const full = adminByWhere.get(where)!;
        // Per-order inputs the role may not read are not listed at all (their number is the order
        // count); what they contribute is in restContribution, so the sum still reaches the margin.
        const listed = full.contributions.filter((c) => !c.feature.startsWith('order[') || expectVisible(role, SEQUENCE_SOURCES));
        expect(e.contributions.map((c) => c.feature)).toEqual(listed.map((c) => c.feature));
        const dropped = full.contributions.filter((c) => !listed.includes(c)).reduce((sum, c) => sum + c.contribution, 0);
        expect(e.restContribution).toBeCloseTo(full.restContribution + dropped, 9);
        expect(e.baseValue + e.contributions.reduce((sum, c) => sum + c.contribution, 0) + e.restContribution).toBeCloseTo(e.margin, 6);
        const withheldClauses: string[] = [];
        for (const [i, c] of e.contributions.entries()) {
          const truth = listed[i];
          const at = `${role} ${asOf} ${where} ${c.feature}`;
          // The contribution (the model's reasoning) is kept; the name is not secret.
          expect(c.contribution, at).toBe(truth.contribution);
          if (expectVisible(role, sourcesOf(c.feature))) {
            expect(c.withheld, at).toBe(false);
            expect(c.value, at).toBe(truth.value);
            expect(c.displayValue, at).toBe(truth.displayValue);
            expect(c.label, at).toBe(truth.label);
          } else {
            withheldSeen += 1;
            expect(c.withheld, at).toBe(true);
            expect(c.value, at).toBeNull();
            expect(c.displayValue, at).toBeNull();
            expect(c.label, at).not.toContain('$');
            expect(c.label, at).not.toMatch(/\d{4}-\d{2}-\d{2}/);
            if (!c.feature.startsWith('order[')) expect(c.label, at).toBe(featureLabel(c.feature));
            withheldClauses.push(truth.displayValue!);
          }
        }
        // The summary states no withheld value.
        const at = `${role} ${asOf} ${where}: ${e.summary}`;
        if (withheldClauses.length > 0) {
          if (!expectVisible(role, ['birthDate'])) expect(e.summary, at).not.toMatch(/years old|\b\d+ years?\b/);
          if (!expectVisible(role, ['gender'])) expect(e.summary, at).not.toMatch(/\b(fe)?male\b/);
          if (!expectVisible(role, ['orders'])) {
            expect(e.summary, at).not.toContain('$');
            expect(e.summary, at).not.toMatch(/\d{4}-\d{2}-\d{2}|\bago\b|\d+ (orders?|items?)\b|\d+ days? (ago|old|apart)|vary by|rose by|fell by/);
          }
        }
        if (withheldClauses.length === e.contributions.length) {
          // Nothing readable: the only numbers left are probabilities (which the role reads in segmentProbabilities).
          expect(e.summary.replace(/\(<?>?\d+ %(?: against <?>?\d+ %)?(?:;[^)]*)?\)/, '').replace(/last \d+ days/g, ''), at).not.toMatch(/\d/);
        }
      }
    }
    // The anchors of the policy as it stands: admin sees everything; bi loses the age (birthDate
    // is masked), frontend every value (it may read none of the sources).
    if (role === 'admin') expect(withheldSeen).toBe(0);
    if (role === 'bi') {
      const d = answers.get('bi|null').d as Explanation;
      const withheld = d.contributions.filter((c) => c.withheld).map((c) => c.feature);
      expect(withheld).toContain('age_years');
      expect(withheld).not.toContain('spend_all');
    }
    if (role === 'frontend') {
      const mine = answers.get('frontend|null');
      for (const [, e] of explanations(mine)) expect(e.contributions.every((c) => c.withheld)).toBe(true);
      // Alice has 7 orders; the sequence model's explanations list none of them, and say nothing of them.
      for (const s of segments) {
        expect(mine.t[s].contributions).toEqual([]);
        expect(mine.t[s].summary).toMatch(/, with no single input standing out\.$/);
      }
    }
  });
});

describe('summaries say what is true, with numbers rounded for people', () => {
  let t: TestServer;
  let id: string;
  beforeAll(async () => {
    t = await startTestServer('pglite', { SCORING_AS_OF: '2026-01-01T23:59:59.999Z' });
    const c = await t.db.prisma.customer.create({ data: { externalId: 'bob', name: 'Bob', gender: 'M', birthDate: new Date('1971-09-30'), createdAt: new Date('2015-01-01T13:00:00.123Z') } });
    id = c.id;
    // A frequent, recent, big spender: lapsing is unlikely for every model.
    for (let i = 0; i < 30; i++) {
      const at = new Date(Date.parse('2025-01-03T10:17:23.456Z') + i * 12 * 86_400_000 + i * 3_601_017);
      await t.db.prisma.order.create({ data: { customerId: id, externalId: `bob-${i}`, orderedAt: at, amount: (180 + i * 7.31).toFixed(2), itemCount: 3, currency: 'USD' } });
    }
  });
  afterAll(() => t?.close());

  it('opens with how likely the explained segment is, and its percentage', async () => {
    const res = await t.post(JSON.stringify({ query: QUERY, variables: { id, asOf: null } }));
    expect(res.json.errors).toBeUndefined();
    const customer = res.json.data.customer;
    let unlikely = 0;
    const labelOf = (s: string) => (s === 'high_value' ? 'High value' : s.charAt(0).toUpperCase() + s.slice(1));
    const pctOf = (q: number) => (q < 0.005 ? '<1 %' : q > 0.995 ? '>99 %' : `${Math.round(q * 100)} %`);
    for (const m of models) {
      const p: PredictionData = customer[aliasOf[m]];
      const top = p.segmentProbabilities.reduce((a, b) => (b.probability > a.probability ? b : a));
      for (const s of segments) {
        const probability = p.segmentProbabilities.find((x) => x.segment === s)!.probability;
        const label = labelOf(s);
        const pct = pctOf(probability);
        const summary = p[s].summary;
        const than = `${labelOf(top.segment).toLowerCase()}`;
        const opening =
          probability >= 0.5
            ? `${label} is likely (${pct})`
            : top.segment === s
              ? `${label} is the most likely segment (${pct})`
              : s === p.segment
                ? `${label} is the predicted segment, though ${than} is more probable (${pct} against ${pctOf(top.probability)}; the decision rule weighs ${label.toLowerCase()} up)`
                : probability < 0.2
                  ? `${label} is unlikely (${pct})`
                  : `${label} is less likely than ${than} (${pct} against ${pctOf(top.probability)})`;
        expect(summary.startsWith(`${opening}, `), `${m} ${s}: ${summary}`).toBe(true);
        expect(summary).not.toMatch(/mostly because/);
        if (s !== p.segment && probability < 0.05) unlikely += 1;
      }
    }
    // The case of the audit: a segment the customer is very unlikely to be in.
    expect(customer.x.lapsing.summary).toMatch(/^Lapsing is unlikely/);
    expect(unlikely).toBeGreaterThan(0);
  });

  it('names what pushes away from an unlikely segment and towards a likely one', () => {
    const names = ['recency_days', 'orders_all', 'spend_all'];
    const inputs = featureInputs(names, Float64Array.from([3.2, 40, 9001.5]), 'USD');
    const attribution = { base: [0], margins: [-4], contributions: [Float64Array.from([-3, 0.5, -1.5])] };
    const away = presentExplanation(attribution, 0, 'lapsing', inputs, 3, { probability: 0.0175, predicted: false, moreProbable: { segment: 'high_value', probability: 0.9 } });
    expect(away.summary).toBe('Lapsing is unlikely (2 %), mainly because the last order was 3 days ago and total spend is $9001.50.');
    const towards = presentExplanation(attribution, 0, 'lapsing', inputs, 3, { probability: 0.81, predicted: true, moreProbable: null });
    expect(towards.summary).toBe('Lapsing is likely (81 %), mainly because there were 40 orders in total.');
  });

  it('never calls a segment the most likely when the decision rule predicts it over a more probable one', () => {
    const names = ['recency_days', 'orders_all', 'spend_all'];
    const inputs = featureInputs(names, Float64Array.from([3.2, 40, 9001.5]), 'USD');
    const attribution = { base: [0], margins: [-1], contributions: [Float64Array.from([-3, 0.5, -1.5])] };
    // The audit's customer: lapsing 42 %, active 33 %, high value 26 %, and the class weights predict high value.
    const predicted = presentExplanation(attribution, 0, 'high_value', inputs, 3, { probability: 0.26, predicted: true, moreProbable: { segment: 'lapsing', probability: 0.42 } });
    expect(predicted.summary).toBe(
      'High value is the predicted segment, though lapsing is more probable (26 % against 42 %; the decision rule weighs high value up), mainly because there were 40 orders in total.',
    );
    // The most probable segment, not predicted: still the most likely, with what pushes towards it.
    const mostProbable = presentExplanation(attribution, 0, 'lapsing', inputs, 3, { probability: 0.42, predicted: false, moreProbable: null });
    expect(mostProbable.summary).toBe('Lapsing is the most likely segment (42 %), mainly because there were 40 orders in total.');
    // Neither predicted nor most probable, but not unlikely either.
    const less = presentExplanation(attribution, 0, 'active', inputs, 3, { probability: 0.33, predicted: false, moreProbable: { segment: 'lapsing', probability: 0.42 } });
    expect(less.summary).toBe('Active is less likely than lapsing (33 % against 42 %), mainly because the last order was 3 days ago and total spend is $9001.50.');
  });

  it('rounds values for people (summary, displayValue, labels) and keeps them exact in value', async () => {
    const res = await t.post(JSON.stringify({ query: QUERY, variables: { id, asOf: '2025-12-30T17:45:12.345Z' } }));
    expect(res.json.errors).toBeUndefined();
    const customer = res.json.data.customer;
    let inexact = 0;
    for (const key of ['x', 'l', 't'] as const) {
      for (const s of segments) {
        const e: Explanation = customer[key][s];
        expect(e.summary).not.toMatch(/\d\.\d{3,}/);
        for (const c of e.contributions) {
          expect(c.label).not.toMatch(/\d\.\d{3,}/);
          expect(c.displayValue, c.feature).not.toMatch(/\d\.\d{3,}/);
          expect(c.displayValue, c.feature).toMatch(/^([−+]?\$\d+\.\d{2}|[−+]?\d+( [a-z]+)?|female|male)$/);
          if (/_days$|^recency_days$/.test(c.feature) && c.value !== null && !Number.isInteger(c.value)) {
            inexact += 1;
            expect(c.displayValue).toBe(`${Math.round(c.value)} ${Math.round(c.value) === 1 ? 'day' : 'days'}`);
          }
        }
        const age = e.contributions.find((c) => c.feature === 'age_years');
        if (age) {
          expect(age.value).toBeGreaterThan(54.2);
          expect(age.value).toBeLessThan(54.3); // exact: (asOf − birth date) / 365.25 days
          expect(age.displayValue).toBe('54 years');
        }
      }
    }
    expect(inexact).toBeGreaterThan(0);
  });

  it('states amounts in the currency the model was trained on, not always in dollars', async () => {
    const one = `query($id: ID!) { customer(id: $id) {
      x: prediction(model: "xgboost-segment") { explanation(top: 100) { summary contributions { feature displayValue } } }
      t: prediction(model: "transformer-segment") { explanation(top: 3) { contributions { label displayValue } } } } }`;
    const cards = ['xgboost-segment', 'transformer-segment'].map((m) => t.scoring.model(m).card as unknown as { training_data: Record<string, unknown> });
    const before = cards.map((c) => c.training_data.currency);
    try {
      for (const c of cards) c.training_data.currency = 'CHF';
      const chf = (await t.post(JSON.stringify({ query: one, variables: { id } }))).json.data.customer;
      expect(chf.x.explanation.contributions.find((c: Contribution) => c.feature === 'spend_all').displayValue).toMatch(/^\d+\.\d{2} CHF$/);
      expect(chf.x.explanation.summary).not.toContain('$');
      for (const c of chf.t.explanation.contributions) expect(c.label).toMatch(/^Order of \d{4}-\d{2}-\d{2} \(\d+\.\d{2} CHF\)$/);
      for (const c of cards) c.training_data.currency = 'EUR';
      const eur = (await t.post(JSON.stringify({ query: one, variables: { id } }))).json.data.customer;
      expect(eur.x.explanation.contributions.find((c: Contribution) => c.feature === 'spend_all').displayValue).toMatch(/^€\d+\.\d{2}$/);
    } finally {
      cards.forEach((c, i) => (before[i] === undefined ? delete c.training_data.currency : (c.training_data.currency = before[i])));
    }
  });
});
