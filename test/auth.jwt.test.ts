// Shopper tokens (JWT) verified against a real JWKS endpoint served by this test: what is accepted,
// every kind of refusal, key rotation without a restart, and a flood of unknown kids costing one fetch.
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JwtVerifier, type JwtSettings } from '../src/auth/jwt.js';
import { createApiKey } from '../src/auth/api-keys.js';
import { AUDIENCE, ISSUER, rsaKey, startJwks, token, type Jwks, type Key } from './helpers/jwks.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const settings = (over: Partial<JwtSettings>): JwtSettings => ({
  issuer: ISSUER,
  audience: AUDIENCE,
  customerClaim: 'sub',
  maxBytes: 4096,
  clockToleranceSeconds: 0,
  jwksCooldownSeconds: 30,
  jwksMaxAgeSeconds: 600,
  ...over,
});

const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');

describe('shopper tokens (JWT)', () => {
  let jwks: Jwks;
  let k1: Key;
  let k2: Key;
  beforeAll(async () => {
    jwks = await startJwks();
    k1 = await rsaKey('k1');
    k2 = await rsaKey('k2');
    jwks.keys = [k1.jwk];
  });
  afterAll(() => jwks?.close());

  it('accepts a token signed by a key of the JWKS, naming the customer by its subject', async () => {
    const v = new JwtVerifier(settings({ jwksUrl: jwks.url }));
    expect(await v.verify(await token(k1))).toEqual({ ok: true, customerExternalId: 'shopper-42', subject: 'shopper-42' });
  });

  it('reads the customer from JWT_CUSTOMER_CLAIM when configured', async () => {
    const v = new JwtVerifier(settings({ jwksUrl: jwks.url, customerClaim: 'customer_id' }));
    expect(await v.verify(await token(k1, { customer_id: 'c-7' }))).toMatchObject({ ok: true, customerExternalId: 'c-7' });
    expect(await v.verify(await token(k1))).toEqual({ ok: false, reason: 'invalid' });
  });

  it('refuses expired, not-yet-valid, wrong-issuer, wrong-audience, unknown-kid, unsigned, confused and oversized tokens', async () => {
    const v = new JwtVerifier(settings({ jwksUrl: jwks.url }));
    const now = Math.floor(Date.now() / 1000);
    expect(await v.verify(await token(k1, {}, { exp: now - 60 }))).toEqual({ ok: false, reason: 'expired' });
    expect(await v.verify(await token(k1, {}, { nbf: now + 3600 }))).toEqual({ ok: false, reason: 'invalid' });
    expect(await v.verify(await token(k1, {}, { iss: 'https://evil.test/' }))).toEqual({ ok: false, reason: 'invalid' });
    expect(await v.verify(await token(k1, {}, { aud: 'someone-else' }))).toEqual({ ok: false, reason: 'invalid' });
    expect(await v.verify(await token(k1, {}, { kid: 'nope' }))).toEqual({ ok: false, reason: 'invalid' });
    // A valid token's payload re-signed as nothing.
    const payload = (await token(k1)).split('.')[1];
    expect(await v.verify(`${b64({ alg: 'none', typ: 'JWT' })}.${payload}.`)).toEqual({ ok: false, reason: 'invalid' });
    // HS256 "signed" with the RSA public key as the HMAC secret (the classic confusion attack).
    const confused = await new SignJWT({}).setProtectedHeader({ alg: 'HS256', kid: 'k1' }).setIssuer(ISSUER).setAudience(AUDIENCE).setSubject('shopper-42').setExpirationTime('5m').sign(new TextEncoder().encode(k1.pem));
    expect(await v.verify(confused)).toEqual({ ok: false, reason: 'invalid' });
    expect(await new JwtVerifier(settings({ publicKey: k1.pem })).verify(confused)).toEqual({ ok: false, reason: 'invalid' });
    // Oversized, and tampered.
    expect(await v.verify(await token(k1, { pad: 'x'.repeat(5000) }))).toEqual({ ok: false, reason: 'invalid' });
    const good = await token(k1);
    const [h, , s] = good.split('.');
    expect(await v.verify(`${h}.${b64({ sub: 'someone-else', iss: ISSUER, aud: AUDIENCE, exp: now + 300 })}.${s}`)).toEqual({ ok: false, reason: 'invalid' });
    expect(await v.verify('not-a-jwt')).toEqual({ ok: false, reason: 'invalid' });
  });

  it('fetches the key set once for a flood of made-up kids', async () => {
    const v = new JwtVerifier(settings({ jwksUrl: jwks.url }));
    expect((await v.verify(await token(k1))).ok).toBe(true);
    const before = v.jwksFetches;
    const flood = await Promise.all(Array.from({ length: 50 }, (_, i) => token(k1, {}, { kid: `made-up-${i}` })));
    for (const t of flood) expect(await v.verify(t)).toEqual({ ok: false, reason: 'invalid' });
    expect(v.jwksFetches - before).toBeLessThanOrEqual(1);
  });

  it('follows a key rotation without a restart', async () => {
    const v = new JwtVerifier(settings({ jwksUrl: jwks.url, jwksCooldownSeconds: 0 }));
    expect((await v.verify(await token(k1))).ok).toBe(true);
    jwks.keys = [k1.jwk, k2.jwk]; // the provider publishes the new key …
    expect((await v.verify(await token(k2))).ok).toBe(true); // … and its first token is accepted
    jwks.keys = [k2.jwk]; // the old key is retired
    const stale = new JwtVerifier(settings({ jwksUrl: jwks.url }));
    expect(await stale.verify(await token(k1))).toEqual({ ok: false, reason: 'invalid' });
    jwks.keys = [k1.jwk];
  });

  it('says "unavailable" (not "invalid") when the key set cannot be fetched', async () => {
    jwks.up = false;
    try {
      const v = new JwtVerifier(settings({ jwksUrl: jwks.url }));
      expect(await v.verify(await token(k1))).toEqual({ ok: false, reason: 'unavailable' });
    } finally {
      jwks.up = true;
    }
  });

  it('verifies with a shared secret (HS256) and refuses asymmetric tokens there', async () => {
    const secret = 'a-shared-secret-of-at-least-32-bytes!!';
    const v = new JwtVerifier(settings({ secret }));
    const hs = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setIssuer(ISSUER).setAudience(AUDIENCE).setSubject('shopper-9').setExpirationTime('5m').sign(new TextEncoder().encode(secret));
    expect(await v.verify(hs)).toMatchObject({ ok: true, customerExternalId: 'shopper-9' });
    expect(await v.verify(await token(k1))).toEqual({ ok: false, reason: 'invalid' });
  });
});

