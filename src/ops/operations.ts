import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Redis } from "ioredis";
import type { Principal } from "../access/principal.js";
import { VaultError } from "../http/errors.js";
import { routeOf, type Admission } from "../http/pipeline.js";
import type { TakeResult } from "./buckets.js";
import { categoryOf } from "./categories.js";
import { sourceKey, type FloodLog, type RecentCredentials } from "./flood.js";
import type { LoadGuard } from "./load-guard.js";
import type { LongLivedConnections } from "./long-lived.js";
import { installBodyDeadline } from "./slow-clients.js";
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
  requestTimeoutMs: number;
  /** SCAIVAULT_METRICS_REQUIRE_TOKEN: `/v1/metrics` needs `metrics:read` (or `admin`). */
  metricsRequireToken: boolean;
  streams: LongLivedConnections;
  flood: FloodLog;
  recent: RecentCredentials;
  maxConcurrentRequests: number;
}

const SHED_MESSAGES: Record<string, string> = {
  draining: "The server is shutting down; retry on another node",
  concurrency: "The server is at capacity; retry shortly",
  event_loop_delay: "The server is overloaded; retry shortly",
  memory: "The server is under memory pressure; retry shortly",
};

/**
 * Availability and hardening at the HTTP edge: load shedding and draining (503), rate limits
 * (429), security headers, request metrics and connection-level errors in the contract's shape.
 */
export class Operations {
  /** Sources whose failure budget is spent, until when: refused before any storage work. */
  private readonly spentUntil = new Map<string, { until: number; limit: number; resetAt: number }>();

  private readonly securityHeaders: Record<string, string>;

  constructor(readonly deps: OperationsDeps) {
    this.securityHeaders = {
      "X-Content-Type-Options": "nosniff",
      "X-Frame-Options": "DENY",
      "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
      "Referrer-Policy": "no-referrer",
      "Cross-Origin-Resource-Policy": "same-origin",
      ...(deps.tls ? { "Strict-Transport-Security": "max-age=31536000; includeSubDomains" } : {}),
    };
  }

  install(app: FastifyInstance): void {
    const { guard, metrics } = this.deps;
    installBodyDeadline(app, this.deps.requestTimeoutMs);
    // Callback-style hooks: these run on every request, and an async hook costs a promise and a
    // microtask even when it has nothing to wait for (the public-rate charge is the exception).
    app.addHook("onRequest", (request, reply, done) => {
      reply.headers(this.securityHeaders);
      const route = routeOf(request);
      const exempt = route.auth === false;
      const reason = guard.refusal(exempt);
      if (reason) this.shed(request, reply, reason);
      // Public routes pay per source address before they touch storage (see RoutePolicy.publicRate).
      if (exempt && route.publicRate) return this.chargeSource(request, reply, "public").then(() => this.countActive(request, reply));
      this.countActive(request, reply);
      done();
    });

    app.addHook("onSend", (request, reply, payload, done) => {
      if (!reply.hasHeader("cache-control")) reply.header("Cache-Control", "no-store");
      if (guard.draining) reply.header("Connection", "close");
      const category = routeOf(request).category;
      // Only the read routes' own answers count: a secret read inside another request (a dynamic
      // engine's root credentials, an export's S3 key) is not a secret returned to the caller.
      if ((category === "read" || category === "batch_read") && reply.statusCode === 200) {
        for (const type of request.vault?.typesReturned ?? []) metrics.secretReads.inc({ secret_type: type });
      }
      if (category === "write" && request.method === "PUT" && (reply.statusCode === 200 || reply.statusCode === 201)) {
        metrics.secretWrites.inc();
      }
      done(null, payload);
    });

    app.addHook("onResponse", (request, reply, done) => {
      metrics.requests.answered(request.method, this.pathCategory(request), reply.statusCode, reply.elapsedTime / 1000);
      done();
    });
  }

  private countActive(request: FastifyRequest, reply: FastifyReply): void {
    reply.raw.once("close", this.deps.metrics.requests.started(this.pathCategory(request)));
  }

  /** The metrics label: a fixed set (route categories, `system`, `unmatched`), never a raw URL. */
  private pathCategory(request: FastifyRequest): string {
    const ctx = request.vault;
    if (ctx ? !ctx.routeMatched : !request.routeOptions.url) return "unmatched";
    const route = routeOf(request);
    if (route.auth === false) return "system";
    return categoryOf(route.category, request.url);
  }

  private shed(request: FastifyRequest, reply: FastifyReply, reason: string): never {
    this.deps.metrics.shed.inc({ reason });
    // A refused request did nothing; auditing it would add writes exactly when the node is struggling.
    if (request.vault) request.vault.audit.action = null;
    if (reason === "draining") reply.header("Connection", "close");
    throw new VaultError("service_unavailable", SHED_MESSAGES[reason], { retryAfterSeconds: 1, details: { reason } });
  }

