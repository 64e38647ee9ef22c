import type { FastifyBaseLogger } from "fastify";
import type { AccessEpochs } from "../access/vault-tokens.js";
import type { AuditRecorder } from "../audit/recorder.js";
import type { VaultConfig } from "../config/config.js";
import { newSortableId } from "../shared/ids.js";
import { FloodLog, RecentCredentials, type FloodRecord } from "./flood.js";
import { LongLivedConnections } from "./long-lived.js";
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
export { serverTimeouts } from "./slow-clients.js";
export { WriteHealth, sqliteFileOf } from "./write-health.js";
export { EventRetention, RetentionJob } from "./retention.js";

export interface OperationsWiring {
  /** The access counters (src/access/vault-tokens.ts): an open stream is admitted again when they move. */
  accessCounters: () => Promise<AccessEpochs>;
  /** Where coalesced `auth_failure_flood` entries go. */
  audit: AuditRecorder;
}

/** One `auth_failure_flood` entry for a source's minute, through the pipeline's own audit path. */
function floodWriter(audit: AuditRecorder): (record: FloodRecord) => Promise<void> {
  return (record) =>
    audit.recordRequest({
      requestId: newSortableId("req"), route: {}, routeMatched: true, startedAt: process.hrtime.bigint(), sourceIp: record.source, userAgent: null, principal: null, tenant: null, tenantFromUrl: null,
      bodyInvalid: false, errorCode: "rate_limited",
      audit: {
        action: "auth_failure_flood", secretPath: null, recorded: false,
        extra: { count: record.count, codes: record.codes, categories: record.categories, first_at: new Date(record.firstAt).toISOString(), last_at: new Date(record.lastAt).toISOString() },
      },
    }, 429);
}

/** Builds the availability components from configuration; Redis is optional and may be down. */
export async function createOperations(config: VaultConfig, metrics: OpsMetrics, log: FastifyBaseLogger, wiring: OperationsWiring): Promise<Operations> {
  const redis = config.redisUrl ? connectRedis(config.redisUrl) : null;
  if (redis) await awaitRedis(redis, 1000);
  const guard = new LoadGuard({
    maxEventLoopDelayMs: config.ops.maxEventLoopDelayMs,
    maxHeapBytes: config.ops.maxHeapBytes,
    maxConcurrentRequests: config.ops.maxConcurrentRequests,
  });
  guard.start();
  const limiter = new RateLimiter(redis ? new RedisBuckets(redis) : null, config.rateLimits, metrics, log);
  const streams = new LongLivedConnections(
    { maxPerIdentity: config.resilience.maxStreamsPerIdentity, maxPerTenant: config.resilience.maxStreamsPerTenant, recheckMs: config.resilience.credentialRecheckMs },
    wiring.accessCounters,
  );
  const flood = new FloodLog(floodWriter(wiring.audit), (error) => log.error({ err: { name: (error as Error).name } }, "could not write an auth_failure_flood audit entry"));
  flood.start();
  return new Operations({
    guard, limiter, metrics, redis, tls: config.tls !== null, shutdownTimeoutMs: config.ops.shutdownTimeoutMs,
    requestTimeoutMs: config.ops.requestTimeoutMs, metricsRequireToken: config.resilience.metricsRequireToken, streams, flood, recent: new RecentCredentials(), maxConcurrentRequests: config.ops.maxConcurrentRequests,
  });
}
