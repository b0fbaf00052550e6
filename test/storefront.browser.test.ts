// The storefront door end to end, in a real browser: a shop page on its own origin (listed in
// CORS_ORIGINS) holds the signed-in shopper's token from the shop's identity provider and asks the
// API for that shopper's segment and explanation. A page on an origin that is not listed is
// stopped by the browser; the shopper's token reads nobody else.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemo } from '../src/demo/seed.js';
import { createApiKey } from '../src/auth/api-keys.js';
import { chromiumAvailable, launchBrowser, type Browser } from './helpers/browser.js';
import { AUDIENCE, ISSUER, rsaKey, startJwks, token, type Jwks, type Key } from './helpers/jwks.js';
import { startTestServer, type TestServer } from './helpers/server.js';

/** The shop's page: renders what the API says about the shopper whose token it holds. */
const shopPage = (api: string) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Shop</title></head>
<body>
<main>
  <h1>Your account</h1>
  <p>Segment: <output id="segment">…</output> (<output id="probability"></output>)</p>
  <p id="summary"></p>
  <p>Someone else: <output id="other">…</output></p>
</main>
<script>
  const ask = (query, variables) =>
    fetch(${JSON.stringify(api)}, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer ' + window.shopperToken },
      body: JSON.stringify({ query, variables }),
    }).then((r) => r.json());
  ask('query Me($id: String!) { customerByExternalId(externalId: $id) { segment probability explanation(top: 3) { summary } } }', { id: window.shopperId })
    .then(({ data, errors }) => {
      if (errors) throw new Error(errors[0].extensions.code);
      const me = data.customerByExternalId;
      document.getElementById('segment').textContent = me.segment;
      document.getElementById('probability').textContent = me.probability.toFixed(6);
      document.getElementById('summary').textContent = me.explanation.summary;
    })
    .catch((err) => (document.getElementById('segment').textContent = 'blocked: ' + err.message));
  ask('query Other($id: String!) { customerByExternalId(externalId: $id) { segment } }', { id: window.otherId })
    .then(({ errors }) => (document.getElementById('other').textContent = errors ? errors[0].extensions.code : 'READ'))
    .catch((err) => (document.getElementById('other').textContent = 'blocked: ' + err.message));
</script>
</body></html>`;

async function serveShop(api: string): Promise<{ origin: string; close(): Promise<void> }> {
  const server = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(shopPage(api)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { origin: `http://127.0.0.1:${port}`, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe.skipIf(!chromiumAvailable)('storefront with shopper tokens, in Chromium', () => {
  let jwks: Jwks;
  let key: Key;
  let t: TestServer;
  let shop: Awaited<ReturnType<typeof serveShop>>;
  let stranger: Awaited<ReturnType<typeof serveShop>>;
  let browser: Browser;
  let shopper: string;
  let other: string;
  const asOf = '2026-01-01';

  beforeAll(async () => {
    jwks = await startJwks();
    key = await rsaKey('shop-1');
    jwks.keys = [key.jwk];
    // The shop page's origin is only known once it listens: start it on a placeholder API URL, then
    // restart it pointing at the API.
    const probe = await serveShop('about:blank');
    const shopOrigin = probe.origin;
    await probe.close();
    t = await startTestServer('pglite', {
      AUTH_MODE: 'required',
      JWT_JWKS_URL: jwks.url,
      JWT_ISSUER: ISSUER,
      JWT_AUDIENCE: AUDIENCE,
      CORS_ORIGINS: shopOrigin,
      SCORING_AS_OF: asOf,
    });
    await seedDemo(t.db, { customers: 30, seed: 9, anchor: '2026-01-01' });
    await createApiKey(t.db, { role: 'admin' });
    const customers = await t.db.prisma.customer.findMany({ orderBy: { externalId: 'asc' }, take: 2, select: { externalId: true } });
    [shopper, other] = customers.map((c) => c.externalId);
    shop = await serveShopOn(shopOrigin, t.server.url);
    stranger = await serveShop(t.server.url);
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await shop?.close();
    await stranger?.close();
    await t?.close();
    await jwks?.close();
  });

  /** The shop on the exact origin CORS_ORIGINS names. */
  async function serveShopOn(origin: string, api: string) {
    const port = Number(new URL(origin).port);
    const server = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(shopPage(api)));
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    return { origin, close: () => new Promise<void>((r) => server.close(() => r())) };
  }

  async function openAs(origin: string, sub: string) {
    const page = await browser.newPage();
    const jwt = await token(key, {}, { sub });
    await page.addInitScript(([tok, me, someone]) => Object.assign(window, { shopperToken: tok, shopperId: me, otherId: someone }), [jwt, sub, other]);
    await page.goto(origin);
    return page;
  }

  it("shows the signed-in shopper's own segment and explanation, as the API computes them", async () => {
    const page = await openAs(shop.origin, shopper);
    await page.waitForFunction(() => document.getElementById('segment')?.textContent !== '…');
    await page.waitForFunction(() => document.getElementById('other')?.textContent !== '…');
    const shown = {
      segment: await page.textContent('#segment'),
      probability: await page.textContent('#probability'),
      summary: await page.textContent('#summary'),
      other: await page.textContent('#other'),
    };
    const ask = async (credential: string) =>
      (await t.post(JSON.stringify({ query: `{ customerByExternalId(externalId: "${shopper}") { segment probability explanation(top: 3) { summary } } }` }), { authorization: `Bearer ${credential}` })).json.data
        .customerByExternalId;
    // What the API answers this shopper's token directly, outside the browser …
    const me = await ask(await token(key, {}, { sub: shopper }));
    expect(shown).toEqual({ segment: me.segment, probability: me.probability.toFixed(6), summary: me.explanation.summary, other: 'FORBIDDEN' });
    // … the same prediction an admin sees, with the frontend field policy applied to the wording:
    // the shopper's own order history is not stated to a storefront credential.
    const admin = await ask((await createApiKey(t.db, { role: 'admin' })).key);
    expect([me.segment, me.probability]).toEqual([admin.segment, admin.probability]);
    expect(shown.summary).toContain('not shown to this credential');
    expect(page.problems).toEqual([]);
    await page.close();
  });

  it('is stopped by the browser on an origin that CORS_ORIGINS does not list', async () => {
    const page = await openAs(stranger.origin, shopper);
    await page.waitForFunction(() => document.getElementById('segment')?.textContent !== '…');
    expect(await page.textContent('#segment')).toMatch(/^blocked: /);
    await page.close();
  });
});