describe('shopper tokens over HTTP', () => {
  let jwks: Jwks;
  let key: Key;
  let t: TestServer;
  const ask = (token: string) => t.post(JSON.stringify({ query: '{ customerByExternalId(externalId: "shopper-42") { externalId segment probability } }' }), { authorization: `Bearer ${token}` });

  beforeAll(async () => {
    jwks = await startJwks();
    key = await rsaKey('live');
    jwks.keys = [key.jwk];
    t = await startTestServer('pglite', { AUTH_MODE: 'required', JWT_JWKS_URL: jwks.url, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE, JWT_MAX_BYTES: '2048' });
    await t.db.prisma.customer.create({ data: { externalId: 'shopper-42', name: 'Shopper', country: 'DE' } });
    await createApiKey(t.db, { role: 'admin' }); // production-like start: at least one key exists
  });
  afterAll(async () => {
    await t?.close();
    await jwks?.close();
  });

  it('serves the shopper named by the token as a frontend credential', async () => {
    const res = await ask(await token(key));
    expect(res.status).toBe(200);
    expect(res.json.errors).toBeUndefined();
    expect(res.json.data.customerByExternalId.externalId).toBe('shopper-42');
    const other = await t.post(JSON.stringify({ query: '{ customers(first: 1) { totalCount } }' }), { authorization: `Bearer ${await token(key)}` });
    expect(other.json.errors.map((e: any) => e.extensions.code)).toEqual(['FORBIDDEN']);
  });

  it('answers every refusal with 401 and a catalogued code, saying nothing that helps a forger', async () => {
    const now = Math.floor(Date.now() / 1000);
    const payload = (await token(key)).split('.')[1];
    const forged = [
      await token(key, {}, { nbf: now + 3600 }),
      await token(key, {}, { iss: 'https://evil.test/' }),
      await token(key, {}, { aud: 'other' }),
      await token(key, {}, { kid: 'unknown' }),
      `${b64({ alg: 'none', typ: 'JWT' })}.${payload}.`,
      await new SignJWT({}).setProtectedHeader({ alg: 'HS256', kid: 'live' }).setIssuer(ISSUER).setAudience(AUDIENCE).setSubject('shopper-42').setExpirationTime('5m').sign(new TextEncoder().encode(key.pem)),
      await token(key, { pad: 'x'.repeat(3000) }),
    ];
    const bodies = new Set<string>();
    for (const f of forged) {
      const res = await ask(f);
      expect(res.status).toBe(401);
      expect(res.json.errors.map((e: any) => e.extensions.code)).toEqual(['UNAUTHENTICATED']);
      bodies.add(JSON.stringify(res.json));
    }
    // One answer for all of them: which check failed is not revealed.
    expect(bodies.size).toBe(1);
    const expired = await ask(await token(key, {}, { exp: now - 120 }));
    expect(expired.status).toBe(401);
    expect(expired.json.errors.map((e: any) => e.extensions.code)).toEqual(['TOKEN_EXPIRED']);
  });
});
