// Issue 9 item 13: a date-only scoring time means the END of that UTC day everywhere — in
// SCORING_AS_OF, in `npm run score -- --as-of` and in the GraphQL `asOf` argument (literal or
// variable) — like the default scoring time; and `npm run score -- --max-pages 0` is a usage error
// instead of a run left "interrupted" after scoring nothing.
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';
import { endOfUtcDay, parseScoringTime } from '../src/scoring/as-of.js';
import { scoreCustomers, ScoreOptionsError } from '../src/scoring/batch.js';
import { databaseKinds } from './helpers/databases.js';
import { root } from './helpers/process.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const iso = (d: Date | null) => d?.toISOString() ?? null;

describe('parseScoringTime', () => {
  it.each([
    ['2015-12-31', '2015-12-31T23:59:59.999Z'],
    ['2016-02-29', '2016-02-29T23:59:59.999Z'],
    ['2015-12-31T12:00:00Z', '2015-12-31T12:00:00.000Z'],
    ['2015-12-31T12:00:00.5+02:00', '2015-12-31T10:00:00.500Z'],
    ['2015-12-31T00:00Z', '2015-12-31T00:00:00.000Z'],
  ])('%s is %s', (text, expected) => {
    expect(iso(parseScoringTime(text))).toBe(expected);
  });

  it.each(['2015-02-29', '2015-13-01', '2015-12-32', '2015-12-31T24:00:00Z', '2015-12-31T12:00:00', 'Dec 31 2015', '2015-12-31 12:00', 'yesterday', '', '+275760-09-13'])(
    'refuses %j',
    (text) => {
      expect(parseScoringTime(text)).toBeNull();
    },
  );

  it('means what the default means: the last millisecond of a UTC day', () => {
    const now = Date.parse('2015-12-31T08:30:00Z');
    expect(iso(endOfUtcDay(now))).toBe(iso(parseScoringTime('2015-12-31')));
  });

  it('SCORING_AS_OF takes the same values and refuses the rest', () => {
    expect(loadConfig({ SCORING_AS_OF: '2015-12-31' }).SCORING_AS_OF).toBe('2015-12-31');
    for (const bad of ['Dec 31 2015', '2015-02-30', '2015-12-31T12:00:00']) {
      expect(() => loadConfig({ SCORING_AS_OF: bad })).toThrow(ConfigError);
      expect(() => loadConfig({ SCORING_AS_OF: bad })).toThrow(/\bSCORING_AS_OF:.*end of that UTC day/);
    }
  });
});

