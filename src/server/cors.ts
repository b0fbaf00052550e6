// CORS for /graphql (README "Security"): frontend keys are meant for browsers, so pages served from
// the origins in CORS_ORIGINS (exact matches; none by default) may call the API. Runs before the
// readiness gate and authentication: a preflight (OPTIONS) carries no credential by design.
//   allowed origin, preflight        204 with Access-Control-Allow-{Origin,Methods,Headers,Max-Age}
//   allowed origin, actual request   Access-Control-Allow-Origin + Expose-Headers on every answer,
//                                    401 and 429 included, so the page can read the error code
//   other origin, preflight          403 CORS_ORIGIN_NOT_ALLOWED (the browser then blocks the call)
//   other origin, actual request     served without CORS headers: the browser hides the answer
//   OPTIONS without Origin           204 with Allow (not a browser preflight)
// Credentials (cookies) are never allowed: the API authenticates with a bearer header only.
import cors from 'cors';
import type { NextFunction, Request, Response } from 'express';
import { ErrorCode } from '../graphql/errors.js';

// Apollo-Require-Preflight: what a browser sends with a GET query to pass Apollo's CSRF check.
export const corsAllowedHeaders = ['Authorization', 'Content-Type', 'X-Request-Id', 'Apollo-Require-Preflight'];
export const corsExposedHeaders = ['X-Request-Id', 'Retry-After', 'RateLimit-Remaining'];
export const corsMaxAgeSeconds = 600;

export function corsMiddleware(origins: readonly string[]) {
  const allowed = new Set(origins);
  const handle = cors({
    origin: (origin, callback) => callback(null, origin !== undefined && allowed.has(origin)),
    methods: ['GET', 'POST'],
    allowedHeaders: corsAllowedHeaders,
    exposedHeaders: corsExposedHeaders,
    maxAge: corsMaxAgeSeconds,
    credentials: false,
  });
  return (req: Request, res: Response, next: NextFunction) => {
    // Answers differ by Origin whenever CORS is configured: shared caches must key on it.
    if (allowed.size > 0) res.vary('Origin');
    // `cors` ends allowed preflights itself; it calls back for everything else.
    handle(req, res, (err?: unknown) => {
      if (err) return next(err);
      if (req.method !== 'OPTIONS') return next();
      if (req.headers.origin === undefined) {
        res.status(204).set('allow', 'GET, POST, OPTIONS').end();
        return;
      }
      res.status(403).json({
        errors: [{ message: 'This origin may not call the API from a browser; add it to CORS_ORIGINS.', extensions: { code: ErrorCode.CORS_ORIGIN_NOT_ALLOWED } }],
      });
    });
  };
}
