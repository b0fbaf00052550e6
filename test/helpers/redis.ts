// Redis for tests: whether the server the tests are pointed at answers (tests that need it skip otherwise).
import { Redis } from 'ioredis';

/** True when a Redis server answers PING at `url` within a second. */
export async function redisReachable(url: string): Promise<boolean> {
  const r = new Redis(url, { lazyConnect: true, connectTimeout: 1000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on('error', () => {});
  try {
    await r.connect();
    return (await r.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}