describe.each(databaseKinds)('date-only asOf on %s', (kind) => {
  let t: TestServer;
  let id: string;

  beforeAll(async () => {
    // SCORING_AS_OF as a date: the default scoring time is the end of that day, not its start.
    t = await startTestServer(kind, { SCORING_AS_OF: '2015-12-31' });
    id = (await t.db.prisma.customer.create({ data: { externalId: 'late-buyer', name: 'Late Buyer', createdAt: new Date('2015-01-10T00:00:00Z') } })).id;
    // Two orders during the last day of the year: "as of 2015-12-31" must see them.
    for (const [n, at] of [[1, '2015-12-31T09:00:00Z'], [2, '2015-12-31T18:00:00Z']] as const) {
      await t.db.prisma.order.create({ data: { customerId: id, externalId: `late-${n}`, orderedAt: new Date(at), amount: '40.00', itemCount: 2, currency: 'USD' } });
    }
  });
  afterAll(async () => {
    await t?.close();
  });

  const query = async (selection: string, variables?: Record<string, unknown>, declare = '') => {
    const res = await t.post(JSON.stringify({ query: `query${declare} { customer(id: "${id}") { ${selection} } }`, variables }));
    expect(res.json.errors, JSON.stringify(res.json.errors)).toBeUndefined();
    return res.json.data.customer;
  };

  it('the default (SCORING_AS_OF=2015-12-31) is the end of that day', async () => {
    const c = await query('prediction { asOf probability }');
    expect(c.prediction.asOf).toBe('2015-12-31T23:59:59.999Z');
  });

  it('accepts a date as a literal and as a variable, both meaning the end of that UTC day', async () => {
    const c = await query(
      `literal: prediction(asOf: "2015-12-31") { asOf probability segment }
       variable: prediction(asOf: $day) { asOf probability segment }
       instant: prediction(asOf: "2015-12-31T23:59:59.999Z") { asOf probability segment }
       byDefault: prediction { asOf probability segment }
       segment(asOf: "2015-12-31") probability(asOf: $day)`,
      { day: '2015-12-31' },
      '($day: ScoringTime)',
    );
    expect(c.literal).toEqual(c.instant);
    expect(c.variable).toEqual(c.instant);
    expect(c.byDefault).toEqual(c.instant);
    expect(c.literal.asOf).toBe('2015-12-31T23:59:59.999Z');
    expect(c.segment).toBe(c.instant.segment);
    expect(c.probability).toBe(c.instant.probability);
  });

  it('sees the orders of that day, which the start of the day does not', async () => {
    const c = await query(
      `endOfDay: explanation(asOf: "2015-12-31", top: 100) { contributions { feature value } }
       startOfDay: explanation(asOf: "2015-12-31T00:00:00Z", top: 100) { contributions { feature value } }`,
    );
    const value = (e: { contributions: { feature: string; value: number | null }[] }, f: string) => e.contributions.find((x) => x.feature === f)?.value;
    expect(value(c.endOfDay, 'orders_all')).toBe(2);
    expect(value(c.startOfDay, 'orders_all') ?? 0).toBe(0);
  });

  it('refuses dates that are not calendar days', async () => {
    const res = await t.post(JSON.stringify({ query: `{ customer(id: "${id}") { probability(asOf: "2015-02-29") } }` }));
    expect(res.json.errors.map((e: any) => e.extensions.code)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect(res.json.errors[0].message).toMatch(/end of that UTC day/);
  });

  it('batch scoring refuses zero pages before it opens a run', async () => {
    await expect(scoreCustomers(t.db, t.scoring, { maxPages: 0 })).rejects.toThrow(ScoreOptionsError);
    expect(await t.db.prisma.scoreRun.count()).toBe(0);
  });

  it('batch scoring refuses a scoring time the API refuses, before it opens a run', async () => {
    // Two years ahead: every customer would drift towards lapsing, and the run would replace the served scores.
    const later = new Date(Date.now() + 2 * 366 * 86_400_000);
    await expect(scoreCustomers(t.db, t.scoring, { asOf: later })).rejects.toThrow(/asOf must be between 1970 and one year from now/);
    await expect(scoreCustomers(t.db, t.scoring, { asOf: new Date(-1) })).rejects.toThrow(ScoreOptionsError);
    expect(await t.db.prisma.scoreRun.count()).toBe(0);
    const res = await t.post(JSON.stringify({ query: `{ customer(id: "${id}") { probability(asOf: "${later.toISOString()}") } }` }));
    expect(res.json.errors.map((e: any) => e.extensions.code)).toEqual(['BAD_USER_INPUT']);
    expect(res.json.errors[0].message).toMatch(/between 1970 and one year from now/);
  });
});

describe('npm run score usage errors', () => {
  const score = (args: string[]) =>
    new Promise<{ code: number | null; stderr: string }>((resolve) => {
      execFile(process.execPath, ['--import', 'tsx', 'src/scoring/cli.ts', ...args], { cwd: root, env: { ...process.env, DATABASE_URL: 'postgresql://nobody@127.0.0.1:1/none' } }, (err, _stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stderr }),
      );
    });

  it('--max-pages 0 exits 2 with a clear message, before touching a database', async () => {
    const { code, stderr } = await score(['--max-pages', '0']);
    expect(stderr).toMatch(/--max-pages must be at least 1/);
    expect(code).toBe(2);
  });

  it('--as-of more than a year ahead exits 2, as the API refuses it, before touching a database', async () => {
    const later = new Date(Date.now() + 2 * 366 * 86_400_000).toISOString().slice(0, 10);
    const { code, stderr } = await score(['--as-of', later]);
    expect(stderr).toMatch(/--as-of must be between 1970 and one year from now, as the API's asOf/);
    expect(code).toBe(2);
  });

  it('--as-of with an impossible date exits 2 naming the accepted forms', async () => {
    const { code, stderr } = await score(['--as-of', '2015-02-30']);
    expect(stderr).toMatch(/--as-of must be .*end of that UTC day/);
    expect(code).toBe(2);
  });
});
