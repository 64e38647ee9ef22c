import type { FastifyInstance } from "fastify";
import { Type } from "@sinclair/typebox";
import type { Database } from "../storage/contract.js";
import type { Keyring } from "../crypto/keyring.js";
import { registerLanding } from "./landing.js";

export const VERSION = "0.1.0";
const API_VERSION = "v1";

const HealthResponse = Type.Object({ status: Type.Literal("healthy"), timestamp: Type.String() });
const ReadyResponse = Type.Object({
  status: Type.Union([Type.Literal("ready"), Type.Literal("not_ready")]),
  checks: Type.Object({ database: Type.String(), redis: Type.String(), encryption: Type.String() }),
  /** Per failed check, what went wrong (the docs' shape: `{"redis": "…"}`); empty when ready. */
  errors: Type.Record(Type.String(), Type.String()),
});

export interface SystemDeps {
  db: Database;
  keyring: Keyring;
  /** Present when REDIS_URL is set. */
  redisCheck?: () => Promise<void>;
  /** Throws (with a short reason) when the node cannot write: full disk, read-only storage (src/ops). */
  writeCheck?: () => Promise<void>;
}

export function registerSystemRoutes(app: FastifyInstance, deps: SystemDeps): void {
  const open = { auth: false } as const;
  const tags = ["system"];

  app.get("/v1/health", { schema: { tags, summary: "Liveness", response: { 200: HealthResponse } }, config: open }, async () => ({
    status: "healthy" as const,
    timestamp: new Date().toISOString(),
  }));

  app.get("/v1/health/ready", { schema: { tags, summary: "Readiness: database, redis, encryption", response: { 200: ReadyResponse, 503: ReadyResponse } }, config: open }, async (_request, reply) => {
    const errors: Record<string, string> = {};
    const checks = { database: "ok", redis: deps.redisCheck ? "ok" : "disabled", encryption: "ok" };
    try {
      await deps.db.ping();
      try {
        await deps.writeCheck?.();
      } catch (error) {
        checks.database = "error";
        errors.database = (error as Error).message;
      }
    } catch {
      checks.database = "error";
      errors.database = "unreachable";
    }
    if (deps.redisCheck) {
      try {
        await deps.redisCheck();
      } catch {
        checks.redis = "error";
        errors.redis = "unreachable";
      }
    }
    try {
      await deps.keyring.selfTest();
    } catch {
      checks.encryption = "error";
      errors.encryption = "root key unavailable";
    }
    const ready = Object.keys(errors).length === 0;
    if (!ready) reply.code(503).header("Retry-After", "1");
    return { status: ready ? "ready" : "not_ready", checks, errors };
  });

  // Anonymous: the product version only. Runtime, storage and uptime are for admins
  // (/v1/health/detailed): they tell an attacker which exploits to try.
  app.get("/v1/version", { schema: { tags, summary: "Server version" }, config: open }, async () => ({
    version: VERSION,
    api_version: API_VERSION,
  }));

  // Serialized once (the routes are fixed once the server runs): 237 KB cost ~8 ms per anonymous
  // request, which also paid no rate limit; now it is charged per source address as other public routes.
  let openapi: string | null = null;
  app.get("/v1/openapi.json", { schema: { hide: true }, config: { auth: false, publicRate: true } }, async (_request, reply) => {
    openapi ??= JSON.stringify(app.swagger());
    return reply.type("application/json; charset=utf-8").send(openapi);
  });
  registerLanding(app);
}
