// The browser side of the service: the admin dashboard at /admin and the GraphiQL IDE at /graphiql
// (and at /graphql for a browser's GET asking for HTML). Both are static files built from
// src/admin/web into dist/admin (src/admin/build.ts, run by `npm start` and the browser tests), so
// nothing is loaded from a CDN and everything works offline. Everything they show is read through
// the public GraphQL API with the signed-in user's API key.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { ErrorCode } from '../graphql/errors.js';

/** Where src/admin/build.ts writes the bundle (git-ignored). */
export const adminDistDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist/admin');

// The pages run only our own bundled code: no inline scripts, no other origins. Monaco (GraphiQL's
// editor) starts its language workers from same-origin files and styles its widgets inline; ECharts
// draws on canvas. The API key lives in sessionStorage, so keeping foreign scripts out matters.
const contentSecurityPolicy = [
  "default-src 'self'",
  "script-src 'self'",
  "worker-src 'self' blob:",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

function securityHeaders(res: express.Response) {
  res.set('content-security-policy', contentSecurityPolicy);
  res.set('x-content-type-options', 'nosniff');
  res.set('referrer-policy', 'no-referrer');
  res.set('x-frame-options', 'DENY');
}

function sendPage(res: express.Response, file: string) {
  const full = path.join(adminDistDir, file);
  securityHeaders(res);
  res.set('cache-control', 'no-cache');
  if (!fs.existsSync(full)) {
    res
      .status(503)
      .type('text/plain')
      .send('The admin dashboard is not built. Run `npm run build:admin` (npm start does it) and reload.\n');
    return;
  }
  res.sendFile(full);
}

/** True for a browser navigating to the URL (it asks for HTML first), not for a GraphQL client. */
export function wantsHtml(req: express.Request): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  // A GET with a query string is a GraphQL request over GET; leave it to Apollo.
  if (typeof req.query.query === 'string') return false;
  return req.accepts(['application/json', 'application/graphql-response+json', 'text/html']) === 'text/html';
}

/** Routes for the dashboard and the IDE; mount before the GraphQL middleware. */
export function adminRoutes(): express.Router {
  const router = express.Router();

  // Hashed file names (vite): cache for long; a missing asset is a 404, never the page.
  router.use(
    '/admin/assets',
    express.static(path.join(adminDistDir, 'assets'), {
      immutable: true,
      maxAge: '365d',
      setHeaders: (res) => res.set('x-content-type-options', 'nosniff'),
    }),
  );
  // A missing asset answers with the JSON 404 of the rest of the service, not with the page.
  router.use('/admin/assets', (_req: express.Request, res: express.Response) => {
    res.status(404).json({ errors: [{ message: 'Not found', extensions: { code: ErrorCode.NOT_FOUND } }] });
  });
  router.get('/graphiql', (_req, res) => sendPage(res, 'graphiql.html'));
  router.get('/graphql', (req, res, next) => (wantsHtml(req) ? sendPage(res, 'graphiql.html') : next()));
  // The dashboard is a single-page app: every /admin path is the same page, routed in the browser.
  router.get(['/admin', '/admin/{*rest}'], (_req, res) => sendPage(res, 'index.html'));
  return router;
}
