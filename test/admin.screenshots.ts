/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// (DOM types: some callbacks below run in the browser page.)
// `npm run docs:screenshots`: screenshots of every dashboard page and of the IDE for the README
// (docs/admin-*.png), taken in Debian's Chromium from a real server on a throw-away database with
// 1,000 demo customers batch-scored at four quarter ends (the overview's mix over runs), signed in
// with real API keys; the models folder is a temporary copy with a candidate version of
// xgboost-segment (version 1's ONNX, its card recording a failed gate), as in the browser test.
import 'reflect-metadata';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { seedDemo } from '../src/demo/seed.js';
import { createApiKey } from '../src/auth/api-keys.js';
import { scoreCustomers } from '../src/scoring/batch.js';
import { buildAdminBundle, chromiumAvailable, chromiumPath, launchBrowser } from './helpers/browser.js';
import { startTestServer } from './helpers/server.js';

if (!chromiumAvailable) {
  console.error(`No Chromium at ${chromiumPath}: apt-get install -y chromium`);
  process.exit(1);
}
const asOf = '2026-06-30T23:59:59.999Z';
buildAdminBundle();
const modelsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cia-screenshots-models-'));
fs.cpSync('models', modelsDir, { recursive: true });
const v2 = path.join(modelsDir, 'xgboost-segment', '2');
fs.cpSync(path.join(modelsDir, 'xgboost-segment', '1'), v2, { recursive: true });
const card = JSON.parse(fs.readFileSync(path.join(v2, 'model.json'), 'utf8'));
card.version = '2';
card.gate = { passed: false, criterion: 'screenshots', reasons: ['a copy of version 1 for the screenshots, recorded as failing the gate so that it stays a candidate'] };
fs.writeFileSync(path.join(v2, 'model.json'), JSON.stringify(card, null, 2));
const t = await startTestServer('pglite', { AUTH_MODE: 'required', SCORING_AS_OF: asOf, LOG_LEVEL: 'warn', MODELS_DIR: modelsDir });
const browser = await launchBrowser();
try {
  await seedDemo(t.db, { customers: 1000, seed: 42, anchor: '2026-06-30' });
  for (const quarterEnd of ['2025-09-30', '2025-12-31', '2026-03-31']) await scoreCustomers(t.db, t.scoring, { asOf: new Date(`${quarterEnd}T23:59:59.999Z`) });
  await scoreCustomers(t.db, t.scoring, { asOf: new Date(asOf) });
  await scoreCustomers(t.db, t.scoring, { asOf: new Date(asOf), model: 'logistic-segment' });
  const admin = (await createApiKey(t.db, { role: 'admin', name: 'screenshots' })).key;
  const bi = (await createApiKey(t.db, { role: 'bi', name: 'screenshots' })).key;
  const base = t.server.url.replace(/\/graphql$/, '');
  fs.mkdirSync('docs', { recursive: true });
  const shot = async (page: Awaited<ReturnType<typeof browser.newPage>>, name: string, fullPage = true) => {
    await page.screenshot({ path: `docs/admin-${name}.png`, fullPage });
    console.log(`docs/admin-${name}.png`);
  };

  const page = await browser.newPage();
  await page.goto(`${base}/admin/`);
  await page.getByLabel('API key').fill('cia_wrong-key');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').waitFor();
  await shot(page, 'sign-in', false);
  await page.getByLabel('API key').fill(admin);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForSelector('table.confusion');
  await shot(page, 'overview');
  await page.goto(`${base}/admin/customers?segment=high_value&minProbability=0.6&sort=TOTAL_SPENT&dir=DESC`);
  await page.waitForSelector('[data-testid=customer-link]');
  await shot(page, 'customers');
  await page.getByTestId('customer-link').first().click();
  await page.waitForSelector('[data-testid=waterfall]');
  await shot(page, 'customer');
  await page.goto(`${base}/admin/models`);
  await page.waitForSelector('.run progress');
  await shot(page, 'models');
  await page.getByRole('button', { name: 'Promote xgboost-segment version 2' }).click();
  await page.getByRole('dialog').waitFor();
  await shot(page, 'models-promote', false);
  await page.keyboard.press('Escape');

  const biPage = await browser.newPage();
  await biPage.goto(`${base}/admin/`);
  await biPage.getByLabel('API key').fill(bi);
  await biPage.getByRole('button', { name: 'Sign in' }).click();
  await biPage.waitForSelector('[data-testid=role]');
  await biPage.goto(`${base}/admin/customers`);
  await biPage.waitForSelector('[data-testid=customer-link]');
  await shot(biPage, 'customers-bi', false);

  const ide = await browser.newPage();
  await ide.goto(`${base}/graphiql`);
  await ide.waitForSelector('.graphiql-container .monaco-editor');
  await ide.getByLabel('API key').fill(admin);
  const answered = ide.waitForResponse((r) => r.url().endsWith('/graphql') && (r.request().postData() ?? '').includes('query Example'));
  await ide.locator('.graphiql-execute-button').click();
  await answered;
  await ide.waitForFunction(() => (document.querySelector('.graphiql-response')?.textContent ?? '').includes('"models"'));
  await shot(ide, 'graphiql', false);
} finally {
  await browser.close();
  await t.close();
  fs.rmSync(modelsDir, { recursive: true, force: true });
}
