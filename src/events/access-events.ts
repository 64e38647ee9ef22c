import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Database } from "../storage/contract.js";
import type { EventOutbox, NewEvent } from "./outbox.js";
import { LruMap } from "../shared/lru.js";

/** How long a node trusts its answer to "does any target of this tenant name secret.accessed?". */
const WANTED_TTL_MS = 1_000;
const TARGET_ROUTE = /^\/v1\/(webhooks|subscriptions)(\/|$|\?)/;
const SECRET_ROUTE = /^\/v1\/(partner\/)?secrets(\/|$)/;
/** Secret routes' audit actions are the permission they check (SPEC §4 names both the same). */
const PERMISSION_OF_ACTION: Record<string, string> = { read: "read", write: "write", delete: "delete", list: "list", rotate: "rotate" };

/**
 * The two events that describe requests rather than changes (SPEC §7): `secret.accessed` for each
 * successful read, written only while some target of the tenant names it explicitly (so reads
 * without such a subscriber write nothing), and `policy.violation` for each 403 on a secret path.
 * They are written before the response leaves, after the request's audit entry, like the audit
 * entry itself: a response the caller saw has its event. A target created on another node is
 * noticed within WANTED_TTL_MS; event streams see `secret.accessed` only while a target names it.
 */
export class AccessEvents {
  private readonly wanted = new LruMap<string, { value: boolean; until: number }>(10_000);

  constructor(private readonly db: Database, private readonly outbox: EventOutbox) {}

  install(app: FastifyInstance): void {
    // Registered after the pipeline, so it runs after the request's audit entry is written.
    app.addHook("onSend", (request, reply, payload, done) => {
      const ctx = request.vault;
      // A target created, changed or removed on this node counts from the next read on.
      if (request.method !== "GET" && ctx?.tenant && TARGET_ROUTE.test(request.url)) this.forget(ctx.tenant.tenantId);
      // Only an authenticated, audited request can make an event; the rest (health, metrics,
      // refused credentials) pass without a promise.
      if (!ctx?.principal || !ctx.tenant || !ctx.audit.action) return done(null, payload);
      return this.writeEventsFor(request, reply.statusCode).then(() => payload);
    });
  }

  private async writeEventsFor(request: FastifyRequest, status: number): Promise<void> {
    const events = await this.eventsFor(request, status);
    if (events.length > 0) await this.write(events);
  }

  /** Targets changed on this node: ask the database again on the next read. */
  forget(tenantId: string): void {
    this.wanted.delete(tenantId);
  }

  private async eventsFor(request: FastifyRequest, status: number): Promise<NewEvent[]> {
    const ctx = request.vault;
    if (!ctx?.principal || !ctx.tenant || !ctx.audit.action || !SECRET_ROUTE.test(request.url.split("?")[0])) return [];
    const base = { tenant_id: ctx.tenant.tenantId, partner_id: ctx.tenant.partnerId, identity_id: ctx.principal.identityId, request_id: ctx.requestId };
    if (status === 403 && ctx.audit.secretPath) {
      const permission = PERMISSION_OF_ACTION[ctx.audit.action];
      if (!permission) return [];
      return [{ ...base, event_type: "policy.violation", path: ctx.audit.secretPath, data: { permission, code: ctx.errorCode ?? "access_denied" } }];
    }
    if (status !== 200 || ctx.audit.action !== "read") return [];
    const extra = ctx.audit.extra;
    // A batch read names its paths in the entry; a single read its one path and version.
    const paths = Array.isArray(extra.paths) ? (extra.paths as string[]) : ctx.audit.secretPath ? [ctx.audit.secretPath] : [];
    if (paths.length === 0 || !(await this.isWanted(ctx.tenant.tenantId))) return [];
    return paths.map((path) => ({
      ...base,
      event_type: "secret.accessed",
      path,
      data: Array.isArray(extra.paths) ? { batch: true } : { version: extra.version ?? null, secret_type: extra.secret_type ?? null },
    }));
  }

  private async isWanted(tenantId: string): Promise<boolean> {
    const now = Date.now();
    const cached = this.wanted.get(tenantId);
    if (cached && cached.until > now) return cached.value;
    // Event lists are JSON arrays of type strings: the quoted name matches only an explicit entry.
    const row = await this.db.get(
      `SELECT 1 AS hit FROM webhooks WHERE tenant_id = ? AND enabled = 1 AND events LIKE '%"secret.accessed"%'
       UNION ALL SELECT 1 AS hit FROM subscriptions WHERE tenant_id = ? AND status = 'active' AND events LIKE '%"secret.accessed"%'`,
      [tenantId, tenantId],
    );
    this.wanted.set(tenantId, { value: row !== undefined, until: now + WANTED_TTL_MS });
    return row !== undefined;
  }

  private async write(events: NewEvent[]): Promise<void> {
    const stored = await this.db.transaction((tx) => this.outbox.appendAll(tx, events));
    this.outbox.published(stored);
  }
}
