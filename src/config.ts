// Typed, validated configuration from the environment. Every variable is listed in the README's
// configuration table; a bad value stops start-up with a message that names the variable.
import path from 'node:path';
import { z } from 'zod';
import { parseScoringTime, scoringTimeFormat } from './scoring/as-of.js';

const intIn = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const seconds = (min: number, max: number) => z.coerce.number().min(min).max(max);
const list = (s: string) => s.split(',').map((x) => x.trim()).filter(Boolean);
// A host name (example.com, *.localhost via a leading dot: .localhost), an IPv4 address, an
// [IPv6] literal, or * (any).
const hostEntry = /^(\*|\.?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?|\[[0-9a-f:.]+\])$/i;
const isOrigin = (o: string) => {
  try {
    const u = new URL(o);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.origin === o;
  } catch {
    return false;
  }
};
const isoDay = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date YYYY-MM-DD').refine((s) => !Number.isNaN(Date.parse(s)), 'must be a valid date');

const schema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: intIn(0, 65535).default(4000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgresql:// URL')
    .optional()
    .or(z.literal('').transform(() => undefined)),
  DATA_DIR: z.string().min(1).default('data/pglite'),
  DB_POOL_SIZE: intIn(1, 100).default(10),
  /** The server's embedded database on a thread of its own (db/embedded-thread.ts), or on the event loop. */
  EMBEDDED_DB_THREAD: z.enum(['on', 'off']).default('on'),
  DEMO_CUSTOMERS: intIn(0, 10_000_000).default(10_000),
  DEMO_SEED: intIn(0, 2 ** 31 - 1).default(42),
  DEMO_ANCHOR: isoDay.optional(),
  MAX_PAGE_SIZE: intIn(1, 10_000).default(1000),
  DEFAULT_PAGE_SIZE: intIn(1, 10_000).default(50),
  ORDER_FUTURE_TOLERANCE_SECONDS: intIn(0, 86_400 * 7).default(300),
  SHUTDOWN_GRACE_SECONDS: z.coerce.number().min(0).max(600).default(10),
  BODY_LIMIT: z.string().regex(/^\d+(b|kb|mb)$/i, 'must look like 512kb or 1mb').default('1mb'),
  MODELS_DIR: z.string().min(1).default('models'),
  DEFAULT_MODEL: z.string().min(1).default('xgboost-segment'),
  ORT_EXECUTION_PROVIDERS: z.string().regex(/^\s*(cuda|cpu)\s*(,\s*(cuda|cpu)\s*)*$/i, 'must be a comma-separated list of cuda, cpu').default('cuda,cpu'),
  /** ONNX Runtime intra-op threads per session; unset = ORT's default (one per core), except batch scoring (1). */
  ORT_INTRA_OP_THREADS: intIn(1, 64).optional(),
  INFERENCE_BATCHING: z.enum(['on', 'off']).default('on'),
  /** on: session.run on a thread of its own (src/inference/thread.ts); off: on the calling thread (the event loop). */
  INFERENCE_THREAD: z.enum(['on', 'off']).default('on'),
  INFERENCE_MAX_BATCH_SIZE: intIn(1, 1_000_000).optional(),
  INFERENCE_MAX_QUEUE_DELAY_MS: z.coerce.number().min(0).max(60_000).optional(),
  INFERENCE_MAX_QUEUE_ROWS: intIn(1, 10_000_000).default(65_536),
  INFERENCE_MAX_CONCURRENT_BATCHES: intIn(1, 64).default(1),
  PREDICTION_CACHE_CUSTOMERS: intIn(0, 10_000_000).default(100_000),
  /** Explanation worker threads (TreeSHAP, linear); unset = cores − 1, at least 1; 0 = on the event loop. */
  EXPLAIN_WORKERS: intIn(0, 64).optional(),
  PREDICTION_CACHE_TTL_SECONDS: intIn(1, 86_400 * 7).default(3600),
  // Security (README "Security"): authentication, query limits, rate limiting.
  AUTH_MODE: z.enum(['required', 'off']).optional(),
  AUTH_CACHE_TTL_SECONDS: intIn(0, 3600).default(30),
  GRAPHQL_INTROSPECTION: z.enum(['on', 'off']).optional(),
  QUERY_MAX_DEPTH: intIn(1, 100).default(12),
  QUERY_MAX_ALIASES: intIn(0, 1000).default(15),
  QUERY_MAX_DIRECTIVES: intIn(0, 1000).default(20),
  QUERY_MAX_TOKENS: intIn(10, 1_000_000).default(2000),
  QUERY_MAX_LENGTH: intIn(100, 10_000_000).default(20_000),
  QUERY_MAX_COST: intIn(1, 1_000_000_000).default(50_000),
  /** Documents of at least this cost take turns (src/server/limits.ts). */
  HEAVY_QUERY_COST: intIn(1, 1_000_000_000).default(5_000),
  HEAVY_QUERY_CONCURRENCY: intIn(1, 1000).default(2),
  HEAVY_QUERY_QUEUE: intIn(0, 100_000).default(100),
  RATE_LIMIT_POINTS: intIn(0, 10_000_000).optional(),
  RATE_LIMIT_WINDOW_SECONDS: intIn(1, 86_400).default(60),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
    .optional()
    .or(z.literal('').transform(() => undefined)),
  TRUST_PROXY: z
    .string()
    .regex(/^(\d{1,2}|loopback|linklocal|uniquelocal|[\d.:/a-f,\s]+)$/i, 'must be a hop count (e.g. 1), loopback, or a list of proxy addresses/CIDRs')
    .optional()
    .or(z.literal('').transform(() => undefined)),
  // HTTP front edge (README "HTTP limits"): slow clients are cut, connections are capped.
  HTTP_HEADERS_TIMEOUT_SECONDS: seconds(0.1, 600).default(10),
  HTTP_REQUEST_TIMEOUT_SECONDS: seconds(0.1, 3600).default(30),
  HTTP_KEEP_ALIVE_TIMEOUT_SECONDS: seconds(0.1, 3600).default(5),
  HTTP_MAX_CONNECTIONS: intIn(1, 1_000_000).default(1024),
  ALLOWED_HOSTS: z
    .string()
    .refine((s) => list(s).length > 0 && list(s).every((h) => hostEntry.test(h)), 'must be a comma-separated list of host names (.example.com for subdomains too), IP addresses, [IPv6] addresses or *')
    .optional()
    .or(z.literal('').transform(() => undefined)),
  CORS_ORIGINS: z
    .string()
    .refine((s) => list(s).every(isOrigin), 'must be a comma-separated list of exact origins such as https://shop.example.com (scheme, host and port only, no path or trailing slash)')
    .optional(),
  METRICS_MAX_OPERATIONS: intIn(0, 10_000).default(100),
  // Shopper tokens (README "Storefronts: shopper tokens"): exactly one key source, plus issuer and audience.
  JWT_JWKS_URL: z
    .string()
    .url('must be an http(s) URL of a JSON Web Key Set')
    .regex(/^https?:\/\//, 'must be an http(s) URL')
    .optional()
    .or(z.literal('').transform(() => undefined)),
  JWT_PUBLIC_KEY: z
    .string()
    .regex(/-----BEGIN PUBLIC KEY-----/, 'must be a PEM public key (-----BEGIN PUBLIC KEY-----)')
    .optional()
    .or(z.literal('').transform(() => undefined)),
  JWT_SECRET: z.string().min(32, 'must be at least 32 characters (HS256 needs a 256-bit secret)').optional().or(z.literal('').transform(() => undefined)),
  JWT_ISSUER: z.string().min(1).optional(),
  JWT_AUDIENCE: z.string().min(1).optional(),
  JWT_CUSTOMER_CLAIM: z.string().regex(/^[A-Za-z_][\w:.-]{0,63}$/, 'must be a claim name').default('sub'),
  JWT_MAX_BYTES: intIn(256, 65_536).default(8192),
  JWT_CLOCK_TOLERANCE_SECONDS: intIn(0, 300).default(30),
  JWT_JWKS_COOLDOWN_SECONDS: intIn(0, 3600).default(30),
  JWT_JWKS_MAX_AGE_SECONDS: intIn(1, 86_400).default(600),
  SCORING_AS_OF: z
    .string()
    .refine((s) => s === 'data-end' || parseScoringTime(s) !== null, `must be ${scoringTimeFormat}, or data-end`)
    .optional(),
  // Model versions and promotion without restart (README "Models and versions").
  MODELS_POLL_SECONDS: z.coerce.number().min(0).max(3600).default(5),
  BACKGROUND_SCORING: z.enum(['on', 'off']).default('on'),
  // Distributed batch scoring on BullMQ (README "Batch scoring on several machines").
  SCORE_QUEUE_PREFIX: z.string().regex(/^[\w.-]{1,64}$/, 'must be 1–64 letters, digits, _ . -').default('cia'),
  SCORE_RANGE_CUSTOMERS: intIn(1, 10_000_000).default(50_000),
  SCORE_JOB_LOCK_SECONDS: seconds(1, 3600).default(30),
  SCORE_JOB_STALLED_CHECK_SECONDS: seconds(0.5, 3600).default(15),
  SCORE_JOB_MAX_STALLED: intIn(0, 100).default(3),
  SCORE_JOB_ATTEMPTS: intIn(1, 100).default(3),
});

