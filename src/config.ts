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
  SCORING_AS_OF: z
    .string()
    .refine((s) => !Number.isNaN(Date.parse(s)), 'must be an ISO date or date-time')
    .optional(),
});

export type Config = z.infer<typeof schema> & { dataDir: string };

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
  return { ...cfg, dataDir: path.resolve(cfg.DATA_DIR) };
}
