import type { FastifyInstance } from "fastify";
import { Type } from "@sinclair/typebox";
import type { Keyring } from "../crypto/keyring.js";
import type { RoutePolicy } from "../http/context.js";
import type { Database } from "../storage/contract.js";
import { VERSION } from "../system/routes.js";
import type { Operations } from "./operations.js";
import { pingRedis } from "./redis.js";

const startedAt = Date.now();
const Check = Type.Object({ status: Type.String() }, { additionalProperties: true });
const DetailedResponse = Type.Object({
  status: Type.Union([Type.Literal("healthy"), Type.Literal("degraded"), Type.Literal("unhealthy")]),
  version: Type.String(),
  uptime_seconds: Type.Integer(),
  checks: Type.Object({ database: Check, redis: Check, encryption: Check }),
  process: Type.Object({}, { additionalProperties: true }),
});

export interface OpsRouteDeps {
  db: Database;
  keyring: Keyring;
  ops: Operations;
}

function msSince(started: bigint): number {
  return Math.round((Number(process.hrtime.bigint() - started) / 1e6) * 100) / 100;
}

export function registerOpsRoutes(app: FastifyInstance, deps: OpsRouteDeps): void {
  const tags = ["system"];
  const { metrics, redis, guard } = deps.ops.deps;

  // Open by default (scrapers rarely hold tokens); SCAIVAULT_METRICS_REQUIRE_TOKEN=true asks for
  // `metrics:read` or `admin`. Not audited either way (SPEC §5).
  const metricsAccess: RoutePolicy = deps.ops.deps.metricsRequireToken ? { scope: "metrics:read", tenantOptional: true, category: "default" } : { auth: false };
  app.get("/v1/metrics", { schema: { tags, summary: "Prometheus metrics", hide: false }, config: metricsAccess }, async (_request, reply) => {
    const { contentType, body } = await metrics.render();
    return reply.type(contentType).send(body);
  });

  app.get("/v1/health/detailed", {
    schema: { tags, summary: "Component status with latencies and resource figures (admin)", response: { 200: DetailedResponse } },
    config: { scope: "admin", tenantOptional: true, category: "default" },
  }, async () => {
    const database: Record<string, unknown> = { status: "ok", dialect: deps.db.dialect };
    let started = process.hrtime.bigint();
    try {
      await deps.db.ping();
      database.latency_ms = msSince(started);
    } catch {
      database.status = "error";
    }
    if (deps.db.poolStats) {
      const stats = deps.db.poolStats();
      Object.assign(database, { pool_size: stats.size, pool_available: stats.available, pool_waiting: stats.waiting });
    }

    const redisCheck: Record<string, unknown> = { status: redis ? "ok" : "disabled" };
    if (redis) {
      try {
        redisCheck.latency_ms = Math.round((await pingRedis(redis)) * 100) / 100;
        const info = await redis.info("memory");
        const used = /used_memory:(\d+)/.exec(info);
        if (used) redisCheck.memory_used_mb = Math.round(Number(used[1]) / 1048576);
      } catch {
        redisCheck.status = "error";
      }
    }

    const encryption: Record<string, unknown> = { status: "ok", provider: "local" };
    started = process.hrtime.bigint();
    try {
      await deps.keyring.selfTest();
      encryption.latency_ms = msSince(started);
      encryption.key_status = "active";
      // The docs' `last_rotation`: when the set of active keys last changed (a key made or replaced).
      const newest = await deps.db.get<{ at: number | string | null }>("SELECT MAX(created_at) AS at FROM crypto_keys WHERE active = 1");
      encryption.last_rotation = newest?.at == null ? null : new Date(Number(newest.at)).toISOString();
    } catch {
      encryption.status = "error";
    }

    const memory = process.memoryUsage();
    const load = guard.status();
    const failed = [database, encryption].some((c) => c.status !== "ok");
    const degraded = redisCheck.status === "error" || load.shedding !== null;
    return {
      status: failed ? ("unhealthy" as const) : degraded ? ("degraded" as const) : ("healthy" as const),
      version: VERSION,
      uptime_seconds: Math.floor((Date.now() - startedAt) / 1000),
      checks: { database, redis: redisCheck, encryption },
      process: {
        rss_bytes: memory.rss,
        heap_used_bytes: memory.heapUsed,
        heap_shed_threshold_bytes: load.heap_limit_bytes,
        event_loop_delay_ms: load.event_loop_delay_ms,
        in_flight_requests: load.in_flight,
        shedding: load.shedding,
        node_version: process.version,
      },
    };
  });
}
