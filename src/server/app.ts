// HTTP: Express 5 carrying Apollo Server at /graphql, plus health endpoints and the bundled admin
// dashboard and GraphQL IDE (./admin.ts; Apollo's stock landing pages load code from a CDN, which
// offline browsers cannot reach, so they stay disabled).
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { expressMiddleware } from '@as-integrations/express5';
import express from 'express';
import type { GraphQLError } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';
import { firstLine } from '../inference/providers.js';
import { pinoHttp } from 'pino-http';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Database } from '../db/client.js';
import type { Context } from '../graphql/context.type.js';
import { codeOf, collapseRepeatedErrors, createFormatError, refusalCodes } from '../graphql/error-format.js';
import { ErrorCode } from '../graphql/errors.js';
import { warningsPlugin } from '../graphql/common/warnings.js';
import { createCoalescedReads, createLoaders } from '../graphql/loaders.js';
import { createPredictionLoaders } from '../graphql/prediction/prediction.loaders.js';
import { getSchema } from '../graphql/schema.js';
import { KnownOperationTypesRule } from '../graphql/common/operation-types.js';
import type { Scoring } from '../scoring/scoring.js';
import { Readiness } from './health.js';
import { OperationLabels, type Metrics } from './metrics.js';
import { ApiKeyStore } from '../auth/api-keys.js';
import { authenticate, principalOf } from '../auth/authenticate.js';
import { JwtVerifier, ShopperTokens, jwtSettingsFrom } from '../auth/jwt.js';
import { checkAuthAtStartup } from '../auth/startup.js';
import { modelPricing, queryLengthGuard, queryLimits } from './limits.js';
import { createRateLimiter } from './rate-limit.js';
import { corsMiddleware } from './cors.js';
import { hostCheck } from './host-check.js';
import { createHttpServer } from './http-limits.js';
import { adminRoutes } from './admin.js';

export interface RunningServer {
  url: string;
  port: number;
  /** Stops accepting connections, lets in-flight requests finish for up to `graceMs`, then cuts the rest. */
  close(graceMs?: number): Promise<void>;
}

/**
 * Logs each cause once per request, with the request id: a refusal (OVERLOADED,
 * SERVICE_UNAVAILABLE) as one warning line without a stack, however many fields it hit; an
 * unexpected error (masked for the client) once per original error, with its stack and the number
 * of fields it failed. The answer gets one error per cause too (collapseRepeatedErrors).
 */
const logUnexpectedErrors: ApolloServerPlugin<Context> = {
  async requestDidStart() {
    return {
      async didEncounterErrors({ errors, contextValue }) {
        const refusals = new Map<string, { occurrences: number; reason: string }>();
        const unexpected = new Map<unknown, { path: GraphQLError['path']; occurrences: number }>();
        for (const err of errors) {
          const code = codeOf(err);
          if (refusalCodes.has(code)) {
            const seen = refusals.get(code);
            if (seen) seen.occurrences += 1;
            else refusals.set(code, { occurrences: 1, reason: firstLine(unwrapResolverError(err)) });
          }
          else if (code === ErrorCode.INTERNAL_SERVER_ERROR || code === ErrorCode.EXPLANATION_FAILED) {
            const original = err.originalError ?? err;
            const seen = unexpected.get(original);
            if (seen) seen.occurrences += 1;
            else unexpected.set(original, { path: err.path, occurrences: 1 });
          }
        }
        for (const [code, { occurrences, reason }] of refusals) contextValue.log.warn({ code, occurrences, reason }, 'request refused');
        for (const [err, { path, occurrences }] of unexpected) contextValue.log.error({ err, path, occurrences }, 'resolver error');
      },
      async willSendResponse({ response }) {
        const body = response.body;
        if (body.kind === 'single' && body.singleResult.errors && body.singleResult.errors.length > 1) {
          body.singleResult.errors = collapseRepeatedErrors(body.singleResult.errors);
        }
      },
    };
  },
};

