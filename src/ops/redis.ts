import { Redis } from "ioredis";

/**
 * A Redis connection that never queues: a command while disconnected fails at once, so a Redis
 * outage costs a request nothing but the fallback to local buckets.
 */
export function connectRedis(url: string): Redis {
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: 500,
    connectTimeout: 1000,
    lazyConnect: true,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
  });
  // Connection errors surface as failed commands and in readiness; the event must not crash us.
  redis.on("error", () => {});
  return redis;
}

/** Waits up to `ms` for the first connection; a vault starts even when Redis is down. */
export async function awaitRedis(redis: Redis, ms: number): Promise<void> {
  await Promise.race([redis.connect().catch(() => {}), new Promise((resolve) => setTimeout(resolve, ms).unref())]);
}

export async function pingRedis(redis: Redis): Promise<number> {
  const started = process.hrtime.bigint();
  await redis.ping();
  return Number(process.hrtime.bigint() - started) / 1e6;
}
