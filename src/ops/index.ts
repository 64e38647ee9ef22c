import type { FastifyBaseLogger } from "fastify";
import type { VaultConfig } from "../config/config.js";
import { RedisBuckets } from "./buckets.js";
import { LoadGuard } from "./load-guard.js";
import type { OpsMetrics } from "./metrics.js";
import { Operations } from "./operations.js";
import { RateLimiter } from "./rate-limiter.js";
import { awaitRedis, connectRedis } from "./redis.js";

export { OpsMetrics } from "./metrics.js";
export { instrumentDatabase } from "./instrument.js";
export { Operations } from "./operations.js";
export { registerOpsRoutes } from "./routes.js";
export { prettyStream } from "./log-format.js";

/** Builds the availability components from configuration; Redis is optional and may be down. */
export async function createOperations(config: VaultConfig, metrics: OpsMetrics, log: FastifyBaseLogger): Promise<Operations> {
  const redis = config.redisUrl ? connectRedis(config.redisUrl) : null;
  if (redis) await awaitRedis(redis, 1000);
  const guard = new LoadGuard({
    maxEventLoopDelayMs: config.ops.maxEventLoopDelayMs,
    maxHeapBytes: config.ops.maxHeapBytes,
    maxConcurrentRequests: config.ops.maxConcurrentRequests,
  });
  guard.start();
  const limiter = new RateLimiter(redis ? new RedisBuckets(redis) : null, config.rateLimits, metrics, log);
  return new Operations({ guard, limiter, metrics, redis, tls: config.tls !== null, shutdownTimeoutMs: config.ops.shutdownTimeoutMs });
}
