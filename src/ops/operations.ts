import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Redis } from "ioredis";
import type { Principal } from "../access/principal.js";
import { VaultError } from "../http/errors.js";
import type { TakeResult } from "./buckets.js";
import { categoryOf } from "./categories.js";
import type { LoadGuard } from "./load-guard.js";
import type { OpsMetrics } from "./metrics.js";
import type { RateLimiter } from "./rate-limiter.js";
import { pingRedis } from "./redis.js";

export interface OperationsDeps {
  guard: LoadGuard;
  limiter: RateLimiter;
  metrics: OpsMetrics;
  redis: Redis | null;
  tls: boolean;
  shutdownTimeoutMs: number;
}

const SHED_MESSAGES: Record<string, string> = {
  draining: "The server is shutting down; retry on another node",
  concurrency: "The server is at capacity; retry shortly",
  event_loop_delay: "The server is overloaded; retry shortly",
  memory: "The server is under memory pressure; retry shortly",
};

// Read responses name each returned secret's type; counting them needs no second parse.
const SECRET_TYPE = /"secret_type":"([a-z0-9_]{1,40})"/g;

/**
 * Availability and hardening at the HTTP edge: load shedding and draining (503), rate limits
 * (429), security headers, request metrics and connection-level errors in the contract's shape.
 */
export class Operations {
  constructor(readonly deps: OperationsDeps) {}

  install(app: FastifyInstance): void {
    const { guard, metrics } = this.deps;
    app.addHook("onRequest", async (request, reply) => {
      this.setSecurityHeaders(reply);
      const exempt = request.routeOptions.config?.auth === false;
      const reason = guard.refusal(exempt);
      if (reason) {
        metrics.shed.inc({ reason });
        // A refused request did nothing; auditing it would add writes exactly when the node is struggling.
        if (request.vault) request.vault.audit.action = null;
        if (reason === "draining") reply.header("Connection", "close");
        throw new VaultError("service_unavailable", SHED_MESSAGES[reason], { retryAfterSeconds: 1, details: { reason } });
      }
      guard.inFlight += 1;
      const label = { path_category: this.pathCategory(request) };
      metrics.active.inc(label);
      reply.raw.once("close", () => {
        guard.inFlight -= 1;
        metrics.active.dec(label);
      });
    });

    app.addHook("onSend", async (request, reply, payload) => {
      if (!reply.hasHeader("cache-control")) reply.header("Cache-Control", "no-store");
      if (guard.draining) reply.header("Connection", "close");
      const category = request.routeOptions.config?.category;
      if ((category === "read" || category === "batch_read") && reply.statusCode === 200 && typeof payload === "string") {
        const tenant = request.vault?.tenant?.tenantId ?? "none";
        for (const match of payload.matchAll(SECRET_TYPE)) metrics.secretReads.inc({ tenant, secret_type: match[1] });
      }
      if (category === "write" && request.method === "PUT" && (reply.statusCode === 200 || reply.statusCode === 201)) {
        metrics.secretWrites.inc({ tenant: request.vault?.tenant?.tenantId ?? "none" });
      }
      return payload;
    });

    app.addHook("onResponse", async (request, reply) => {
      const labels = { method: request.method, path_category: this.pathCategory(request) };
      metrics.requests.inc({ ...labels, status: String(reply.statusCode) });
      metrics.duration.observe(labels, reply.elapsedTime / 1000);
    });
  }

  /** The metrics label: a fixed set (route categories, `system`, `unmatched`), never a raw URL. */
  private pathCategory(request: FastifyRequest): string {
    const config = request.routeOptions.config;
    if (!request.routeOptions.url) return "unmatched";
    if (config?.auth === false) return "system";
    return categoryOf(config?.category, request.url);
  }

  private setSecurityHeaders(reply: FastifyReply): void {
    reply.header("X-Content-Type-Options", "nosniff");
    reply.header("X-Frame-Options", "DENY");
    reply.header("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'");
    reply.header("Referrer-Policy", "no-referrer");
    reply.header("Cross-Origin-Resource-Policy", "same-origin");
    if (this.deps.tls) reply.header("Strict-Transport-Security", "max-age=31536000; includeSubDomains");
  }

  /** Right after authentication: one token from the caller's bucket for this route's category. */
  async charge(request: FastifyRequest, reply: FastifyReply, principal: Principal): Promise<void> {
    const category = categoryOf(request.routeOptions.config?.category, request.url);
    const outcome = await this.deps.limiter.take(`${principal.partnerId}/${principal.identityId}`, category);
    this.answer(reply, outcome, category);
  }

  /** A failed authentication has no identity to charge: its source IP pays instead. */
  async chargeFailedAuth(request: FastifyRequest, reply: FastifyReply, error: unknown): Promise<void> {
    if (!(error instanceof VaultError) || error.status !== 401) return;
    const outcome = await this.deps.limiter.take(`ip/${request.ip}`, "auth_failure");
    this.answer(reply, outcome, "auth_failure");
  }

  private answer(reply: FastifyReply, outcome: TakeResult, category: string): void {
    reply.header("X-RateLimit-Limit", String(outcome.limit));
    reply.header("X-RateLimit-Remaining", String(outcome.remaining));
    reply.header("X-RateLimit-Reset", String(outcome.resetAt));
    if (!outcome.allowed) {
      throw new VaultError("rate_limited", `Too many ${category} requests; retry after ${outcome.retryAfterSeconds}s`, {
        retryAfterSeconds: outcome.retryAfterSeconds,
        details: { category, limit_per_minute: outcome.limit },
      });
    }
  }

  /**
   * Stop accepting, let in-flight requests finish while new ones on open connections get 503,
   * and cut whatever is still open after the shutdown timeout.
   */
  async drain(app: FastifyInstance): Promise<void> {
    this.deps.guard.draining = true;
    const force = setTimeout(() => app.server.closeAllConnections?.(), this.deps.shutdownTimeoutMs);
    force.unref();
    try {
      await app.close();
    } finally {
      clearTimeout(force);
    }
  }

  /** For readiness: present only when REDIS_URL is set. */
  get redisCheck(): (() => Promise<void>) | undefined {
    const redis = this.deps.redis;
    return redis ? async () => void (await pingRedis(redis)) : undefined;
  }

  async close(): Promise<void> {
    this.deps.guard.stop();
    await this.deps.limiter.close();
    if (this.deps.redis) await this.deps.redis.quit().catch(() => this.deps.redis?.disconnect());
  }
}
