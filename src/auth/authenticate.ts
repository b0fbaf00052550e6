// Before any GraphQL work: who is asking (Authorization: Bearer <API key>) and may they ask now
// (per-client rate limit). A key that is not cached is looked up in the database only after the
// client's address has passed its own rate limit. Failures are answered here, as JSON with a code,
// never reaching Apollo: 401 UNAUTHENTICATED, 429 RATE_LIMITED (with Retry-After), 503
// SERVICE_UNAVAILABLE when the key store cannot be read. The principal goes to the GraphQL context
// through res.locals.
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { RateLimiter } from '../server/rate-limit.js';
import { isDatabaseUnavailable } from '../db/errors.js';
import { ErrorCode } from '../graphql/errors.js';
import type { ShopperTokens } from './jwt.js';
import { KEY_PREFIX, type ApiKeyStore } from './api-keys.js';
import { developmentPrincipal, type Principal } from './principal.js';

const fail = (res: Response, status: number, code: string, message: string, extensions: Record<string, unknown> = {}) =>
  res.status(status).json({ errors: [{ message, extensions: { code, ...extensions } }] });

export function principalOf(res: Response): Principal | undefined {
  return res.locals.principal as Principal | undefined;
}

export function authenticate(config: Config, store: ApiKeyStore, limiter: RateLimiter, log: Logger, shoppers?: ShopperTokens) {
  async function limited(req: Request, res: Response, clientKey: string): Promise<boolean> {
    const decision = await limiter.consume(clientKey);
    if (decision.allowed) {
      if (Number.isFinite(decision.remaining)) res.set('ratelimit-remaining', String(decision.remaining));
      return false;
    }
    res.set('retry-after', String(decision.retryAfterSeconds));
    fail(res, 429, ErrorCode.RATE_LIMITED, `Too many requests; retry after ${decision.retryAfterSeconds} s.`, { retryAfterSeconds: decision.retryAfterSeconds });
    log.warn({ client: clientKey, path: req.path }, 'rate limited');
    return true;
  }

  /**
   * A credential lookup that may need the database: its value, or undefined when the request was
   * answered already (503 while the database is unavailable, else passed on as an error).
   */
  async function lookingUp<T>(res: Response, next: NextFunction, lookup: () => Promise<T>): Promise<T | undefined> {
    try {
      return await lookup();
    } catch (err) {
      if (isDatabaseUnavailable(err)) {
        res.set('retry-after', '5');
        fail(res, 503, ErrorCode.SERVICE_UNAVAILABLE, 'The database is unavailable; retry later.');
      } else next(err);
      return undefined;
    }
  }

  return async (req: Request, res: Response, next: NextFunction) => {
    const ipKey = `ip:${req.ip ?? req.socket.remoteAddress ?? 'unknown'}`;
    const header = req.headers.authorization;
    let principal: Principal | null = null;
    // Whether this request already spent a point of the address's budget.
    let chargedToAddress = false;
    if (header === undefined || header.trim() === '') {
      if (config.authMode === 'off') principal = developmentPrincipal;
    } else {
      const match = /^Bearer +([!-~]+)$/i.exec(header.trim());
      const credential = match?.[1];
      if (credential && shoppers && !credential.startsWith(KEY_PREFIX)) {
        // A shopper token: verifying costs CPU (and at worst one key-set fetch per cooldown), so the
        // address pays first, as for an unknown key.
        if (await limited(req, res, ipKey)) return;
        chargedToAddress = true;
        const outcome = await lookingUp(res, next, () => shoppers.authenticate(credential));
        if (outcome === undefined) return;
        if (outcome.ok) {
          principal = outcome.principal;
          await limiter.refund(ipKey);
        } else if (outcome.reason === 'expired') {
          res.set('www-authenticate', 'Bearer realm="graphql", error="invalid_token"');
          return fail(res, 401, ErrorCode.TOKEN_EXPIRED, 'The token has expired; get a fresh one.');
        } else if (outcome.reason === 'unavailable') {
          log.warn('shopper-token keys could not be fetched');
          res.set('retry-after', '5');
          return fail(res, 503, ErrorCode.SERVICE_UNAVAILABLE, 'Tokens cannot be checked right now; retry later.');
        }
      } else if (credential && credential.length <= 512) {
        const key = credential;
        const cached = store.cached(key);
        if (cached !== undefined) {
          principal = cached;
        } else {
          // A key the cache does not know costs a database lookup: the address pays for it first,
          // so an address over its limit causes no lookups at all, whatever keys it makes up.
          if (await limited(req, res, ipKey)) return;
          chargedToAddress = true;
          const found = await lookingUp(res, next, () => store.lookup(key));
          if (found === undefined) return;
          principal = found;
          // A valid key is limited on its own budget (below), not on its address's.
          if (principal) await limiter.refund(ipKey);
        }
      }
    }
    if (!principal) {
      // Failed attempts count against the address, so guessing keys is rate limited too.
      if (!chargedToAddress && (await limited(req, res, ipKey))) return;
      res.set('www-authenticate', 'Bearer realm="graphql"');
      const message = header ? 'Invalid or revoked credential' : `Authentication required: send Authorization: Bearer <API key${shoppers ? ' or shopper token' : ''}>`;
      return fail(res, 401, ErrorCode.UNAUTHENTICATED, message);
    }
    if (await limited(req, res, principal.keyId ? `key:${principal.keyId}` : ipKey)) return;
    res.locals.principal = principal;
    next();
  };
}
