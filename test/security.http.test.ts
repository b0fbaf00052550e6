// The HTTP front edge, over real HTTP and raw sockets: bounded metric labels, the address's rate
// limit before any key lookup, no "Did you mean" hints while introspection is off, timeouts and a
// connection cap for slow clients, the DNS-rebinding Host guard, and CORS for browser frontends.
import http from 'node:http';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyStore, createApiKey } from '../src/auth/api-keys.js';
import { createTestDatabase, type TestDatabase } from './helpers/databases.js';
import { startTestServer, type TestServer } from './helpers/server.js';

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  json: any;
}

/** One request with full control of the headers (fetch refuses to set Host). */
function request(url: string, opts: { method?: string; path?: string; headers?: Record<string, string>; body?: string } = {}): Promise<RawResponse> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: u.hostname, port: u.port, method: opts.method ?? 'POST', path: opts.path ?? u.pathname, headers: { ...(opts.body ? { 'content-type': 'application/json' } : {}), ...opts.headers }, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (body += c));
        res.on('end', () => {
          let json: any;
          try {
            json = JSON.parse(body);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode!, headers: res.headers, body, json });
        });
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

const randomKey = () => `cia_${randomBytes(32).toString('base64url')}`;
const typename = JSON.stringify({ query: '{ __typename }' });
const codeOf = (r: { json: any }) => r.json?.errors?.[0]?.extensions?.code;

/** Runs `fn` for 0..n-1, `width` at a time. */
async function pool(n: number, width: number, fn: (i: number) => Promise<void>) {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < n) await fn(next++);
  }));
}

