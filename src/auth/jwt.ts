// Shopper tokens for storefronts: the shop's identity provider signs a short-lived JWT whose
// subject (or JWT_CUSTOMER_CLAIM) is the shopper's customer id in the shop system (our
// `externalId`). A valid token is a `frontend` credential for that one customer, exactly like a
// frontend API key. Verification is jose's; this module only decides which keys and algorithms are
// acceptable and turns every failure into one of three outcomes, none of which says why a token
// was forged or malformed (only an expired, correctly signed token is told so, so a client knows to
// refresh it).
import { createPublicKey, type KeyObject } from 'node:crypto';
import { createRemoteJWKSet, customFetch, errors as joseErrors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { LRUCache } from 'lru-cache';
import type { Config } from '../config.js';
import type { Principal } from './principal.js';

export interface JwtSettings {
  jwksUrl?: string;
  publicKey?: string;
  secret?: string;
  issuer: string;
  audience: string;
  customerClaim: string;
  maxBytes: number;
  clockToleranceSeconds: number;
  /** Least time between two JWKS fetches caused by unknown `kid`s (a flood of made-up kids costs one fetch per period). */
  jwksCooldownSeconds: number;
  /** Keys are refetched after this age even when every `kid` is known. */
  jwksMaxAgeSeconds: number;
}

export type JwtOutcome =
  | { ok: true; customerExternalId: string; subject: string }
  | { ok: false; reason: 'invalid' | 'expired' | 'unavailable' };

const asymmetric = {
  rsa: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'],
  ec: ['ES256', 'ES384', 'ES512'],
  ed25519: ['EdDSA', 'Ed25519'],
  ed448: ['EdDSA'],
} as const;
const ALL_ASYMMETRIC = [...new Set(Object.values(asymmetric).flat())];
const HMAC = ['HS256', 'HS384', 'HS512'];

/** Three dot-separated base64url parts: what a compact JWS looks like (API keys start with cia_). */
export const looksLikeJwt = (token: string) => /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token);

export class JwtVerifier {
  private readonly key: Uint8Array | KeyObject | JWTVerifyGetKey;
  /** Fixed by the configured key type, never by the token's header: no `none`, no HS/RS confusion. */
  readonly algorithms: string[];
  /** JWKS documents fetched so far (metrics and tests). */
  jwksFetches = 0;

  constructor(private readonly settings: JwtSettings) {
    if (settings.secret) {
      this.key = new TextEncoder().encode(settings.secret);
      this.algorithms = HMAC;
    } else if (settings.publicKey) {
      const key = createPublicKey(settings.publicKey);
      const type = key.asymmetricKeyType as keyof typeof asymmetric | undefined;
      if (!type || !(type in asymmetric)) throw new Error(`JWT_PUBLIC_KEY: unsupported key type ${type}`);
      this.key = key;
      this.algorithms = [...asymmetric[type]];
    } else if (settings.jwksUrl) {
      const jwks = createRemoteJWKSet(new URL(settings.jwksUrl), {
        cooldownDuration: settings.jwksCooldownSeconds * 1000,
        cacheMaxAge: settings.jwksMaxAgeSeconds * 1000,
        timeoutDuration: 5_000,
        // Count fetches: a flood of unknown kids must not turn into a flood of requests.
        [customFetch]: (url: string, init: RequestInit) => {
          this.jwksFetches += 1;
          return fetch(url, init);
        },
      });
      this.key = jwks;
      this.algorithms = ALL_ASYMMETRIC;
    } else {
      throw new Error('JwtVerifier needs JWT_JWKS_URL, JWT_PUBLIC_KEY or JWT_SECRET');
    }
  }

  async verify(token: string): Promise<JwtOutcome> {
    if (token.length > this.settings.maxBytes || !looksLikeJwt(token)) return { ok: false, reason: 'invalid' };
    try {
      const { payload } = await jwtVerify(token, this.key as never, {
        issuer: this.settings.issuer,
        audience: this.settings.audience,
        algorithms: this.algorithms,
        clockTolerance: this.settings.clockToleranceSeconds,
        requiredClaims: ['exp', this.settings.customerClaim],
      });
      const claim = payload[this.settings.customerClaim];
      if (typeof claim !== 'string' || claim.length === 0 || claim.length > 256) return { ok: false, reason: 'invalid' };
      return { ok: true, customerExternalId: claim, subject: String(payload.sub ?? claim) };
    } catch (err) {
      // jose checks the signature before the claims: "expired" is only ever said of a genuine token.
      if (err instanceof joseErrors.JWTExpired) return { ok: false, reason: 'expired' };
      // The identity provider's key set could not be read (down, slow, not JSON): not the caller's fault.
      if (err instanceof joseErrors.JWKSTimeout || (err instanceof TypeError && /fetch failed/i.test(err.message))) return { ok: false, reason: 'unavailable' };
      if (err instanceof joseErrors.JOSEError && /JSON Web Key Set HTTP response/.test(err.message)) return { ok: false, reason: 'unavailable' };
      return { ok: false, reason: 'invalid' };
    }
  }
}

/**
 * Shopper tokens → principals: a verified token is the `frontend` role for the customer whose
 * `externalId` is the token's customer claim. The customer's id is looked up once per TTL (a
 * shopper without a customer row yet gets a principal that reads only `customerByExternalId`,
 * which answers null).
 */
export class ShopperTokens {
  /** null when AUTH_CACHE_TTL_SECONDS=0: every request looks the customer up, as keys do then. */
  private readonly ids: LRUCache<string, { id: string | null }> | null;

  constructor(
    readonly verifier: JwtVerifier,
    private readonly findCustomerId: (externalId: string) => Promise<string | null>,
    ttlSeconds: number,
  ) {
    this.ids = ttlSeconds > 0 ? new LRUCache({ max: 100_000, ttl: ttlSeconds * 1000 }) : null;
  }

  async authenticate(token: string): Promise<{ ok: true; principal: Principal } | { ok: false; reason: 'invalid' | 'expired' | 'unavailable' }> {
    const outcome = await this.verifier.verify(token);
    if (!outcome.ok) return outcome;
    const externalId = outcome.customerExternalId;
    let entry = this.ids?.get(externalId);
    if (!entry) {
      entry = { id: await this.findCustomerId(externalId) };
      this.ids?.set(externalId, entry);
    }
    return {
      ok: true,
      principal: Object.freeze({
        role: 'frontend',
        kind: 'jwt',
        // Rate limited per shopper, like a key.
        keyId: `jwt:${externalId}`,
        customerExternalId: externalId,
        ...(entry.id ? { customerId: entry.id } : {}),
      }),
    };
  }
}

export function jwtSettingsFrom(config: Config): JwtSettings {
  return {
    jwksUrl: config.JWT_JWKS_URL,
    publicKey: config.JWT_PUBLIC_KEY,
    secret: config.JWT_SECRET,
    issuer: config.JWT_ISSUER!,
    audience: config.JWT_AUDIENCE!,
    customerClaim: config.JWT_CUSTOMER_CLAIM,
    maxBytes: config.JWT_MAX_BYTES,
    clockToleranceSeconds: config.JWT_CLOCK_TOLERANCE_SECONDS,
    jwksCooldownSeconds: config.JWT_JWKS_COOLDOWN_SECONDS,
    jwksMaxAgeSeconds: config.JWT_JWKS_MAX_AGE_SECONDS,
  };
}
