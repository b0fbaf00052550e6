/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// (DOM types: some callbacks below run in the browser page.)
// The admin dashboard and the GraphQL IDE in a real browser (Debian's Chromium via playwright-core)
// against the real server: seeded demo data, batch scores, real API keys with AUTH_MODE=required.
// Every number the pages show is compared with what the API answers for the same question.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { seedDemo } from '../src/demo/seed.js';
import { createApiKey } from '../src/auth/api-keys.js';
import type { LoadedModel } from '../src/inference/registry.js';
import type { ModelRow } from '../src/inference/tensors.js';
import { scoreCustomers } from '../src/scoring/batch.js';
import { adminDistDir } from '../src/server/admin.js';
import { axe, buildAdminBundle, chromiumAvailable, launchBrowser, type Browser } from './helpers/browser.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const asOf = '2026-06-30T23:59:59.999Z';
/** An earlier batch-scoring run, so the overview has a mix over more than one run. */
const earlierAsOf = '2026-03-31T23:59:59.999Z';
// ADMIN_TEST_CUSTOMERS=10000 measures the pages on the full demo set (the README's figures).
const CUSTOMERS = Number(process.env.ADMIN_TEST_CUSTOMERS ?? 260);
const BUDGET_GZIP_BYTES = 400 * 1024;

/** Page → time from navigation start until it shows its data (ms), for the report. */
const timings: Record<string, number> = {};
const axeReport: Record<string, string> = {};

