// Access control over real HTTP: API keys (hashed, revocable), the three roles, every root field for
// every role, every PII field for every role and path, production refusing to run unauthenticated,
// introspection off in production. The policy under test is src/graphql/auth/policy.ts.
import { getNamedType, getNullableType, isLeafType, isNonNullType, isObjectType, type GraphQLField } from 'graphql';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatabaseKind } from '../src/db/client.js';
import { loadConfig } from '../src/config.js';
import { createApiKey, hashKey, revokeApiKey } from '../src/auth/api-keys.js';
import { MASK } from '../src/graphql/auth/field-policy.js';
import { piiFields, ruleFor } from '../src/graphql/auth/policy.js';
import { roles, type Role } from '../src/auth/principal.js';
import { getSchema } from '../src/graphql/schema.js';
import { createTestDatabase, databaseKinds } from './helpers/databases.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
const errCodes = (json: any): string[] => (json.errors ?? []).map((e: any) => e.extensions?.code);

/** How to call each root field in a test (`$own*` are replaced with the frontend's customer). */
const samples: Record<string, (own: { id: string; externalId: string }, n: number) => string> = {
  'Query.customer': (o) => `{ customer(id: "${o.id}") { id } }`,
  'Query.customerByExternalId': (o) => `{ customerByExternalId(externalId: "${o.externalId}") { id } }`,
  'Query.customers': () => `{ customers(first: 1) { totalCount } }`,
  'Query.models': () => `{ models { name } }`,
  'Mutation.upsertCustomer': (_o, n) => `mutation { upsertCustomer(input: { externalId: "auth-up-${n}", name: "Up ${n}" }) { id } }`,
  // Promotes the version already served: allowed for admins, changes nothing served.
  'Mutation.promoteModel': () => `mutation { promoteModel(name: "xgboost-segment", version: "1") { version status } }`,
  'Mutation.recordOrder': (o, n) =>
    `mutation { recordOrder(input: { externalId: "auth-ord-${n}", customerExternalId: "${o.externalId}", orderedAt: "2026-01-01T00:00:00Z", amount: "1.00", itemCount: 1, currency: "USD" }) { id } }`,
};

/** A minimal selection for a root field without required arguments (fields added later). */
function generatedSample(parent: string, field: GraphQLField<unknown, unknown>): string | undefined {
  if (field.args.some((a) => isNonNullType(a.type) && a.defaultValue === undefined)) return undefined;
  const op = parent === 'Mutation' ? 'mutation ' : '';
  return isLeafType(getNamedType(field.type)) ? `${op}{ ${field.name} }` : `${op}{ ${field.name} { __typename } }`;
}

// The storefront credential comes in two kinds with one policy: a frontend API key, and a shopper
// token (JWT) from the shop's identity provider. The whole suite runs with keys on every database,
// and once more on the embedded one with shopper tokens as the frontend credential.
const SHOPPER_SECRET = 'storefront-test-secret-0123456789abcdef';
const shopperToken = (externalId: string) =>
  new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setIssuer('https://id.shop.test/').setAudience('cia').setSubject(externalId).setExpirationTime('10m').sign(new TextEncoder().encode(SHOPPER_SECRET));
const cases: [DatabaseKind, 'apikey' | 'jwt'][] = [...databaseKinds.map((k): [DatabaseKind, 'apikey'] => [k, 'apikey']), ['pglite', 'jwt']];