describe('metric labels (issue 9.4)', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer('pglite');
  });
  afterAll(() => t?.close());

  const operationLabels = async () => {
    const text = await (await fetch(t.server.url.replace('/graphql', '/metrics'))).text();
    const ops = new Set([...text.matchAll(/^graphql_request_duration_seconds_count\{operation="([^"]*)"/gm)].map((m) => m[1]));
    return { ops, bytes: text.length };
  };
  const sendNamed = (from: number, count: number) =>
    pool(count, 8, async (i) => {
      const res = await t.post(JSON.stringify({ query: `query Op${from + i} { __typename }` }));
      expect(res.status).toBe(200);
    });

  it('keeps the first METRICS_MAX_OPERATIONS (100) names and counts the rest as "other"; /metrics stops growing', async () => {
    await sendNamed(0, 150);
    const first = await operationLabels();
    expect(first.ops.size).toBeLessThanOrEqual(100 + 1); // + "other"
    expect(first.ops).toContain('other');
    expect(first.ops).toContain('Op0');
    await sendNamed(1000, 300);
    await t.post(typename);
    const later = await operationLabels();
    expect(later.ops.size).toBeLessThanOrEqual(100 + 2); // + "other", "anonymous"
    // 300 more names add no series: only counters' digits change.
    expect(later.bytes - first.bytes).toBeLessThan(4000);
  });

  it('the cap is configurable', async () => {
    const small = await startTestServer('pglite', { METRICS_MAX_OPERATIONS: '2' }, { db: t.db, drop: async () => {} });
    try {
      for (const name of ['A', 'B', 'C', 'D', 'A']) await small.post(JSON.stringify({ query: `query ${name} { __typename }` }));
      const text = await (await fetch(small.server.url.replace('/graphql', '/metrics'))).text();
      const ops = [...text.matchAll(/^graphql_request_duration_seconds_count\{operation="([^"]*)",status="ok"\} (\d+)/gm)].map((m) => [m[1], Number(m[2])]);
      expect(Object.fromEntries(ops)).toEqual({ A: 2, B: 1, other: 2 });
    } finally {
      await small.close();
    }
  });
});

describe('key lookups and the rate limit (issue 9.6)', () => {
  let tdb: TestDatabase;
  beforeAll(async () => {
    tdb = await createTestDatabase('pglite');
  });
  afterAll(() => tdb?.drop());

  it('an address over its limit causes no database key lookups, whatever keys it makes up', async () => {
    const t = await startTestServer('pglite', { AUTH_MODE: 'required', RATE_LIMIT_POINTS: '3' }, { db: tdb.db, drop: async () => {} });
    try {
      const valid = (await createApiKey(t.db, { role: 'admin' })).key;
      const auth = { authorization: `Bearer ${valid}` };
      // A valid key's lookup is not charged to its address.
      for (let i = 0; i < 3; i++) expect((await t.post(typename, auth)).status).toBe(200);
      // Three made-up keys: three lookups, three 401s — the address's budget is spent.
      let before = t.db.queryCount();
      for (let i = 0; i < 3; i++) expect((await t.post(typename, { authorization: `Bearer ${randomKey()}` })).status).toBe(401);
      expect(t.db.queryCount()).toBe(before + 3);
      // 200 more, 20 at a time: all 429, and not one lookup.
      before = t.db.queryCount();
      const statuses = new Set<number>();
      await pool(200, 20, async () => {
        statuses.add((await t.post(typename, { authorization: `Bearer ${randomKey()}` })).status);
      });
      expect([...statuses]).toEqual([429]);
      expect(t.db.queryCount()).toBe(before);
      // The cached valid key keeps its own budget (3 requests per window; all spent above).
      const again = await t.post(typename, auth);
      expect(again.status).toBe(429);
      expect(t.db.queryCount()).toBe(before);
    } finally {
      await t.close();
    }
  });

  // At the store, not over HTTP: evicting needs more distinct keys than the cache holds (10,000),
  // and lookups arriving together share one SQL statement (Prisma batches findUnique), which keeps
  // this to seconds. Each lookup still goes to the real database.
  it('a flood of unknown keys never evicts a valid key from the cache', { timeout: 300_000 }, async () => {
    const store = new ApiKeyStore(tdb.db, 3600);
    const valid = (await createApiKey(tdb.db, { role: 'bi' })).key;
    expect((await store.resolve(valid))?.role).toBe('bi'); // looked up once, now cached
    let before = tdb.db.queryCount();
    expect((await store.resolve(valid))?.role).toBe('bi');
    expect(tdb.db.queryCount()).toBe(before);
    const bad = Array.from({ length: 10_050 }, randomKey);
    for (let i = 0; i < bad.length; i += 500) {
      const found = await Promise.all(bad.slice(i, i + 500).map((k) => store.resolve(k)));
      expect(found.every((p) => p === null)).toBe(true);
    }
    expect(tdb.db.queryCount()).toBeGreaterThan(before); // they were looked up
    before = tdb.db.queryCount();
    expect((await store.resolve(valid))?.role).toBe('bi');
    expect(tdb.db.queryCount()).toBe(before); // still cached: no lookup
    // The most recent unknown keys are remembered as unknown, in their own bounded cache.
    expect(await store.resolve(bad.at(-1)!)).toBeNull();
    expect(tdb.db.queryCount()).toBe(before);
  });
});

describe('suggestion hints while introspection is off (issue 9.7)', () => {
  let off: TestServer;
  let on: TestServer;
  beforeAll(async () => {
    off = await startTestServer('pglite', { GRAPHQL_INTROSPECTION: 'off' });
    on = await startTestServer('pglite', {}, { db: off.db, drop: async () => {} });
  });
  afterAll(async () => {
    await on?.close();
    await off?.close();
  });

  const cases: [string, string, object | undefined, string][] = [
    ['enum value in a literal', '{ customers(orderBy: { field: CREATED }) { totalCount } }', undefined, 'GRAPHQL_VALIDATION_FAILED'],
    ['enum value in a variable', 'query($o: CustomerOrderBy) { customers(orderBy: $o) { totalCount } }', { o: { field: 'CREATED' } }, 'BAD_USER_INPUT'],
    ['field', '{ customers { totalCont } }', undefined, 'GRAPHQL_VALIDATION_FAILED'],
    ['argument', '{ customers(frist: 1) { totalCount } }', undefined, 'GRAPHQL_VALIDATION_FAILED'],
    ['type', 'query($o: CustomerOrderBi) { customers(orderBy: $o) { totalCount } }', undefined, 'GRAPHQL_VALIDATION_FAILED'],
    ['input field', '{ customers(filter: { countrie: ["DE"] }) { totalCount } }', undefined, 'GRAPHQL_VALIDATION_FAILED'],
    ['input field in a variable', 'query($f: CustomerFilter) { customers(filter: $f) { totalCount } }', { f: { countrie: ['DE'] } }, 'BAD_USER_INPUT'],
  ];

  it.each(cases)('hides the hint for a mistyped %s, keeping the code', async (_what, query, variables, code) => {
    const body = JSON.stringify({ query, variables });
    const hidden = await off.post(body);
    expect(hidden.json.errors.length).toBeGreaterThan(0);
    for (const e of hidden.json.errors) {
      expect(e.message).not.toMatch(/Did you mean/i);
      expect(e.extensions.code).toBe(code);
    }
    // Development (introspection on) keeps the hint: the case really produces one.
    const shown = await on.post(body);
    expect(shown.json.errors.map((e: any) => e.message).join('\n')).toMatch(/Did you mean/);
  });
});

describe('slow clients and the connection cap (issue 9.8)', () => {
  let tdb: TestDatabase;
  beforeAll(async () => {
    tdb = await createTestDatabase('pglite');
  });
  afterAll(() => tdb?.drop());

  /** Opens a raw connection; resolves once connected. `received` collects what the server sends; `closed` settles when the server ends it. */
  function connect(port: number) {
    const socket = net.connect({ host: '127.0.0.1', port });
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (c: string) => (received += c));
    const closed = new Promise<string>((resolve) => socket.on('close', () => resolve(received)));
    socket.on('error', () => {}); // a reset is one of the ways to be cut off
    const connected = new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('error', reject);
    });
    return { socket, connected, closed, received: () => received };
  }

  const waitFor = (check: () => boolean, what: string, socket: net.Socket) =>
    new Promise<void>((resolve, reject) => {
      const onData = () => check() && done();
      const onClose = () => (check() ? done() : reject(new Error(`closed before ${what}`)));
      const done = () => {
        socket.off('data', onData);
        socket.off('close', onClose);
        resolve();
      };
      socket.on('data', onData);
      socket.on('close', onClose);
      if (check()) done();
    });

  it('cuts a client that sends its headers slowly, or its body, and closes idle kept-alive connections', { timeout: 60_000 }, async () => {
    const t = await startTestServer(
      'pglite',
      { HTTP_HEADERS_TIMEOUT_SECONDS: '0.5', HTTP_REQUEST_TIMEOUT_SECONDS: '1', HTTP_KEEP_ALIVE_TIMEOUT_SECONDS: '0.5' },
      { db: tdb.db, drop: async () => {} },
    );
    try {
      // Headers started, never finished (slowloris).
      const slowHeaders = connect(t.server.port);
      await slowHeaders.connected;
      slowHeaders.socket.write('POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: 1\r\n');
      expect(await slowHeaders.closed).toMatch(/^HTTP\/1\.1 408/);

      // Nothing sent at all.
      const silent = connect(t.server.port);
      await silent.connected;
      expect(await silent.closed).toMatch(/^(HTTP\/1\.1 408[\s\S]*)?$/);

      // Headers complete, body trickling.
      const slowBody = connect(t.server.port);
      await slowBody.connected;
      slowBody.socket.write('POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"query":');
      expect(await slowBody.closed).toMatch(/^HTTP\/1\.1 408/);

      // A complete request on a kept-alive connection, then silence: the server closes it.
      const idle = connect(t.server.port);
      await idle.connected;
      idle.socket.write('GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n');
      expect(await idle.closed).toMatch(/^HTTP\/1\.1 200[\s\S]*"status":"ok"/);
    } finally {
      await t.close();
    }
  });

  it('closes connections beyond HTTP_MAX_CONNECTIONS at once, and accepts again when one ends', { timeout: 60_000 }, async () => {
    const t = await startTestServer('pglite', { HTTP_MAX_CONNECTIONS: '2' }, { db: tdb.db, drop: async () => {} });
    const held: ReturnType<typeof connect>[] = [];
    try {
      // Two connections the server has certainly accepted: each got an answer and stays open.
      for (let i = 0; i < 2; i++) {
        const c = connect(t.server.port);
        held.push(c);
        await c.connected;
        c.socket.write('GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n');
        await waitFor(() => c.received().includes('"status":"ok"'), 'the answer', c.socket);
      }
      // The third is accepted by the kernel, then closed by the server without an answer.
      const extra = connect(t.server.port);
      await extra.connected.catch(() => {});
      extra.socket.write('GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      expect(await extra.closed).toBe('');
      expect(t.logs.join('')).toMatch(/HTTP_MAX_CONNECTIONS reached/);

      // One of the two leaves; a new connection is served (the server learns of the close asynchronously: retry).
      held[0]!.socket.destroy();
      await held[0]!.closed;
      let served = false;
      for (let attempt = 0; attempt < 200 && !served; attempt++) {
        const c = connect(t.server.port);
        await c.connected.catch(() => {});
        c.socket.write('GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
        served = (await c.closed).includes('"status":"ok"');
      }
      expect(served).toBe(true);
    } finally {
      for (const c of held) c.socket.destroy();
      await t.close();
    }
  });
});