describe.skipIf(!chromiumAvailable)('admin dashboard in Chromium', () => {
  let t: TestServer;
  let browser: Browser;
  let base: string;
  const keys = { admin: '', bi: '' };

  async function api(query: string, variables: Record<string, unknown> = {}, key = keys.admin) {
    const { status, json } = await t.post(JSON.stringify({ query, variables }), { authorization: `Bearer ${key}` });
    expect(json.errors, JSON.stringify(json.errors)).toBeUndefined();
    expect(status).toBe(200);
    return json.data;
  }

  /** Opens a dashboard URL and waits for its ready marker; records the time to interactive. */
  async function open(page: Page, url: string, ready: string, name: string) {
    await page.goto(base + url);
    await page.waitForSelector(ready);
    timings[name] = await page.evaluate(() => Math.round(performance.now()));
    // Reported, not tuned: a bound only a broken page (or a wedged machine) exceeds.
    expect(timings[name]).toBeLessThan(20_000);
  }

  async function signIn(page: Page, key: string) {
    await page.goto(`${base}/admin/`);
    await page.getByLabel('API key').fill(key);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForSelector('[data-testid=role]');
  }

  async function expectAccessible(page: Page, name: string) {
    const { serious, all } = await axe(page);
    axeReport[name] = `${serious.length} serious/critical, ${all} in all`;
    expect(serious, `${name}: ${JSON.stringify(serious, null, 1)}`).toEqual([]);
  }

  let modelsDir: string;

  beforeAll(async () => {
    buildAdminBundle();
    // The shipped models, plus a real candidate: xgboost-segment version 2, a copy of version 1 (the
    // same ONNX file) whose card records a failed quality gate, so it is loaded but not promoted.
    modelsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cia-admin-models-'));
    fs.cpSync('models', modelsDir, { recursive: true });
    const v2 = path.join(modelsDir, 'xgboost-segment', '2');
    fs.cpSync(path.join(modelsDir, 'xgboost-segment', '1'), v2, { recursive: true });
    const card = JSON.parse(fs.readFileSync(path.join(v2, 'model.json'), 'utf8'));
    card.version = '2';
    card.gate = { passed: false, criterion: 'browser test', reasons: ['a copy of version 1 for the browser test, recorded as failing the gate so that it stays a candidate'] };
    fs.writeFileSync(path.join(v2, 'model.json'), JSON.stringify(card, null, 2));
    t = await startTestServer('pglite', { AUTH_MODE: 'required', SCORING_AS_OF: asOf, MAX_PAGE_SIZE: '100', MODELS_DIR: modelsDir });
    await seedDemo(t.db, { customers: CUSTOMERS, seed: 7, anchor: '2026-06-30' });
    await scoreCustomers(t.db, t.scoring, { asOf: new Date(earlierAsOf), pageSize: 100 });
    await scoreCustomers(t.db, t.scoring, { asOf: new Date(asOf), pageSize: 100 });
    keys.admin = (await createApiKey(t.db, { role: 'admin', name: 'browser test admin' })).key;
    keys.bi = (await createApiKey(t.db, { role: 'bi', name: 'browser test bi' })).key;
    base = t.server.url.replace(/\/graphql$/, '');
    browser = await launchBrowser();
  }, 600_000);

  afterAll(async () => {
    await browser?.close();
    await t?.close();
    if (modelsDir) fs.rmSync(modelsDir, { recursive: true, force: true });
    if (Object.keys(timings).length) {
      console.log(`time to interactive (ms, ${CUSTOMERS} demo customers): ${Object.entries(timings).map(([k, v]) => `${k} ${v}`).join(', ')}`);
      console.log(`axe: ${Object.entries(axeReport).map(([k, v]) => `${k}: ${v}`).join('; ')}`);
    }
  });

  it('keeps the dashboard under 400 kB of gzipped JavaScript (the IDE separately)', () => {
    const gz = (html: string) => {
      const page = fs.readFileSync(path.join(adminDistDir, html), 'utf8');
      // The entry script and every chunk it imports statically (Vite lists them as modulepreload).
      const files = [...page.matchAll(/(?:src|href)="\/admin\/(assets\/[^"]+\.js)"/g)].map((m) => m[1]!);
      const code = files.map((f) => fs.readFileSync(path.join(adminDistDir, f)));
      // React's production build (its development build is larger and slower, and has this frame).
      for (const c of code) expect(c.includes('react_stack_bottom_frame')).toBe(false);
      return code.reduce((sum, c) => sum + gzipSync(c, { level: 9 }).length, 0);
    };
    const dashboard = gz('index.html');
    const ide = gz('graphiql.html');
    console.log(`gzipped JS on first load: dashboard ${(dashboard / 1024).toFixed(1)} kB, GraphiQL ${(ide / 1024).toFixed(1)} kB (+ Monaco workers and lazy chunks)`);
    expect(dashboard).toBeGreaterThan(50 * 1024); // React and ECharts are in it: the measurement found the files
    expect(dashboard).toBeLessThan(BUDGET_GZIP_BYTES);
  });

  it('refuses a wrong key with a clear message, and keeps keys out of URLs', async () => {
    const page = await browser.newPage();
    await page.goto(`${base}/admin/`);
    await expectAccessible(page, 'sign-in');
    await page.getByLabel('API key').fill('cia_not-a-real-key');
    const answered = page.waitForResponse((r) => r.url().endsWith('/graphql') && r.request().method() === 'POST');
    await page.getByRole('button', { name: 'Sign in' }).click();
    expect((await answered).status()).toBe(401);
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('not valid');
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);

    // The form submits with Enter, too.
    await page.getByLabel('API key').fill(keys.bi);
    await page.getByLabel('API key').press('Enter');
    await page.waitForSelector('[data-testid=role]');
    expect(await page.textContent('[data-testid=role]')).toBe('bi');
    expect(page.url()).not.toContain(keys.bi);
    expect(t.logs.join('\n')).not.toContain(keys.bi);
    expect(page.problems).toEqual([]);
    await page.close();
  });

  it('overview: the numbers are segmentSummary', async () => {
    const page = await browser.newPage();
    await signIn(page, keys.admin);
    await open(page, '/admin/', '[data-testid=segment-table] tbody tr', 'overview');
    const { segmentSummary: s } = await api('{ segmentSummary { customersTotal customersScored segments { segment count share meanProbability } } }');
    expect(s.customersScored).toBe(CUSTOMERS);
    expect(Number((await page.textContent('[data-testid=customers-scored]'))!.replace(/,/g, ''))).toBe(s.customersScored);
    expect(Number((await page.textContent('[data-testid=customers-total]'))!.replace(/,/g, ''))).toBe(s.customersTotal);
    const rows = await page.$$eval('[data-testid=segment-table] tbody tr', (trs) =>
      trs.map((tr) => ({
        segment: tr.getAttribute('data-segment'),
        count: Number(tr.querySelector('[data-field=count]')!.getAttribute('data-value')),
        share: Number(tr.querySelector('[data-field=share]')!.getAttribute('data-value')),
        meanProbability: Number(tr.querySelector('[data-field=meanProbability]')!.getAttribute('data-value')),
        shown: [...tr.querySelectorAll('td')].map((td) => td.textContent),
      })),
    );
    expect(rows.map(({ shown: _shown, ...r }) => r)).toEqual(s.segments.map((x: any) => ({ ...x, meanProbability: x.meanProbability ?? 0 })));
    // What is shown is the same numbers, rounded for reading.
    for (const [i, x] of s.segments.entries()) {
      expect(rows[i]!.shown).toEqual([x.count.toLocaleString('en-US'), `${(x.share * 100).toFixed(1)} %`, x.meanProbability === null ? '—' : x.meanProbability.toFixed(3)]);
    }
    // The mix over past runs: the API's scoringRuns, run by run and segment by segment.
    const { scoringRuns } = await api('{ scoringRuns(last: 12, finished: true) { id asOf segments { segment count } } }');
    expect(scoringRuns.length).toBe(2);
    expect(scoringRuns[1].asOf).toBe(earlierAsOf);
    const runRows = await page.$$eval('[data-testid=run-mix-table] tbody tr', (trs) =>
      trs.map((tr) => ({ id: Number(tr.getAttribute('data-run')), segments: [...tr.querySelectorAll('td[data-segment]')].map((td) => ({ segment: td.getAttribute('data-segment'), count: Number(td.getAttribute('data-count')) })) })),
    );
    expect(runRows).toEqual(scoringRuns.map((r: any) => ({ id: r.id, segments: r.segments })));
    expect(await page.getByTestId('run-mix-chart').count()).toBe(1);

    // Calibration and confusion matrix: the evaluation stored with the served version.
    const { models } = await api('{ models { name version status evaluation { confusion { matrix } calibration { classes { segment bins { count } } } } } }');
    const served = models.find((m: any) => m.name === 'xgboost-segment' && m.status === 'promoted');
    await page.waitForSelector('table.confusion');
    const cells = await page.$$eval('table.confusion tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => Number(td.textContent))));
    expect(cells).toEqual(served.evaluation.confusion.matrix);
    const bins = await page.$$eval('[data-testid=calibration-table] tbody tr', (trs) => trs.map((tr) => ({ segment: tr.getAttribute('data-segment'), count: Number(tr.getAttribute('data-count')) })));
    expect(bins).toEqual(served.evaluation.calibration.classes.flatMap((c: any) => c.bins.map((b: any) => ({ segment: c.segment, count: b.count }))));
    expect(await page.getByTestId('calibration').locator('svg').count()).toBeGreaterThan(0);
    await expectAccessible(page, 'overview');

    // From the keyboard: Tab reaches the navigation, Enter follows it, focus lands on the new heading.
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    let tabs = 0;
    while (tabs++ < 10 && (await page.evaluate(() => document.activeElement?.textContent)) !== 'Customers') await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.tagName + ' ' + document.activeElement?.textContent)).toBe('A Customers');
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/admin\/customers$/);
    await expect.poll(() => page.evaluate(() => document.activeElement?.tagName + ' ' + document.activeElement?.textContent)).toBe('H1 Customers');
    expect(page.problems).toEqual([]);
    await page.close();
  });

  it('customers: a filter shows the API count; drill-down waterfall sums to the margin; CSV export has totalCount rows', async () => {
    const page = await browser.newPage();
    await signIn(page, keys.admin);
    await open(page, '/admin/customers', '[data-testid=customer-table] tbody tr', 'customers');
    const all = await api('{ customers { totalCount } }');
    expect(Number((await page.textContent('[data-testid=total-count]'))!.replace(/,/g, ''))).toBe(all.customers.totalCount);
    await expectAccessible(page, 'customers');

    // Pages follow the API's cursors: page 2 is the API's second page in the same order.
    const ids = () => page.$$eval('[data-testid=customer-link]', (as) => as.map((a) => a.getAttribute('href')!.split('/').pop()));
    const order = { field: 'TOTAL_SPENT', direction: 'DESC' };
    const p1 = await api('query($o: CustomerOrderBy) { customers(first: 25, orderBy: $o) { pageInfo { endCursor } edges { node { id } } } }', { o: order });
    const p2 = await api('query($o: CustomerOrderBy, $a: String) { customers(first: 25, orderBy: $o, after: $a) { edges { node { id } } } }', { o: order, a: p1.customers.pageInfo.endCursor });
    expect(await ids()).toEqual(p1.customers.edges.map((e: any) => e.node.id));
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByText(/^Page 2 of /).waitFor();
    await expect.poll(ids).toEqual(p2.customers.edges.map((e: any) => e.node.id));
    await page.getByRole('button', { name: 'Previous' }).click();
    await page.getByText(/^Page 1 of /).waitFor();
    await expect.poll(ids).toEqual(p1.customers.edges.map((e: any) => e.node.id));

    // Filter from the keyboard: stored segment active, probability at least 0.5.
    await page.getByLabel('Segment (stored score)').selectOption('active');
    await page.getByLabel('Probability from').fill('0.5');
    await page.getByLabel('Probability from').press('Enter');
    await page.waitForURL(/segment=active/);
    const expected = await api('query($f: CustomerFilter) { customers(filter: $f) { totalCount } }', { f: { segment: 'active', minProbability: 0.5 } });
    expect(expected.customers.totalCount).toBeGreaterThan(0);
    expect(expected.customers.totalCount).toBeLessThan(CUSTOMERS);
    await expect.poll(async () => Number((await page.textContent('[data-testid=total-count]'))!.replace(/,/g, ''))).toBe(expected.customers.totalCount);

    // CSV of the whole filtered audience: several pages of the API (MAX_PAGE_SIZE=100 here).
    await page.getByLabel('Segment (stored score)').selectOption('');
    await page.getByLabel('Probability from').fill('');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.waitForURL((u) => !u.search.includes('segment'));
    await expect.poll(async () => Number((await page.textContent('[data-testid=total-count]'))!.replace(/,/g, ''))).toBe(CUSTOMERS);
    const downloaded = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Export CSV' }).click();
    const file = await (await downloaded).path();
    const lines = fs.readFileSync(file, 'utf8').split('\r\n').filter(Boolean);
    expect(lines[0]).toMatch(/^id,external_id,name,email,/);
    expect(lines.length - 1).toBe(CUSTOMERS);
    expect(new Set(lines.slice(1).map((l) => l.split(',')[0])).size).toBe(CUSTOMERS);

    // Drill down into the first customer: the waterfall's steps add up to the API's margin.
    const link = page.getByTestId('customer-link').first();
    const href = (await link.getAttribute('href'))!;
    const id = href.split('/').pop()!;
    await link.click();
    await page.waitForSelector('[data-testid=waterfall]');
    const { customer } = await api(`query($id: ID!) { customer(id: $id) { segmentProbabilities { segment probability } explanation(top: 8) { baseValue margin restContribution summary contributions { contribution } } } }`, { id });
    const steps = await page.$$eval('[data-testid=waterfall] [data-kind]', (gs) => gs.map((g) => ({ kind: g.getAttribute('data-kind'), delta: g.getAttribute('data-delta'), value: Number(g.getAttribute('data-value')) })));
    const margin = steps.find((s) => s.kind === 'margin')!.value;
    const sum = steps.filter((s) => s.kind !== 'margin').reduce((acc, s) => acc + Number(s.delta), 0);
    expect(steps.filter((s) => s.kind === 'contribution').length).toBe(customer.explanation.contributions.length);
    expect(margin).toBeCloseTo(customer.explanation.margin, 9);
    expect(sum).toBeCloseTo(customer.explanation.margin, 9);
    expect(await page.textContent('[data-testid=explanation-summary]')).toBe(customer.explanation.summary);
    const probs = await page.$$eval('[data-testid=segment-probabilities] tr', (trs) => trs.map((tr) => ({ segment: tr.getAttribute('data-segment'), probability: Number(tr.getAttribute('data-probability')) })));
    expect(probs).toEqual(customer.segmentProbabilities);
    await expectAccessible(page, 'customer');

    // Another model for comparison: the page asks for that model's prediction.
    const other = page.waitForResponse((r) => r.url().endsWith('/graphql') && (r.request().postData() ?? '').includes('"model":"logistic-segment"'));
    const value = await page.$eval('#model-pick', (el) => [...(el as HTMLSelectElement).options].find((o) => o.value.startsWith('logistic-segment@'))!.value);
    await page.getByLabel('Model').selectOption(value);
    expect((await other).status()).toBe(200);
    await expect.poll(() => page.textContent('[data-testid=prediction-model]')).toBe('logistic-segment');
    const linear = await api(`query($id: ID!) { customer(id: $id) { prediction(model: "logistic-segment") { explanation(top: 8) { margin } } } }`, { id });
    await expect.poll(async () => Number(await page.getAttribute('[data-testid=waterfall]', 'data-margin'))).toBeCloseTo(linear.customer.prediction.explanation.margin, 9);
    timings.customer = await (async () => {
      await page.goto(`${base}/admin/customers/${id}`);
      await page.waitForSelector('[data-testid=waterfall]');
      return page.evaluate(() => Math.round(performance.now()));
    })();
    expect(page.problems).toEqual([]);
    await page.close();
  });

  it('bi: personal data as the API masks it; no promotion', async () => {
    const page = await browser.newPage();
    await signIn(page, keys.bi);
    await open(page, '/admin/customers', '[data-testid=customer-table] tbody tr', 'customers (bi)');
    const { customers } = await api('{ customers(first: 1, orderBy: { field: TOTAL_SPENT, direction: DESC }) { edges { node { name email } } } }', {}, keys.bi);
    expect(customers.edges[0].node).toEqual({ name: '***', email: '***' });
    const first = await page.$$eval('[data-testid=customer-table] tbody tr:first-child td', (tds) => tds.slice(0, 2).map((td) => td.textContent));
    expect(first[0]).toMatch(/^\*\*\*/);
    expect(first[1]).toBe('***');
    await page.getByTestId('customer-link').first().click();
    await page.waitForSelector('[data-testid=waterfall]');
    expect(await page.locator('dd', { hasText: 'hidden' }).count()).toBeGreaterThan(0); // birth date: null for bi

    await open(page, '/admin/models', '[data-testid=model-table] tbody tr', 'models');
    await expectAccessible(page, 'models');
    // bi sees the candidate and its verdict, but no promotion; the API refuses bi as well.
    const candidate = page.locator('[data-testid=model-table] tr[data-model="xgboost-segment"][data-version="2"]');
    expect(await candidate.getAttribute('data-status')).toBe('candidate');
    expect(await candidate.getByTestId('gate').textContent()).toContain('failed');
    expect(await page.getByTestId('promote').count()).toBe(0);
    expect(await page.getByText('Promoting a model version is for admin keys.').count()).toBe(1);
    const refused = await t.post(JSON.stringify({ query: 'mutation { promoteModel(name: "xgboost-segment", version: "2") { status } }' }), { authorization: `Bearer ${keys.bi}` });
    expect(refused.json.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await api('{ models(name: "xgboost-segment") { version status } }')).models).toEqual([
      { version: '1', status: 'promoted' },
      { version: '2', status: 'candidate' },
    ]);
    expect(page.problems).toEqual([]);
    await page.close();
  });

  it('admin: a batch-scoring run shows live progress; promoting the candidate asks for confirmation, Escape cancels, Promote does it', async () => {
    // A real run of logistic-segment, held before its second page's inference, so the page sees it running.
    const inference = t.scoring.inference;
    const predict = inference.predict.bind(inference);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let pagesOfRun = 0;
    inference.predict = async (m: LoadedModel | string, rows: ModelRow[]) => {
      if (typeof m !== 'string' && m.name === 'logistic-segment' && rows.length > 1 && ++pagesOfRun === 2) await held;
      return predict(m, rows);
    };
    const run = scoreCustomers(t.db, t.scoring, { model: 'logistic-segment', asOf: new Date(asOf), pageSize: 100, pipeline: false });
    try {
      await vi.waitFor(async () => expect((await t.db.prisma.scoreRun.findFirst({ where: { model: 'logistic-segment' } }))?.customersScored).toBe(100), { timeout: 60_000, interval: 100 });
      const page = await browser.newPage();
      await signIn(page, keys.admin);
      await open(page, '/admin/models', '[data-testid=model-table] tbody tr', 'models (admin)');
      const progress = page.locator('.run[data-model="logistic-segment"]');
      expect(await progress.getAttribute('data-status')).toBe('running');
      expect(await progress.getAttribute('data-scored')).toBe('100');
      expect(await progress.locator('progress').getAttribute('value')).toBe('100');
      release();
      expect((await run).outcome).toBe('finished');
      // No reload: the page polls while the run runs.
      await expect.poll(() => progress.getAttribute('data-status'), { timeout: 30_000 }).toBe('finished');
      expect(await progress.getAttribute('data-scored')).toBe(String(CUSTOMERS));

      // The rows are the API's versions, with its statuses, metrics and verdicts.
      const { models } = await api('{ models { name version status metrics gate } }');
      const rows = await page.$$eval('[data-testid=model-table] tbody tr', (trs) => trs.map((tr) => ({ name: tr.getAttribute('data-model'), version: tr.getAttribute('data-version'), status: tr.getAttribute('data-status') })));
      expect(rows).toEqual(models.map((m: any) => ({ name: m.name, version: m.version, status: m.status })));
      for (const m of models) {
        const row = page.locator(`[data-testid=model-table] tr[data-model="${m.name}"][data-version="${m.version}"]`);
        expect((await row.getByTestId('log-loss').textContent())!.startsWith(m.metrics.log_loss.toFixed(3))).toBe(true);
        if (m.gate) expect(await row.getByTestId('gate').textContent()).toContain(m.gate.passed ? 'passed' : 'failed');
      }

      // Exactly the versions that are not promoted can be promoted: here the candidate.
      const buttons = page.getByTestId('promote');
      expect(await buttons.count()).toBe(models.filter((m: any) => m.status !== 'promoted').length);
      const button = page.getByRole('button', { name: 'Promote xgboost-segment version 2' });
      await button.focus();
      await page.keyboard.press('Enter');
      const dialog = page.getByRole('dialog');
      await dialog.waitFor();
      expect(await dialog.textContent()).toContain('failed the quality gate');
      await expectAccessible(page, 'models (promotion dialog)');
      // Focus starts on Cancel; Escape closes without promoting.
      expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Cancel');
      await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'detached' });
      expect((await api('{ models(name: "xgboost-segment") { version status } }')).models.find((m: any) => m.version === '2').status).toBe('candidate');

      await button.click();
      await dialog.waitFor();
      const promoted = page.waitForResponse((r) => (r.request().postData() ?? '').includes('PromoteModel'));
      await page.getByTestId('confirm-promote').click();
      expect((await promoted).status()).toBe(200);
      expect(await page.getByTestId('promote-notice').textContent()).toBe('xgboost-segment 2 is now promoted.');
      const after = await api('{ models(name: "xgboost-segment") { version status } }');
      expect(after.models).toEqual([
        { version: '1', status: 'retired' },
        { version: '2', status: 'promoted' },
      ]);
      await expect.poll(() => page.locator('tr[data-model="xgboost-segment"][data-version="2"]').getAttribute('data-status')).toBe('promoted');
      expect(page.problems).toEqual([]);
      await page.close();
    } finally {
      release();
      inference.predict = predict;
      await run.catch(() => {});
    }
  });

  it('GraphiQL runs a query with the key from its key field, at /graphiql and for browsers at /graphql', async () => {
    const page = await browser.newPage();
    const started = Date.now();
    await page.goto(`${base}/graphql`);
    await page.waitForSelector('.graphiql-container .monaco-editor');
    timings.graphiql = Date.now() - started;
    await page.getByLabel('API key').fill(keys.bi);
    const answered = page.waitForResponse((r) => r.url().endsWith('/graphql') && (r.request().postData() ?? '').includes('query Example'));
    await page.locator('.graphiql-execute-button').click();
    const res = await answered;
    expect(res.status()).toBe(200);
    expect(res.request().headers().authorization).toBe(`Bearer ${keys.bi}`);
    const body = await res.json();
    expect(body.errors).toBeUndefined();
    expect(body.data.customers.edges[0].node.name).toBe('***');
    await expect.poll(() => page.locator('.graphiql-response').textContent()).toContain('"models"');
    await expectAccessible(page, 'graphiql');
    expect(page.problems).toEqual([]);
    const other = await browser.newPage();
    await other.goto(`${base}/graphiql`);
    await other.waitForSelector('.graphiql-container');
    await other.close();
    await page.close();
  });

  it('serves the pages with a strict Content-Security-Policy and JSON to GraphQL clients', async () => {
    const page = await fetch(`${base}/admin/customers`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    const ide = await fetch(`${base}/graphql`, { headers: { accept: 'text/html' } });
    expect(await ide.text()).toContain('<div id="root">');
    const json = await fetch(`${base}/graphql?query=%7B__typename%7D`, { headers: { accept: 'application/json', authorization: `Bearer ${keys.bi}` } });
    expect(json.headers.get('content-type')).toMatch(/json/);
    const missing = await fetch(`${base}/admin/assets/nope.js`);
    expect(missing.status).toBe(404);
  });
});