describe.each(cases)('access control on %s, frontend credential: %s', (kind, frontendKind) => {
  let t: TestServer;
  const keys = {} as Record<Role, string>;
  let other: string; // another customer's key (frontend)
  let alice: { id: string; externalId: string };
  let bob: { id: string; externalId: string };
  const send = (query: string, key?: string, variables?: unknown) => t.post(JSON.stringify({ query, variables }), key ? bearer(key) : {});
  const rows = async () => [await t.db.prisma.customer.count(), await t.db.prisma.order.count()];

  beforeAll(async () => {
    // NODE_ENV=test with AUTH_MODE=required: every request needs a key, as in production.
    t = await startTestServer(kind, {
      AUTH_MODE: 'required',
      AUTH_CACHE_TTL_SECONDS: '0',
      ...(frontendKind === 'jwt' ? { JWT_SECRET: SHOPPER_SECRET, JWT_ISSUER: 'https://id.shop.test/', JWT_AUDIENCE: 'cia' } : {}),
    });
    const mk = (externalId: string, name: string, email: string, birthDate: string) =>
      t.db.prisma.customer.create({ data: { externalId, name, email, birthDate: new Date(birthDate), country: 'DE' }, select: { id: true, externalId: true } });
    alice = await mk('alice', 'Alice Archer', 'alice@example.com', '1980-02-03');
    bob = await mk('bob', 'Bob Baker', 'bob@example.com', '1975-06-07');
    await t.db.prisma.order.create({ data: { customerId: alice.id, externalId: 'alice-1', orderedAt: new Date('2025-12-01T00:00:00Z'), amount: '12.50', itemCount: 1, currency: 'USD' } });
    keys.admin = (await createApiKey(t.db, { role: 'admin', name: 'ops' })).key;
    keys.bi = (await createApiKey(t.db, { role: 'bi' })).key;
    keys.frontend = frontendKind === 'jwt' ? await shopperToken('alice') : (await createApiKey(t.db, { role: 'frontend', customer: 'alice' })).key;
    other = frontendKind === 'jwt' ? await shopperToken('bob') : (await createApiKey(t.db, { role: 'frontend', customer: bob.id })).key;
  });
  afterAll(() => t?.close());

  it('stores only the sha256 of a key', async () => {
    const stored = await t.db.prisma.apiKey.findMany();
    // Shopper tokens are verified, never stored.
    expect(stored).toHaveLength(frontendKind === 'jwt' ? 2 : 4);
    const dump = JSON.stringify(stored);
    for (const [role, key] of Object.entries(keys)) {
      expect(dump).not.toContain(key);
      expect(stored.some((r) => r.keyHash === hashKey(key))).toBe(role !== 'frontend' || frontendKind === 'apikey');
    }
  });

  it.each([
    ['no Authorization header', {}],
    ['an unknown key', bearer('cia_' + 'A'.repeat(43))],
    ['a malformed key', bearer('not-a-key')],
    ['a Basic credential', { authorization: 'Basic YWRtaW46YWRtaW4=' }],
    ['an empty Bearer', { authorization: 'Bearer ' }],
  ])('answers %s with HTTP 401 UNAUTHENTICATED and runs no SQL', async (_name, headers) => {
    const before = t.db.queryCount();
    const res = await t.post(JSON.stringify({ query: '{ customers(first: 1) { totalCount } }' }), headers as Record<string, string>);
    expect(res.status).toBe(401);
    expect(errCodes(res.json)).toEqual(['UNAUTHENTICATED']);
    // A well-formed unknown key costs one indexed lookup; anything else none. Never the query itself.
    expect(t.db.queryCount() - before).toBeLessThanOrEqual(1);
  });

  it('refuses a revoked key at once when the cache is off (AUTH_CACHE_TTL_SECONDS=0)', async () => {
    const { id, key } = await createApiKey(t.db, { role: 'admin' });
    expect((await send('{ models { name } }', key)).status).toBe(200);
    expect(await revokeApiKey(t.db, id)).toBe(true);
    const res = await send('{ models { name } }', key);
    expect(res.status).toBe(401);
    expect(errCodes(res.json)).toEqual(['UNAUTHENTICATED']);
    expect(await revokeApiKey(t.db, id)).toBe(false);
  });

  it('checks every root field for every role against the policy table', async () => {
    const schema = await getSchema();
    let n = 0;
    const checked: string[] = [];
    for (const parent of ['Query', 'Mutation'] as const) {
      const type = parent === 'Query' ? schema.getQueryType() : schema.getMutationType();
      for (const field of Object.values(type?.getFields() ?? {})) {
        const key = `${parent}.${field.name}`;
        for (const role of roles) {
          const rule = ruleFor(role, parent, field.name);
          const query = samples[key]?.(alice, ++n) ?? generatedSample(parent, field);
          expect(query, `add a sample invocation of ${key} to test/security.authorization.test.ts`).toBeDefined();
          const before = await rows();
          const res = await send(query!, keys[role]);
          expect(res.status, `${role} ${key}`).toBe(200);
          if (rule === 'deny') {
            expect(errCodes(res.json), `${role} ${key}`).toEqual(['FORBIDDEN']);
            expect(await rows(), `${role} ${key} wrote nothing`).toEqual(before);
          } else {
            expect(errCodes(res.json), `${role} ${key}: ${JSON.stringify(res.json.errors)}`).not.toContain('FORBIDDEN');
            expect(res.json.data?.[field.name], `${role} ${key}`).toBeTruthy();
          }
          if (typeof rule === 'function') {
            // Guards: the same call for somebody else's data is refused, whatever exists.
            const others = samples[key]!(bob, ++n);
            const denied = await send(others, keys[role]);
            expect(errCodes(denied.json), `${role} ${key} for another customer`).toEqual(['FORBIDDEN']);
            expect(denied.json.data?.[field.name]).toBeNull();
          }
          checked.push(`${role} ${key} ${typeof rule === 'function' ? 'guard' : rule}`);
        }
      }
    }
    expect(checked).toEqual(expect.arrayContaining(['admin Mutation.recordOrder allow', 'bi Mutation.recordOrder deny', 'frontend Query.customers deny', 'frontend Query.customer guard']));
  });

  it('frontend: its own customer by id or externalId, only predictions; nobody else, not even unknown ids', async () => {
    const own = await send(`{ customerByExternalId(externalId: "alice") { id externalId segment probability segmentProbabilities { segment probability } explanation(top: 2) { method contributions { feature } } prediction { segment } } }`, keys.frontend);
    expect(own.json.errors).toBeUndefined();
    expect(own.json.data.customerByExternalId).toMatchObject({ id: alice.id, externalId: 'alice', segment: expect.any(String), probability: expect.any(Number) });
    const viewer = await send(`{ viewer { role authenticated } }`, keys.frontend);
    expect(viewer.json).toEqual({ data: { viewer: { role: 'frontend', authenticated: true } } });
    const byId = await send(`{ customer(id: "${alice.id.toUpperCase()}") { segment } }`, keys.frontend);
    expect(byId.json.errors).toBeUndefined();
    for (const q of [
      `{ customer(id: "${bob.id}") { segment } }`,
      `{ customer(id: "00000000-0000-4000-8000-000000000000") { segment } }`,
      `{ customerByExternalId(externalId: "bob") { segment } }`,
      `{ customerByExternalId(externalId: "nobody") { segment } }`,
      `{ customers { edges { node { segment } } } }`,
      `{ models { name } }`,
      `mutation { upsertCustomer(input: { externalId: "alice", name: "Mallory" }) { id } }`,
    ]) {
      // The key lookup itself (the cache is off here) is measured with a query that touches nothing.
      let before = t.db.queryCount();
      await send('{ __typename }', keys.frontend);
      const lookup = t.db.queryCount() - before;
      before = t.db.queryCount();
      const res = await send(q, keys.frontend);
      expect(errCodes(res.json), q).toEqual(['FORBIDDEN']);
      expect(t.db.queryCount() - before, `${q} ran no SQL beyond the key lookup`).toBe(lookup);
    }
    // Other fields of its own customer: refused field by field.
    for (const f of ['stats { orderCount }', 'orders { totalCount }', 'country', 'createdAt', 'gender']) {
      const res = await send(`{ customer(id: "${alice.id}") { id ${f} } }`, keys.frontend);
      expect(errCodes(res.json), f).toEqual(['FORBIDDEN']);
    }
    // The other frontend key reads bob, not alice.
    expect(errCodes((await send(`{ customer(id: "${bob.id}") { segment } }`, other)).json)).toEqual([]);
    expect(errCodes((await send(`{ customer(id: "${alice.id}") { segment } }`, other)).json)).toEqual(['FORBIDDEN']);
  });

  it('PII fields for every role: admin reads them, bi gets them masked on every path, frontend is refused', async () => {
    const expected: Record<string, unknown> = { 'Customer.email': 'alice@example.com', 'Customer.name': 'Alice Archer', 'Customer.birthDate': '1980-02-03' };
    const maskedAs: Record<string, unknown> = { 'Customer.email': MASK, 'Customer.name': MASK, 'Customer.birthDate': null };
    const paths = {
      customer: (f: string) => [`{ customer(id: "${alice.id}") { ${f} } }`, (d: any) => d.customer],
      byExternalId: (f: string) => [`{ customerByExternalId(externalId: "alice") { ${f} } }`, (d: any) => d.customerByExternalId],
      list: (f: string) => [`{ customers(first: 10, filter: { countries: ["DE"] }, orderBy: { field: EXTERNAL_ID, direction: ASC }) { edges { node { ${f} } } } }`, (d: any) => d.customers.edges[0].node],
      viaOrder: (f: string) => [`{ customer(id: "${alice.id}") { orders(first: 1) { edges { node { customer { ${f} } } } } } }`, (d: any) => d.customer.orders.edges[0].node.customer],
    } as const;
    let cases = 0;
    for (const pii of piiFields) {
      const field = pii.split('.')[1]!;
      for (const role of roles) {
        for (const [pathName, make] of Object.entries(paths)) {
          const [query, pick] = make(field) as [string, (d: any) => any];
          const res = await send(query, keys[role]);
          cases++;
          const rule = ruleFor(role, 'Customer', field);
          const label = `${role} ${pii} via ${pathName}`;
          if (role === 'frontend') {
            expect(errCodes(res.json), label).toEqual(['FORBIDDEN']);
            expect(JSON.stringify(res.json), label).not.toContain(String(expected[pii]));
          } else {
            expect(res.json.errors, label).toBeUndefined();
            expect(pick(res.json.data)[field], label).toEqual(rule === 'mask' ? maskedAs[pii] : expected[pii]);
          }
        }
      }
    }
    expect(cases).toBe(piiFields.length * roles.length * Object.keys(paths).length);
    // A masked email stays null when there is none.
    const none = await t.db.prisma.customer.create({ data: { externalId: 'no-email', name: 'N' }, select: { id: true } });
    expect((await send(`{ customer(id: "${none.id}") { email name } }`, keys.bi)).json.data.customer).toEqual({ email: null, name: MASK });
  });

  it('policy sanity: every PII field is masked for bi and denied for frontend; admin has no restriction', async () => {
    const schema = await getSchema();
    for (const pii of piiFields) {
      const [type, field] = pii.split('.') as [string, string];
      const def = (schema.getType(type) as any).getFields()[field];
      expect(def, pii).toBeDefined();
      expect(ruleFor('bi', type, field)).toBe('mask');
      expect(ruleFor('frontend', type, field)).toBe('deny');
      expect(ruleFor('admin', type, field)).toBe('allow');
      if (isNonNullType(def.type)) expect(getNullableType(def.type).toString()).toBe('String');
    }
    for (const type of Object.values(schema.getTypeMap())) {
      if (!isObjectType(type) || type.name.startsWith('__')) continue;
      for (const f of Object.keys(type.getFields())) expect(ruleFor('admin', type.name, f)).toBe('allow');
    }
  });
});