describe('Host names (DNS rebinding, issue 9.9)', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer('pglite'); // AUTH_MODE=off outside production: no credential = admin
  });
  afterAll(() => t?.close());

  it.each(['evil.example', 'evil.example:4000', '192.168.1.10', 'localhost.evil.example', '127.0.0.1.nip.io'])('refuses Host %s with 403 HOST_NOT_ALLOWED before any GraphQL work', async (host) => {
    const before = t.db.queryCount();
    const res = await request(t.server.url, { headers: { host }, body: JSON.stringify({ query: '{ customers { totalCount } }' }) });
    expect(res.status).toBe(403);
    expect(codeOf(res)).toBe('HOST_NOT_ALLOWED');
    expect(t.db.queryCount()).toBe(before);
    expect((await request(t.server.url, { method: 'GET', path: '/metrics', headers: { host } })).status).toBe(403);
    // Probes are not checked.
    expect((await request(t.server.url, { method: 'GET', path: '/health/live', headers: { host } })).status).toBe(200);
  });

  it.each(['localhost', 'LOCALHOST:4000', '127.0.0.1:1234', '127.1.2.3', '[::1]:4000', 'app.localhost', 'localhost.'])('accepts the loopback name %s', async (host) => {
    const res = await request(t.server.url, { headers: { host }, body: typename });
    expect(res.status).toBe(200);
    expect(res.json.data).toEqual({ __typename: 'Query' });
  });

  it('ALLOWED_HOSTS replaces the loopback list (.name = the name and its subdomains)', async () => {
    const s = await startTestServer('pglite', { ALLOWED_HOSTS: 'api.example.com, .internal.example' }, { db: t.db, drop: async () => {} });
    try {
      const status = async (host: string) => (await request(s.server.url, { headers: { host }, body: typename })).status;
      expect(await status('api.example.com')).toBe(200);
      expect(await status('API.example.com:8080')).toBe(200);
      expect(await status('internal.example')).toBe(200);
      expect(await status('a.b.internal.example')).toBe(200);
      expect(await status('example.com')).toBe(403);
      expect(await status('localhost')).toBe(403);
    } finally {
      await s.close();
    }
  });

  it('with AUTH_MODE=required any Host reaches authentication unless ALLOWED_HOSTS is set', async () => {
    const s = await startTestServer('pglite', { AUTH_MODE: 'required' }, { db: t.db, drop: async () => {} });
    try {
      const key = (await createApiKey(t.db, { role: 'bi' })).key;
      expect((await request(s.server.url, { headers: { host: 'lb.example.net' }, body: typename })).status).toBe(401);
      expect((await request(s.server.url, { headers: { host: 'lb.example.net', authorization: `Bearer ${key}` }, body: typename })).status).toBe(200);
    } finally {
      await s.close();
    }
  });
});

