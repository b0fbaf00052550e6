// What clients see when things go wrong: stable codes, internals masked (but logged), the
// database's absence reported as SERVICE_UNAVAILABLE, and HTTP-level garbage answered with 4xx.
import { readFile } from 'node:fs/promises';
import { printSchema } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/db/client.js';
import { ErrorCode } from '../src/graphql/errors.js';
import { getSchema, schemaFile } from '../src/graphql/schema.js';
import { CustomersPageDocument, CustomersWithStatsAndOrdersDocument, UpsertCustomerDocument } from './generated/graphql.js';
import { databaseKinds } from './helpers/databases.js';
import { codes, startTestServer, type TestServer } from './helpers/server.js';

describe('schema and catalogue', () => {
  it('the committed schema.graphql matches the code (run `npm run schema:emit` after a change)', async () => {
    expect(printSchema(await getSchema()) + '\n').toBe(await readFile(schemaFile, 'utf8'));
  });

  it('documents every error code in the README', async () => {
    const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
    for (const code of Object.values(ErrorCode)) expect(readme, code).toContain(`\`${code}\``);
  });
});

describe.each(databaseKinds)('error masking on %s', (kind) => {
  let t: TestServer;
  let id: string;
  beforeAll(async () => {
    t = await startTestServer(kind);
    id = (await t.gql(UpsertCustomerDocument, { input: { externalId: 'c1', name: 'One' } })).data!.upsertCustomer.id;
  });
  afterAll(() => t?.close());

  it('masks a database failure inside a resolver and logs the original with the request id', async () => {
    await t.db.prisma.$executeRawUnsafe('ALTER TABLE "Order" RENAME TO "OrderGone"');
    try {
      const { status, json } = await t.post(JSON.stringify({ query: `{ a: customer(id: "${id}") { stats { orderCount } } b: customerByExternalId(externalId: "c1") { externalId } }` }), {
        'x-request-id': 'req-mask-1',
      });
      expect(status).toBe(200);
      expect(json.errors.map((e: any) => e.extensions.code)).toEqual(['INTERNAL_SERVER_ERROR']);
      const body = JSON.stringify(json);
      expect(body).not.toMatch(/OrderGone|relation|SELECT|stack|prisma/i);
      expect(json.errors[0].message).toBe('Internal server error');
      // The sibling field that did not fail still answers.
      expect(json.data).toEqual({ a: null, b: { externalId: 'c1' } });
      const logged = t.logs.filter((l) => l.includes('"requestId":"req-mask-1"'));
      expect(logged.join('\n')).toMatch(/Order/);
      // …and the access log line of the same request.
      expect(logged.some((l) => l.includes('"msg":"request completed"') && l.includes('"statusCode":200'))).toBe(true);
    } finally {
      await t.db.prisma.$executeRawUnsafe('ALTER TABLE "OrderGone" RENAME TO "Order"');
    }
    const healthy = await t.gql(CustomersWithStatsAndOrdersDocument, { first: 1, orders: 1 });
    expect(healthy.errors).toBeUndefined();
  });

  it.each([
    ['malformed JSON', 400, 'BAD_REQUEST', '{"query": '],
    ['a syntax error', 400, 'GRAPHQL_PARSE_FAILED', JSON.stringify({ query: '{ customers(first: ' })],
    ['an unknown field', 400, 'GRAPHQL_VALIDATION_FAILED', JSON.stringify({ query: '{ customers { nope } }' })],
    ['a wrong variable type', 400, 'BAD_USER_INPUT', JSON.stringify({ query: 'query($n: Int) { customers(first: $n) { totalCount } }', variables: { n: 'ten' } })],
    ['no query', 400, 'BAD_REQUEST', JSON.stringify({})],
    ['an oversized body', 413, 'PAYLOAD_TOO_LARGE', JSON.stringify({ query: `{ customers { totalCount } } #${'x'.repeat(1_100_000)}` })],
  ])('answers %s with HTTP %i and %s', async (_name, status, code, body) => {
    const res = await t.post(body);
    expect(res.status).toBe(status);
    expect(res.json.errors?.[0]?.extensions?.code).toBe(code);
  });

  it('answers unknown routes with 404 NOT_FOUND', async () => {
    const res = await t.post('{}', {}, '/nope');
    expect(res.status).toBe(404);
    expect(res.json.errors[0].extensions.code).toBe('NOT_FOUND');
  });
  it('names an unknown model without echoing a long or control-character name back whole', async () => {
    const name = `${'m'.repeat(5000)}\u0000\u001b[31m`;
    const res = await t.post(JSON.stringify({ query: 'query($m: String) { segmentSummary(model: $m) { customersTotal } }', variables: { m: name } }));
    expect(res.json.errors.map((e: any) => e.extensions.code)).toEqual(['BAD_USER_INPUT']);
    const message: string = res.json.errors[0].message;
    expect(message).toMatch(/Unknown model "m{64}…" \(known: logistic-segment, transformer-segment, xgboost-segment\)/);
    expect(message.length).toBeLessThan(200);
    expect(message).not.toMatch(/[\u0000-\u001f]/);
  });
});

