// The hostile-request corpus (test/fixtures/security/corpus.ts) over real HTTP, as an admin (the
// most powerful caller): every request is answered with a 4xx or a GraphQL error carrying a code —
// never a 5xx, never a crash, never a write (rows compared before and after) — and the server still
// answers afterwards.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../src/graphql/errors.js';
import { corpus, type HostileRequest } from './fixtures/security/corpus.js';
import { databaseKinds } from './helpers/databases.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const known = new Set<string>(Object.values(ErrorCode));

describe.each(databaseKinds)(`hostile-request corpus (${corpus.length} requests) on %s`, (kind) => {
  let t: TestServer;
  let alice: string;
  const results: string[] = [];
  // What a request could change: row counts, and every customer and order row (an update of an
  // existing customer changes no count).
  const snapshot = async () => ({
    customers: await t.db.prisma.customer.findMany({ orderBy: { id: 'asc' } }),
    orders: await t.db.prisma.order.findMany({ orderBy: { id: 'asc' } }),
    apiKeys: await t.db.prisma.apiKey.count(),
    scoreRuns: await t.db.prisma.scoreRun.count(),
  });

  beforeAll(async () => {
    t = await startTestServer(kind);
    alice = (await t.db.prisma.customer.create({ data: { externalId: 'alice', name: 'Alice', email: 'alice@example.com' } })).id;
    await t.db.prisma.order.create({ data: { customerId: alice, externalId: 'alice-1', orderedAt: new Date('2025-12-01T00:00:00Z'), amount: '12.50', itemCount: 1, currency: 'USD' } });
  });
  afterAll(async () => {
    console.log(`[security corpus on ${kind}] ${results.length} requests:\n  ${results.join('\n  ')}`);
    await t?.close();
  });

  async function send(r: HostileRequest) {
    const url = new URL(t.server.url);
    if (r.search) url.search = r.search;
    const headers: Record<string, string> = { ...(r.headers ?? {}) };
    if (r.contentType !== null) headers['content-type'] = r.contentType ?? 'application/json';
    const body = r.body === undefined ? undefined : typeof r.body === 'string' ? r.body : JSON.stringify(r.body);
    const res = await fetch(url, { method: r.method ?? 'POST', headers, body: body?.replaceAll('$ALICE', alice) });
    const text = await res.text();
    let json: any;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, json, text };
  }

  it('has at least 120 requests with distinct names', () => {
    expect(corpus.length).toBeGreaterThanOrEqual(120);
    expect(new Set(corpus.map((r) => r.name)).size).toBe(corpus.length);
  });

  it.each(corpus.map((r, i) => [`#${i + 1} ${r.name}`, r] as const))('%s: 4xx or a coded GraphQL error, nothing written', async (label, r) => {
    const before = await snapshot();
    const { status, json, text } = await send(r);
    expect(status, `${label}: ${text.slice(0, 300)}`).toBeLessThan(500);
    const errors: any[] = json?.errors ?? [];
    const codes = errors.map((e) => e.extensions?.code);
    // Either a refusal at the HTTP level, or GraphQL errors, each with a catalogued code.
    expect(status >= 400 || errors.length > 0, `${label}: ${text.slice(0, 300)}`).toBe(true);
    expect(codes.length, `${label} answers JSON errors: ${text.slice(0, 200)}`).toBeGreaterThan(0);
    for (const c of codes) expect(known.has(c), `${label}: code ${c}`).toBe(true);
    expect(codes, label).not.toContain('INTERNAL_SERVER_ERROR');
    if (r.code) expect(codes, `${label}: ${text.slice(0, 300)}`).toContain(r.code);
    // A refusal by a resolver (HTTP 200; variable coercion answers 400 before any resolver) names
    // the argument it refused, so each request is known to be refused for the intended reason.
    if (r.field && status === 200) expect(errors.find((e) => e.extensions?.code === r.code)?.extensions?.field, `${label}: ${text.slice(0, 300)}`).toBe(r.field);
    expect(JSON.stringify(json ?? text)).not.toMatch(/stack|prisma|\bat .*\.js:\d+/i);
    expect(await snapshot(), `${label} wrote nothing`).toEqual(before);
    results.push(`${label} → HTTP ${status} ${[...new Set(codes)].join(',')}`);
  });

  // The other side of the full checks: the extreme values they let through must be ones the
  // database reads (else they would surface as INTERNAL_SERVER_ERROR), and nothing valid is refused.
  it('serves the extreme values the checks accept', async () => {
    const c = (sort: string, value: string) => Buffer.from(JSON.stringify([sort, value, '00000000-0000-4000-8000-000000000000'])).toString('base64url');
    const page = (args: string) => `customers(first: 1, ${args}) { totalCount edges { node { id } } }`;
    const fields = [
      page('filter: { createdFrom: "0001-01-01T00:00:00Z", createdTo: "9999-12-31T23:59:59.999Z" }'),
      page('filter: { lastOrderFrom: "0001-01-01T00:00:00Z", lastOrderTo: "9999-12-31T23:59:59.999Z" }'),
      page(`after: "${c('CREATED_AT:ASC', '0001-01-01 00:00:00+00')}"`),
      page(`after: "${c('CREATED_AT:ASC', '2024-02-29 23:59:59.999999+05:30')}"`),
      page(`after: "${c('CREATED_AT:ASC', '1900-01-01 00:00:00+00:53:28')}"`),
      page(`orderBy: { field: LAST_ORDER_AT }, after: "${c('LAST_ORDER_AT:ASC', '-infinity')}"`),
      page(`orderBy: { field: ORDER_COUNT }, after: "${c('ORDER_COUNT:ASC', '-2147483648')}"`),
      page(`orderBy: { field: ORDER_COUNT, direction: DESC }, after: "${c('ORDER_COUNT:DESC', '2147483647')}"`),
      page(`orderBy: { field: TOTAL_SPENT }, after: "${c('TOTAL_SPENT:ASC', '-999999999999999.9999999999')}"`),
      page(`orderBy: { field: EXTERNAL_ID }, after: "${c('EXTERNAL_ID:ASC', '🦄 ünïcödé')}"`),
      page(`orderBy: { field: PROBABILITY }, after: "${c('PROBABILITY:ASC:xgboost-segment', '1e-300')}"`),
      page(`orderBy: { field: PROBABILITY }, after: "${c('PROBABILITY:ASC:xgboost-segment', '-Infinity')}"`),
      page(`orderBy: { field: PROBABILITY, direction: DESC }, after: "${c('PROBABILITY:DESC:xgboost-segment', 'Infinity')}"`),
      `customer(id: "$ALICE") { old: orders(after: "${c('orders', '0001-01-01T00:00:00.000Z')}") { totalCount edges { node { id } } } new: orders(after: "${c('orders', '9999-12-31T23:59:59.999Z')}") { edges { node { externalId } } } }`,
    ];
    for (const [i, field] of fields.entries()) {
      const res = await t.post(JSON.stringify({ query: `{ f${i}: ${field} }`.replaceAll('$ALICE', alice) }));
      expect(res.json.errors, `${field}: ${JSON.stringify(res.json.errors)}`).toBeUndefined();
      expect(res.status).toBe(200);
    }
    // Dates far apart select what they should: Alice was created now, and ordered in 2025.
    const all = await t.post(JSON.stringify({ query: '{ customers(filter: { createdFrom: "0001-01-01T00:00:00Z", createdTo: "9999-12-31T23:59:59.999Z" }) { totalCount } }' }));
    expect(all.json.data.customers.totalCount).toBe(1);
  });

  it('still answers a normal query afterwards', async () => {
    const res = await t.post(JSON.stringify({ query: '{ customers(first: 5) { totalCount edges { node { externalId stats { orderCount } } } } }' }));
    expect(res.status).toBe(200);
    expect(res.json.data.customers).toMatchObject({ totalCount: 1, edges: [{ node: { externalId: 'alice', stats: { orderCount: 1 } } }] });
  });
});