describe('CORS (issue 9.10)', () => {
  const shop = 'https://shop.example.com';
  let t: TestServer;
  let key: string;
  beforeAll(async () => {
    t = await startTestServer('pglite', { AUTH_MODE: 'required', CORS_ORIGINS: `${shop},http://localhost:5173` });
    key = (await createApiKey(t.db, { role: 'admin' })).key;
  });
  afterAll(() => t?.close());

  const preflight = (origin: string, server = t) =>
    request(server.server.url, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
    });

  it('answers a preflight from an allowed origin before authentication', async () => {
    const before = t.db.queryCount();
    const res = await preflight(shop);
    expect(res.status).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe(shop);
    expect(res.headers['access-control-allow-methods']).toMatch(/\bPOST\b/);
    const allowed = String(res.headers['access-control-allow-headers']).toLowerCase().split(/\s*,\s*/);
    expect(allowed).toEqual(expect.arrayContaining(['authorization', 'content-type']));
    expect(res.headers['access-control-allow-credentials']).toBeUndefined();
    expect(Number(res.headers['access-control-max-age'])).toBeGreaterThan(0);
    expect(String(res.headers.vary)).toMatch(/Origin/i);
    expect(t.db.queryCount()).toBe(before);
    expect((await preflight('http://localhost:5173')).headers['access-control-allow-origin']).toBe('http://localhost:5173');
  });

  it('refuses a preflight from any other origin with 403 CORS_ORIGIN_NOT_ALLOWED and no CORS headers', async () => {
    for (const origin of ['https://evil.example', 'https://shop.example.com.evil.example', 'http://shop.example.com', 'null']) {
      const res = await preflight(origin);
      expect(res.status, origin).toBe(403);
      expect(codeOf(res)).toBe('CORS_ORIGIN_NOT_ALLOWED');
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
    }
  });

  it('adds the headers to actual requests from an allowed origin, errors included', async () => {
    const ok = await request(t.server.url, { headers: { origin: shop, authorization: `Bearer ${key}` }, body: typename });
    expect(ok.status).toBe(200);
    expect(ok.json.data).toEqual({ __typename: 'Query' });
    expect(ok.headers['access-control-allow-origin']).toBe(shop);
    expect(String(ok.headers['access-control-expose-headers']).toLowerCase()).toMatch(/\bx-request-id\b/);
    expect(ok.headers['x-request-id']).toBeTruthy();
    // A 401 is readable by the page too, so it can tell the user why.
    const denied = await request(t.server.url, { headers: { origin: shop }, body: typename });
    expect(denied.status).toBe(401);
    expect(denied.headers['access-control-allow-origin']).toBe(shop);
  });

  it('sends no CORS headers to other origins (the browser hides the answer)', async () => {
    const res = await request(t.server.url, { headers: { origin: 'https://evil.example', authorization: `Bearer ${key}` }, body: typename });
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    expect(res.headers['access-control-expose-headers']).toBeUndefined();
  });

  it('allows no origin by default, in development and production alike', async () => {
    for (const env of [{}, { AUTH_MODE: 'required' }] as Record<string, string>[]) {
      const s = await startTestServer('pglite', env, { db: t.db, drop: async () => {} });
      try {
        const res = await preflight(shop, s);
        expect(res.status).toBe(403);
        expect(codeOf(res)).toBe('CORS_ORIGIN_NOT_ALLOWED');
        expect(res.headers['access-control-allow-origin']).toBeUndefined();
        // An OPTIONS that is not a preflight (no Origin) says what the route allows.
        const plain = await request(s.server.url, { method: 'OPTIONS' });
        expect(plain.status).toBe(204);
        expect(plain.headers.allow).toMatch(/POST/);
      } finally {
        await s.close();
      }
    }
  });
});