describe('request ids without the access log (LOG_LEVEL=warn)', () => {
  let t: TestServer;
  let id: string;
  beforeAll(async () => {
    t = await startTestServer('pglite', { LOG_LEVEL: 'warn' });
    id = (await t.gql(UpsertCustomerDocument, { input: { externalId: 'c1', name: 'One' } })).data!.upsertCustomer.id;
  });
  afterAll(() => t?.close());

  it('still answers with the request id, given or generated, and logs failures under it', async () => {
    const send = (headers: Record<string, string>) =>
      fetch(t.server.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query: '{ __typename }' }) });
    expect((await send({ 'x-request-id': 'req-warn-1' })).headers.get('x-request-id')).toBe('req-warn-1');
    expect((await send({ 'x-request-id': 'not valid!' })).headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    await t.db.prisma.$executeRawUnsafe('ALTER TABLE "Order" RENAME TO "OrderGone"');
    try {
      const { json } = await t.post(JSON.stringify({ query: `{ customer(id: "${id}") { stats { orderCount } } }` }), { 'x-request-id': 'req-warn-2' });
      expect(json.errors.map((e: any) => e.extensions.code)).toEqual(['INTERNAL_SERVER_ERROR']);
    } finally {
      await t.db.prisma.$executeRawUnsafe('ALTER TABLE "OrderGone" RENAME TO "Order"');
    }
    const logged = t.logs.filter((l) => l.includes('"requestId":"req-warn-2"'));
    expect(logged.join('\n')).toMatch(/Order/);
    // No access-log lines at this level (they are written at info).
    expect(t.logs.some((l) => l.includes('"msg":"request completed"'))).toBe(false);
  });
});

describe('database unreachable', () => {
  let t: TestServer;
  beforeAll(async () => {
    // A PostgreSQL URL on a closed port: every statement fails to connect.
    const db = await openDatabase({ databaseUrl: 'postgresql://postgres@127.0.0.1:9/none', poolSize: 1 });
    t = await startTestServer('postgresql', {}, { db, drop: () => db.close() });
  });
  afterAll(() => t?.close());

  it('fails requests fast with SERVICE_UNAVAILABLE and keeps serving', async () => {
    for (let i = 0; i < 3; i++) {
      const started = Date.now();
      const res = await t.gql(CustomersPageDocument, { first: 1 });
      expect(codes(res)).toEqual(['SERVICE_UNAVAILABLE']);
      expect(Date.now() - started).toBeLessThan(10_000);
    }
    const ready = await fetch(t.server.url.replace('/graphql', '/health/ready'));
    expect(ready.status).toBe(503);
    const live = await fetch(t.server.url.replace('/graphql', '/health/live'));
    expect(live.status).toBe(200);
  });
});
