// A JSON Web Key Set endpoint served by the tests themselves (the shop's identity provider), with
// RSA keys they generate and tokens they sign.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, exportSPKI, generateKeyPair, type JWK } from 'jose';

export const ISSUER = 'https://id.shop.test/';
export const AUDIENCE = 'customer-intelligence';

export interface Jwks {
  url: string;
  fetches: number;
  keys: JWK[];
  up: boolean;
  close(): Promise<void>;
}

export async function startJwks(): Promise<Jwks> {
  const state = { fetches: 0, keys: [] as JWK[], up: true };
  const server = http.createServer((_req, res) => {
    state.fetches += 1;
    if (!state.up) return void res.writeHead(503).end();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: state.keys }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  }) as Jwks;
}

export async function rsaKey(kid: string) {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  return { kid, publicKey, privateKey, jwk, pem: await exportSPKI(publicKey) };
}

export type Key = Awaited<ReturnType<typeof rsaKey>>;

export function token(
  key: Key,
  claims: Record<string, unknown> = {},
  opts: { sub?: string; iss?: string; aud?: string; exp?: number | string; nbf?: number | string; kid?: string } = {},
) {
  const jwt = new SignJWT({ ...claims })
    .setProtectedHeader({ alg: 'RS256', kid: opts.kid ?? key.kid })
    .setIssuer(opts.iss ?? ISSUER)
    .setAudience(opts.aud ?? AUDIENCE)
    .setSubject(opts.sub ?? 'shopper-42')
    .setIssuedAt()
    .setExpirationTime(opts.exp ?? '5m');
  if (opts.nbf !== undefined) jwt.setNotBefore(opts.nbf);
  return jwt.sign(key.privateKey);
}
