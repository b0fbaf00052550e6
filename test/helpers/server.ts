// Starts the real HTTP server on a fresh test database and talks to it over loopback, with the
// typed documents that GraphQL Code Generator makes from test/operations/*.graphql.
import { Writable } from 'node:stream';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { pino } from 'pino';
import { loadConfig, type Config } from '../../src/config.js';
import type { DatabaseKind } from '../../src/db/client.js';
import { createScoring } from '../../src/scoring/setup.js';
import type { Scoring } from '../../src/scoring/scoring.js';
import { startServer, type RunningServer } from '../../src/server/app.js';
import { Metrics } from '../../src/server/metrics.js';
import { createTestDatabase, type TestDatabase } from './databases.js';

export interface GraphQLResponse<R> {
  status: number;
  data?: R | null;
  errors?: { message: string; path?: (string | number)[]; extensions?: { code?: string; field?: string; [k: string]: unknown } }[];
}

export interface TestServer extends TestDatabase {
  server: RunningServer;
  config: Config;
  scoring: Scoring;
  /** Lines the server logged (JSON), for assertions on what is logged but not sent. */
  logs: string[];
  gql<R, V>(document: TypedDocumentNode<R, V>, variables?: V): Promise<GraphQLResponse<R>>;
  post(body: string, headers?: Record<string, string>, path?: string): Promise<{ status: number; json: any }>;
  close(): Promise<void>;
}

export function testConfig(env: Record<string, string> = {}): Config {
  // CPU unless a test asks otherwise: CUDA is absent here, and each failed attempt prints to stderr.
  // No background scoring or model polling unless a test starts a ModelLifecycle itself.
  return loadConfig({ NODE_ENV: 'test', PORT: '0', LOG_LEVEL: 'info', DEMO_CUSTOMERS: '0', ORT_EXECUTION_PROVIDERS: 'cpu', BACKGROUND_SCORING: 'off', MODELS_POLL_SECONDS: '0', ...env });
}

export async function startTestServer(kind: DatabaseKind, env: Record<string, string> = {}, existing?: TestDatabase): Promise<TestServer> {
  const config = testConfig(env);
  // The embedded database as the server runs it: on its own thread unless EMBEDDED_DB_THREAD=off.
  const tdb = existing ?? (await createTestDatabase(kind, { thread: config.EMBEDDED_DB_THREAD === 'on' }));
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const log = pino({ level: config.LOG_LEVEL }, sink);
  const metrics = new Metrics();
  const scoring = await createScoring(config, log, metrics.observer);
  const server = await startServer(config, tdb.db, scoring, log, metrics);

  async function post(body: string, headers: Record<string, string> = {}, path = '/graphql') {
    const res = await fetch(server.url.replace('/graphql', path), {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
    });
    const text = await res.text();
    let json: any;
    try {
      json = JSON.parse(text);
    } catch {
      json = { unparsable: text };
    }
    return { status: res.status, json };
  }

  return {
    ...tdb,
    server,
    config,
    scoring,
    logs,
    post,
    async gql(document, variables) {
      const { status, json } = await post(JSON.stringify({ query: print(document), variables }));
      return { status, ...json };
    },
    async close() {
      await server.close();
      await scoring.close();
      if (!existing) await tdb.drop();
    },
  };
}

/** The error codes of a response, in order. */
export const codes = (res: GraphQLResponse<unknown>) => (res.errors ?? []).map((e) => e.extensions?.code);
