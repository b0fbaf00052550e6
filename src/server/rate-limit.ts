// Per-client rate limiting (README "Security"): a fixed window of RATE_LIMIT_POINTS requests per
// RATE_LIMIT_WINDOW_SECONDS for each client — the API key when there is one, else the IP address.
// Shared through Redis when REDIS_URL is set (so replicas count together); in memory otherwise.
// When Redis fails, an in-memory limiter takes over (per replica) rather than failing requests.
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Config } from '../config.js';

export type RateDecision = { allowed: true; remaining: number } | { allowed: false; retryAfterSeconds: number };

export interface RateLimiter {
  readonly backend: 'memory' | 'redis' | 'off';
  readonly points: number;
  consume(clientKey: string): Promise<RateDecision>;
  /** Gives back one point taken by `consume` (best effort: a store failure is ignored). */
  refund(clientKey: string): Promise<void>;
  close(): Promise<void>;
}

export function createRateLimiter(config: Config, log: Logger, keyPrefix = 'cia:rl'): RateLimiter {
  const points = config.rateLimitPoints;
  const duration = config.RATE_LIMIT_WINDOW_SECONDS;
  if (points === 0) {
    return { backend: 'off', points, consume: async () => ({ allowed: true, remaining: Infinity }), refund: async () => {}, close: async () => {} };
  }
  const memory = new RateLimiterMemory({ points, duration, keyPrefix });
  let limiter: RateLimiterAbstract = memory;
  let redis: Redis | undefined;
  if (config.REDIS_URL) {
    redis = new Redis(config.REDIS_URL, { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2000 });
    let warned = false;
    redis.on('error', (err: Error) => {
      if (!warned) log.warn({ err: err.message }, 'rate limiter: Redis unavailable; limiting in memory until it returns');
      warned = true;
    });
    redis.on('ready', () => {
      if (warned) log.info('rate limiter: Redis is back');
      warned = false;
    });
    limiter = new RateLimiterRedis({ storeClient: redis, points, duration, keyPrefix, rejectIfRedisNotReady: true, insuranceLimiter: memory });
  }
  return {
    backend: redis ? 'redis' : 'memory',
    points,
    async consume(clientKey) {
      try {
        const res = await limiter.consume(clientKey, 1);
        return { allowed: true, remaining: res.remainingPoints };
      } catch (rejection) {
        if (rejection instanceof RateLimiterRes) return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(rejection.msBeforeNext / 1000)) };
        // A store failure the insurance limiter could not absorb: let the request through.
        log.warn({ err: rejection }, 'rate limiter failed; request allowed');
        return { allowed: true, remaining: 0 };
      }
    },
    async refund(clientKey) {
      try {
        await limiter.reward(clientKey, 1);
      } catch {
        // Redis unreachable: the point stays spent until the window ends.
      }
    },
    async close() {
      if (redis) redis.disconnect();
    },
  };
}
