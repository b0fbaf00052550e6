// Limits on connections (README "HTTP limits"), so slow or idle clients cannot hold sockets for
// long (Node's defaults: 60 s for headers, 300 s for a request, no connection cap):
//   HTTP_HEADERS_TIMEOUT_SECONDS     all request headers must arrive within this  → 408, closed
//   HTTP_REQUEST_TIMEOUT_SECONDS     the whole request (headers and body) likewise → 408, closed
//   HTTP_KEEP_ALIVE_TIMEOUT_SECONDS  an idle kept-alive connection is closed after this
//   HTTP_MAX_CONNECTIONS             connections beyond this are closed as soon as they are accepted
// The timeouts bound receiving a request, not computing its answer.
import http from 'node:http';
import type { Logger } from 'pino';
import type { Config } from '../config.js';

type Handler = http.RequestListener;

export function createHttpServer(app: Handler, config: Config, log: Logger): http.Server {
  const headersTimeout = Math.round(config.HTTP_HEADERS_TIMEOUT_SECONDS * 1000);
  const requestTimeout = Math.round(config.HTTP_REQUEST_TIMEOUT_SECONDS * 1000);
  const server = http.createServer(
    {
      headersTimeout,
      requestTimeout,
      // Node enforces both timeouts only when it sweeps its connections (every 30 s by default), so a
      // 10 s limit could let a client stay 40 s: sweep at a quarter of the shorter timeout instead.
      connectionsCheckingInterval: Math.min(30_000, Math.max(50, Math.round(Math.min(headersTimeout, requestTimeout) / 4))),
    },
    app,
  );
  server.keepAliveTimeout = Math.round(config.HTTP_KEEP_ALIVE_TIMEOUT_SECONDS * 1000);
  server.maxConnections = config.HTTP_MAX_CONNECTIONS;
  // One warning a minute at most: a flood of refused connections must not flood the log too.
  let warnedAt = -Infinity;
  let dropped = 0;
  server.on('drop', () => {
    dropped++;
    if (performance.now() - warnedAt < 60_000) return;
    warnedAt = performance.now();
    log.warn({ maxConnections: config.HTTP_MAX_CONNECTIONS, droppedSinceStart: dropped }, 'connection refused: HTTP_MAX_CONNECTIONS reached');
  });
  return server;
}