  /**
   * Before authenticating: a source whose failure budget is spent is refused with no storage work
   * at all, unless it presents a credential that authenticated recently.
   */
  async gate(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const source = sourceKey(request.ip);
    const spent = this.spentUntil.get(source);
    if (spent === undefined) return;
    const now = Date.now();
    const until = spent.until;
    if (until <= now) {
      this.spentUntil.delete(source);
      return;
    }
    const header = request.headers.authorization;
    if (typeof header === "string" && this.deps.recent.has(header)) return;
    // A limited response carries the bucket's headers (SPEC §8), refused at the gate or not.
    reply.header("X-RateLimit-Limit", String(spent.limit));
    reply.header("X-RateLimit-Remaining", "0");
    reply.header("X-RateLimit-Reset", String(spent.resetAt));
    this.refuseFlood(request, reply, source, "auth_failure", header ? "rate_limited" : "authentication_required", Math.ceil((until - now) / 1000));
  }

  /** Right after authentication: one token from the caller's bucket for this route's category. */
  async charge(request: FastifyRequest, reply: FastifyReply, principal: Principal): Promise<void> {
    const header = request.headers.authorization;
    if (typeof header === "string") this.deps.recent.remember(header);
    const category = categoryOf(routeOf(request).category, request.url);
    const outcome = await this.deps.limiter.take(`${principal.partnerId}/${principal.identityId}`, category);
    this.answer(reply, outcome, category);
  }

  /** A failed authentication has no identity to charge: its source address pays instead. */
  async chargeFailedAuth(request: FastifyRequest, reply: FastifyReply, error: unknown): Promise<void> {
    if (!(error instanceof VaultError) || error.status !== 401) return;
    await this.chargeSource(request, reply, "auth_failure", error.code);
  }

  /**
   * An unauthenticated request pays from its source address's bucket (IPv6 by /64) of `category`;
   * one refused joins the source's coalesced flood record rather than the audit trail alone.
   */
  async chargeSource(request: FastifyRequest, reply: FastifyReply, category: "auth_failure" | "public" | "exchange", code = "rate_limited"): Promise<void> {
    const source = sourceKey(request.ip);
    const outcome = await this.deps.limiter.take(`ip/${source}`, category);
    if (category === "auth_failure" && (!outcome.allowed || outcome.remaining === 0)) {
      // Spent by this very failure: the next attempt is refused at the gate, before it costs a
      // token lookup, rather than being authenticated once more only to be refused after.
      if (this.spentUntil.size > 100_000) this.spentUntil.clear();
      const untilOneToken = outcome.allowed ? Math.ceil(60_000 / outcome.limit) : outcome.retryAfterSeconds * 1000;
      this.spentUntil.set(source, { until: Date.now() + untilOneToken, limit: outcome.limit, resetAt: outcome.resetAt });
    }
    if (outcome.allowed) return this.answer(reply, outcome, category);
    this.answer(reply, outcome, category, () => this.refuseFlood(request, reply, source, category, code, outcome.retryAfterSeconds, outcome.limit));
  }

  /** A request refused for flooding: counted into the source's coalesced record, not audited alone. */
  private refuseFlood(request: FastifyRequest, _reply: FastifyReply, source: string, category: string, code: string, retryAfterSeconds: number, limit?: number): never {
    this.deps.flood.note(source, code, category);
    this.deps.metrics.rateLimitHits.inc({ category });
    if (request.vault) request.vault.audit.action = null;
    throw new VaultError("rate_limited", `Too many ${category} requests from this address; retry after ${retryAfterSeconds}s`, {
      retryAfterSeconds,
      details: limit === undefined ? { category } : { category, limit_per_minute: limit },
    });
  }

  /**
   * After authentication, tenant and scope: an ordinary request takes a concurrency slot (only
   * authenticated requests ever hold one); a stream or long poll takes a stream slot instead.
   */
  admit(request: FastifyRequest, reply: FastifyReply, readmit: (request: FastifyRequest) => Promise<Admission>): void {
    const ctx = request.vault;
    if (routeOf(request).longLived && ctx.principal && ctx.tenant) {
      const slot = this.deps.streams.admit(ctx.principal, ctx.tenant, () => readmit(request));
      ctx.live = slot;
      reply.raw.once("close", slot.release);
      return;
    }
    const { guard } = this.deps;
    if (guard.inFlight >= this.deps.maxConcurrentRequests) this.shed(request, reply, "concurrency");
    guard.inFlight += 1;
    reply.raw.once("close", () => (guard.inFlight -= 1));
  }

  private answer(reply: FastifyReply, outcome: TakeResult, category: string, refuse?: () => never): void {
    reply.header("X-RateLimit-Limit", String(outcome.limit));
    reply.header("X-RateLimit-Remaining", String(outcome.remaining));
    reply.header("X-RateLimit-Reset", String(outcome.resetAt));
    if (!outcome.allowed && refuse) refuse();
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
  /** New requests are answered 503 draining from now on (what follows in shutdown may take a while). */
  beginDrain(): void {
    this.deps.guard.draining = true;
  }

  async drain(app: FastifyInstance): Promise<void> {
    this.deps.guard.draining = true;
    const force = setTimeout(() => app.server.closeAllConnections?.(), this.deps.shutdownTimeoutMs);
    force.unref();
    try {
      await app.close();
    } finally {
      clearTimeout(force);
    }
    // The flood counts of the last minute reach the audit trail before it drains.
    await this.deps.flood.stop();
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