export type Config = z.infer<typeof schema> & {
  dataDir: string;
  /** AUTH_MODE resolved: `required` by default in production, `off` (no credential = admin) otherwise. */
  authMode: 'required' | 'off';
  /** GRAPHQL_INTROSPECTION resolved: off by default in production. */
  introspection: boolean;
  /** RATE_LIMIT_POINTS resolved: 1200 per window by default in production, 0 (off) otherwise. */
  rateLimitPoints: number;
  /** ALLOWED_HOSTS resolved: lower-cased entries; null = no Host check (AUTH_MODE=required without ALLOWED_HOSTS). */
  allowedHosts: string[] | null;
  /** CORS_ORIGINS resolved: the exact origins browsers may call from (none by default). */
  corsOrigins: string[];
  /** Shopper tokens are accepted (one of JWT_JWKS_URL, JWT_PUBLIC_KEY, JWT_SECRET is set). */
  jwtEnabled: boolean;
};

/** Host names allowed when AUTH_MODE=off and ALLOWED_HOSTS is unset: loopback only (DNS rebinding). */
export const loopbackHosts = ['localhost', '.localhost', '127.0.0.1', '[::1]'];

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message} (got ${JSON.stringify(env[String(i.path[0])])})`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const cfg = parsed.data;
  if (cfg.DEFAULT_PAGE_SIZE > cfg.MAX_PAGE_SIZE) {
    throw new ConfigError(`Invalid configuration:\n  DEFAULT_PAGE_SIZE: must not exceed MAX_PAGE_SIZE (${cfg.MAX_PAGE_SIZE})`);
  }
  if (cfg.HTTP_HEADERS_TIMEOUT_SECONDS > cfg.HTTP_REQUEST_TIMEOUT_SECONDS) {
    throw new ConfigError(`Invalid configuration:\n  HTTP_HEADERS_TIMEOUT_SECONDS: must not exceed HTTP_REQUEST_TIMEOUT_SECONDS (${cfg.HTTP_REQUEST_TIMEOUT_SECONDS})`);
  }
  const production = cfg.NODE_ENV === 'production';
  const authMode = cfg.AUTH_MODE ?? (production ? 'required' : 'off');
  if (production && authMode === 'off') {
    throw new ConfigError('Invalid configuration:\n  AUTH_MODE: must not be off when NODE_ENV=production (every request would be an admin)');
  }
  const jwtSources = (['JWT_JWKS_URL', 'JWT_PUBLIC_KEY', 'JWT_SECRET'] as const).filter((k) => cfg[k]);
  if (jwtSources.length > 1) {
    throw new ConfigError(`Invalid configuration:\n  ${jwtSources.join(', ')}: set only one source of shopper-token keys`);
  }
  if (jwtSources.length === 1 && (!cfg.JWT_ISSUER || !cfg.JWT_AUDIENCE)) {
    throw new ConfigError(`Invalid configuration:\n  JWT_ISSUER, JWT_AUDIENCE: both are required with ${jwtSources[0]} (a token from another issuer or for another audience must not pass)`);
  }
  return {
    ...cfg,
    jwtEnabled: jwtSources.length === 1,
    dataDir: path.resolve(cfg.DATA_DIR),
    authMode,
    introspection: (cfg.GRAPHQL_INTROSPECTION ?? (production ? 'off' : 'on')) === 'on',
    rateLimitPoints: cfg.RATE_LIMIT_POINTS ?? (production ? 1200 : 0),
    allowedHosts: cfg.ALLOWED_HOSTS ? list(cfg.ALLOWED_HOSTS).map((h) => h.toLowerCase()) : authMode === 'off' ? loopbackHosts : null,
    corsOrigins: cfg.CORS_ORIGINS ? list(cfg.CORS_ORIGINS) : [],
  };
}
