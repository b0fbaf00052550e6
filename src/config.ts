// Typed, validated configuration from the environment. Every variable is listed in the README's
// configuration table; a bad value stops start-up with a message that names the variable.
import path from 'node:path';
import { z } from 'zod';

const intIn = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
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
  INFERENCE_BATCHING: z.enum(['on', 'off']).default('on'),
  INFERENCE_MAX_BATCH_SIZE: intIn(1, 1_000_000).optional(),
  INFERENCE_MAX_QUEUE_DELAY_MS: z.coerce.number().min(0).max(1000).optional(),
  INFERENCE_MAX_QUEUE_ROWS: intIn(1, 10_000_000).default(65_536),
  INFERENCE_MAX_CONCURRENT_BATCHES: intIn(1, 64).default(1),
  PREDICTION_CACHE_CUSTOMERS: intIn(0, 10_000_000).default(100_000),
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
  SCORING_AS_OF: z
    .string()
    .refine((s) => s === 'data-end' || !Number.isNaN(Date.parse(s)), 'must be an ISO date or date-time, or data-end')
    .optional(),
  // Model versions and promotion without restart (README "Models and versions").
  MODELS_POLL_SECONDS: z.coerce.number().min(0).max(3600).default(5),
  BACKGROUND_SCORING: z.enum(['on', 'off']).default('on'),
});

export type Config = z.infer<typeof schema> & {
  dataDir: string;
  /** AUTH_MODE resolved: `required` by default in production, `off` (no credential = admin) otherwise. */
  authMode: 'required' | 'off';
  /** GRAPHQL_INTROSPECTION resolved: off by default in production. */
  introspection: boolean;
  /** RATE_LIMIT_POINTS resolved: 1200 per window by default in production, 0 (off) otherwise. */
  rateLimitPoints: number;
};

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
  const production = cfg.NODE_ENV === 'production';
  const authMode = cfg.AUTH_MODE ?? (production ? 'required' : 'off');
  if (production && authMode === 'off') {
    throw new ConfigError('Invalid configuration:\n  AUTH_MODE: must not be off when NODE_ENV=production (every request would be an admin)');
  }
  return {
    ...cfg,
    dataDir: path.resolve(cfg.DATA_DIR),
    authMode,
    introspection: (cfg.GRAPHQL_INTROSPECTION ?? (production ? 'off' : 'on')) === 'on',
    rateLimitPoints: cfg.RATE_LIMIT_POINTS ?? (production ? 1200 : 0),
  };
}