/** Request duration per operation (the operation name clients send, else "anonymous"). */
function requestMetrics(metrics: Metrics, labels: OperationLabels): ApolloServerPlugin<Context> {
  return {
    async requestDidStart() {
      const started = performance.now();
      return {
        async willSendResponse({ operationName, errors, response }) {
          const failed = Boolean(errors?.length) || (response.body.kind === 'single' && Boolean(response.body.singleResult.errors?.length));
          metrics.observeRequest(labels.label(operationName), !failed, (performance.now() - started) / 1000);
        },
      };
    },
  };
}

export async function startServer(
  config: Config,
  db: Database,
  scoring: Scoring,
  log: Logger,
  metrics: Metrics,
  readiness: Readiness = new Readiness(db, scoring, true),
): Promise<RunningServer> {
  const app = express();
  app.disable('x-powered-by');
  // No ETag on API answers: a hash of every GraphQL answer that no client revalidates (POST); the
  // dashboard's static files keep serve-static's own.
  app.set('etag', false);
  const httpServer = createHttpServer(app, config, log);
  if (config.TRUST_PROXY) app.set('trust proxy', /^\d+$/.test(config.TRUST_PROXY) ? Number(config.TRUST_PROXY) : config.TRUST_PROXY);

  // Security (README "Security"): credentials, rate limits and query limits, all before execution.
  await checkAuthAtStartup(config, db, log);
  const keyStore = new ApiKeyStore(db, config.AUTH_CACHE_TTL_SECONDS);
  const shoppers = config.jwtEnabled
    ? new ShopperTokens(
        new JwtVerifier(jwtSettingsFrom(config)),
        async (externalId) => (await db.prisma.customer.findUnique({ where: { externalId }, select: { id: true } }))?.id ?? null,
        config.AUTH_CACHE_TTL_SECONDS,
      )
    : undefined;
  const rateLimiter = createRateLimiter(config, log);
  // Query cost prices each model's predictions and explanations by method (src/server/limits.ts).
  const pricing = modelPricing(
    scoring.defaultModel,
    scoring.inference.registry.list().map((m) => ({ name: m.name, method: scoring.methodOf(m), sequenceLength: m.layout.sequence?.maxLength })),
  );
  const limits = queryLimits(config, pricing);

  const apollo = new ApolloServer<Context>({
    schema: await getSchema(),
    formatError: createFormatError({ hideSuggestions: !config.introspection }),
    includeStacktraceInErrorResponses: false,
    introspection: config.introspection,
    // JSON array bodies (batched operations) are refused with 400 BAD_REQUEST.
    allowBatchedHttpRequests: false,
    // No automatic persisted queries: clients send documents, so every document passes the limits,
    // and APQ's own error codes stay out of the catalogue.
    persistedQueries: false,
    // Shutdown is ours (src/main.ts drains, then closes the models and the database); Apollo's own
    // signal handlers would race it and end the process before the database is closed.
    stopOnTerminationSignals: false,
    parseOptions: limits.parseOptions,
    validationRules: [...limits.validationRules, KnownOperationTypesRule] as never,
    // No cache hints in this schema: without Apollo's cache-control plugin no plugin hooks into
    // every field's resolution, and Apollo leaves the resolvers unwrapped.
    plugins: [ApolloServerPluginDrainHttpServer({ httpServer }), ApolloServerPluginLandingPageDisabled(), ApolloServerPluginCacheControlDisabled(), logUnexpectedErrors, requestMetrics(metrics, new OperationLabels(config.METRICS_MAX_OPERATIONS)), warningsPlugin, ...limits.plugins],
  });
  await apollo.start();

  // DNS rebinding (host-check.ts): GraphQL and metrics answer only to allowed Host names; health
  // probes, which orchestrators send to bare addresses, are not checked.
  app.use(['/graphql', '/metrics'], hostCheck(config.allowedHosts));

  // Concurrent requests' lookups of a customer and of its features go out as one statement (src/db/coalesce.ts).
  const coalescedReads = createCoalescedReads(db);
  metrics.attach(scoring);
  metrics.attachCoalescers(coalescedReads);
  app.get('/metrics', async (_req, res) => {
    res.set('content-type', metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  app.get('/health/live', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/health/ready', async (_req, res) => {
    const report = await readiness.check();
    res.status(report.ready ? 200 : 503).json({ status: report.ready ? 'ready' : 'unavailable', ...report });
  });

  // One access-log line per GraphQL request (status, time) under the request id, which the client
  // may send as x-request-id and always gets back; resolver logs carry the same id.
  const requestId = (req: IncomingMessage, res: ServerResponse) => {
    const given = req.headers['x-request-id'];
    const id = (typeof given === 'string' && /^[\w.:-]{1,64}$/.test(given) && given) || randomUUID();
    res.setHeader('x-request-id', id);
    return id;
  };
  app.use(
    '/graphql',
    // pino-http writes every line at `info`, errors included; above that level (LOG_LEVEL=warn…) it
    // writes nothing, yet would still build three child loggers per request: then only the id is set.
    log.isLevelEnabled('info')
      ? pinoHttp({
          logger: log,
          genReqId: requestId,
          customProps: (req) => ({ requestId: req.id }),
          serializers: { req: (req: { method: string; url: string }) => ({ method: req.method, url: req.url }), res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }) },
        })
      : (req: express.Request, res: express.Response, next: express.NextFunction) => {
          req.id = requestId(req, res);
          next();
        },
  );

  // Browsers' preflights are answered here, before the readiness gate and authentication (cors.ts).
  app.use('/graphql', corsMiddleware(config.corsOrigins));

  // The admin dashboard (/admin) and the GraphQL IDE (/graphiql, and /graphql for a browser asking
  // for HTML): static pages that read everything through /graphql with the user's API key. After
  // CORS: the router's GET /graphql would otherwise answer a preflight (OPTIONS) itself.
  app.use(adminRoutes());

  // Until migrations and seeding are done, GraphQL answers 503 instead of half-initialised data.
  app.use('/graphql', (_req, res, next) => {
    if (readiness.isStarted) return next();
    res.status(503).set('retry-after', '5').json({ errors: [{ message: 'Starting up; retry shortly.', extensions: { code: ErrorCode.SERVICE_UNAVAILABLE } }] });
  });

  app.use(
    '/graphql',
    authenticate(config, keyStore, rateLimiter, log, shoppers),
    express.json({ limit: config.BODY_LIMIT }),
    queryLengthGuard(config),
    expressMiddleware(apollo, {
      context: async ({ req, res }) => {
        const requestId = String(req.id);
        return {
          db,
          config,
          scoring,
          loaders: createLoaders(db, coalescedReads),
          predictionLoaders: createPredictionLoaders(db, scoring, coalescedReads.features),
          log: log.child({ requestId }),
          requestId,
          principal: principalOf(res)!,
        };
      },
    }),
  );

  // Malformed JSON, oversized bodies and unknown routes get a JSON error with a code, never HTML.
  app.use((_req: express.Request, res: express.Response) => {
    res.status(404).json({ errors: [{ message: 'Not found', extensions: { code: ErrorCode.NOT_FOUND } }] });
  });
  app.use((err: { status?: number; type?: string }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    const status = err.status && err.status >= 400 && err.status < 500 ? err.status : 500;
    const code = err.type === 'entity.too.large' ? ErrorCode.PAYLOAD_TOO_LARGE : status < 500 ? ErrorCode.BAD_REQUEST : ErrorCode.INTERNAL_SERVER_ERROR;
    if (status >= 500) log.error({ err }, 'http error');
    res.status(status).json({ errors: [{ message: status < 500 ? 'Malformed request' : 'Internal server error', extensions: { code } }] });
  });

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(config.PORT, config.HOST, resolve);
  });
  const { port } = httpServer.address() as AddressInfo;
  const host = config.HOST.includes(':') ? `[${config.HOST}]` : config.HOST;
  return {
    url: `http://${host}:${port}/graphql`,
    port,
    async close(graceMs = 10_000) {
      // Apollo's drain plugin stops accepting and waits for in-flight requests; past the grace
      // period the remaining connections are cut so shutdown is bounded.
      const timer = setTimeout(() => httpServer.closeAllConnections(), graceMs);
      try {
        await apollo.stop();
      } finally {
        clearTimeout(timer);
        await rateLimiter.close();
      }
    },
  };
}