describe('production mode', () => {
  it('refuses AUTH_MODE=off, naming the variable', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', AUTH_MODE: 'off' })).toThrow(/AUTH_MODE: must not be off when NODE_ENV=production/);
    const prod = loadConfig({ NODE_ENV: 'production' });
    expect(prod).toMatchObject({ authMode: 'required', introspection: false, rateLimitPoints: 1200 });
    expect(loadConfig({ NODE_ENV: 'development' })).toMatchObject({ authMode: 'off', introspection: true, rateLimitPoints: 0 });
  });

  it('refuses to start without an active API key, naming AUTH_MODE and the command', async () => {
    const tdb = await createTestDatabase('pglite');
    try {
      await expect(startTestServer('pglite', { NODE_ENV: 'production' }, tdb)).rejects.toThrow(/AUTH_MODE: required .* no active API key[\s\S]*npm run apikey -- create --role admin/);
    } finally {
      await tdb.drop();
    }
  });

  describe('with a key', () => {
    let t: TestServer;
    let key: string;
    beforeAll(async () => {
      const tdb = await createTestDatabase('pglite');
      key = (await createApiKey(tdb.db, { role: 'admin' })).key;
      t = await startTestServer('pglite', { NODE_ENV: 'production' }, tdb);
      t.close = ((close) => async () => {
        await close();
        await tdb.drop();
      })(t.close);
    });
    afterAll(() => t?.close());

    it('answers requests without a credential with 401 UNAUTHENTICATED and a WWW-Authenticate header', async () => {
      const res = await fetch(t.server.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ models { name } }' }) });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(((await res.json()) as any).errors[0].extensions.code).toBe('UNAUTHENTICATED');
      expect((await t.post(JSON.stringify({ query: '{ models { name } }' }), bearer(key))).json.data.models.length).toBeGreaterThan(0);
    });

    it('turns introspection off and hides field suggestions', async () => {
      const res = await t.post(JSON.stringify({ query: '{ __schema { types { name } } }' }), bearer(key));
      expect(res.status).toBe(400);
      expect(errCodes(res.json)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
      const typo = await t.post(JSON.stringify({ query: '{ customerz { totalCount } }' }), bearer(key));
      expect(typo.json.errors[0].message).not.toMatch(/Did you mean/);
      expect(JSON.stringify(typo.json)).not.toContain('"customers"');
    });

    it('GRAPHQL_INTROSPECTION=on turns it back on', async () => {
      const on = await startTestServer('pglite', { NODE_ENV: 'production', GRAPHQL_INTROSPECTION: 'on' }, { db: t.db, drop: async () => {} });
      try {
        const res = await on.post(JSON.stringify({ query: '{ __schema { queryType { name } } }' }), bearer(key));
        expect(res.json.data.__schema.queryType.name).toBe('Query');
      } finally {
        await on.close();
      }
    });
  });
});

describe('development mode', () => {
  it('serves requests without a credential as admin, with a loud warning at start', async () => {
    const t = await startTestServer('pglite', { NODE_ENV: 'development' });
    try {
      expect(t.logs.join('\n')).toMatch(/AUTHENTICATION IS OFF/);
      const res = await t.post(JSON.stringify({ query: 'mutation { upsertCustomer(input: { externalId: "dev", name: "Dev" }) { name } }' }));
      expect(res.json.data.upsertCustomer.name).toBe('Dev');
      // A credential, when sent, still counts (and a bad one is refused).
      const bi = (await createApiKey(t.db, { role: 'bi' })).key;
      expect((await t.post(JSON.stringify({ query: '{ customerByExternalId(externalId: "dev") { name } }' }), bearer(bi))).json.data.customerByExternalId.name).toBe(MASK);
      expect((await t.post(JSON.stringify({ query: '{ models { name } }' }), bearer('cia_nope'))).status).toBe(401);
    } finally {
      await t.close();
    }
  });
});
