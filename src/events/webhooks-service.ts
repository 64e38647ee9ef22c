import type { AuditRecorder } from "../audit/recorder.js";
import type { Caller } from "../http/context.js";
import { VaultError } from "../http/errors.js";
import { decodeCursor, encodeCursor } from "../shared/cursor.js";
import { requireDuration } from "../shared/duration.js";
import { newId } from "../shared/ids.js";
import type { Database, Queryable } from "../storage/contract.js";
import { isUniqueViolation } from "../storage/contract.js";
import { requireEventFilters, requireTargetUrl } from "./catalogue.js";
import type { DeliveryRow, DeliveryStore } from "./delivery-store.js";
import type { TargetQuota } from "./quotas.js";
import type { DeliveryWorker } from "./delivery-worker.js";
import type { CreateWebhookBody, DeliveriesQuery, ListQuery, PatchWebhookBody } from "./schemas.js";
import { generateSigningSecret, type SigningSecrets } from "./signing.js";
import type { TargetsStore, WebhookRow } from "./targets-store.js";
import { privateAddressWarnings } from "./ssrf.js";
import { deliveryView, webhookView } from "./views.js";

export interface EventServiceDeps {
  db: Database;
  targets: TargetsStore;
  deliveries: DeliveryStore;
  secrets: SigningSecrets;
  audit: AuditRecorder;
  worker: DeliveryWorker;
  /** SCAIVAULT_WEBHOOK_ALLOW_PRIVATE: no private_address warning when private targets are allowed. */
  allowPrivate?: boolean;
  quota: TargetQuota;
}

const DAY_MS = 86_400_000;

/** Runs `work` in a transaction that also writes the request's audit entry. */
export async function audited<T>(db: Database, audit: AuditRecorder, caller: Caller, status: number, work: (tx: Queryable) => Promise<T>): Promise<T> {
  try {
    return await db.transaction(async (tx) => {
      const value = await work(tx);
      await audit.recordInTransaction(tx, caller, status);
      return value;
    });
  } catch (error) {
    if (isUniqueViolation(error)) throw new VaultError("already_exists", "That name is already taken in this tenant", { details: { field: "name" } });
    throw error;
  }
}

export function page<T extends { id: string }>(rows: T[], limit: number): { items: T[]; cursor: string | null; has_more: boolean } {
  const items = rows.slice(0, limit);
  const hasMore = rows.length > limit;
  return { items, cursor: hasMore ? encodeCursor({ id: items[items.length - 1].id }) : null, has_more: hasMore };
}

export async function listDeliveries(deliveries: DeliveryStore, targetId: string, query: DeliveriesQuery) {
  const limit = query.limit ?? 50;
  const after = decodeCursor<{ t: number; id: string }>(query.cursor, { t: "number", id: "string" });
  const page = await deliveries.list(targetId, query.status, after ? { created_at: after.t, id: after.id } : null, limit);
  return { deliveries: page.rows.map(deliveryView), cursor: page.next === null ? null : encodeCursor({ t: page.next.created_at, id: page.next.id }), has_more: page.next !== null };
}

/**
 * A settled (delivered or failed) delivery: a new pending one, sent again with a fresh signature.
 * A pending one — waiting for its next retry, e.g. blocked as private before the operator allowed
 * private targets — is made due now, in place: a second delivery would be held behind it anyway
 * (per-target order) and the receiver would get the event twice. One being attempted right now
 * (leased) is left to that attempt.
 */
export async function redeliver(deliveries: DeliveryStore, db: Database, original: DeliveryRow): Promise<DeliveryRow> {
  const now = Date.now();
  if (original.status === "pending") {
    await db.run("UPDATE event_deliveries SET next_attempt_at = ?, updated_at = ? WHERE id = ? AND status = 'pending' AND (lease_until IS NULL OR lease_until < ?)", [now, now, original.id, now]);
    return { ...original, next_attempt_at: Math.min(original.next_attempt_at, now), updated_at: now };
  }
  const row: DeliveryRow = { ...original, id: newId("del"), status: "pending", attempts: 0, next_attempt_at: now, lease_until: null, lease_owner: null, response_code: null, last_error: null, duration_ms: null, created_at: now, updated_at: now, delivered_at: null };
  await db.transaction((tx) => deliveries.insert(row, tx));
  return row;
}

/** `/v1/webhooks`: tenant-wide event targets managed by admins, signed `timestamped` by default. */
export class WebhooksService {
  constructor(private readonly deps: EventServiceDeps) {}

  private async require(caller: Caller, id: string, tx?: Queryable): Promise<WebhookRow> {
    const row = await this.deps.targets.webhook(caller.tenant.tenantId, id, tx);
    if (!row) throw new VaultError("webhook_not_found", "No webhook with this id in this tenant", { details: { id } });
    return row;
  }

  async create(caller: Caller, body: CreateWebhookBody) {
    const url = requireTargetUrl("url", body.url);
    const events = requireEventFilters("events", body.events);
    const warnings = await privateAddressWarnings(url, this.deps.allowPrivate ?? false);
    const secret = body.secret ?? generateSigningSecret();
    const now = Date.now();
    const id = newId("wh");
    caller.ctx.audit.extra = { webhook_id: id, name: body.name };
    const row = await audited(this.deps.db, this.deps.audit, caller, 201, async (tx) => {
      await this.deps.quota.requireRoomForWebhook(tx, caller);
      const created: WebhookRow = {
        id, partner_id: caller.tenant.partnerId, tenant_id: caller.tenant.tenantId, name: body.name, url, events: JSON.stringify(events), filters: JSON.stringify(body.filters ?? {}),
        enabled: body.enabled === false ? 0 : 1, signature_scheme: body.signature_scheme ?? "timestamped", secret_sealed: await this.deps.secrets.seal(id, "current", secret, tx),
        previous_secret_sealed: null, previous_secret_expires_at: null, disabled_reason: body.enabled === false ? "disabled by request" : null, created_by: caller.principal.identityId, created_at: now, updated_at: now,
      };
      await this.deps.targets.insertWebhook(created, tx);
      return created;
    });
    // A secret the caller chose is never echoed; one we generated is shown this once.
    const view = body.secret === undefined ? { ...webhookView(row), secret } : webhookView(row);
    return warnings.length > 0 ? { ...view, warnings } : view;
  }

  async list(caller: Caller, query: ListQuery) {
    const limit = query.limit ?? 50;
    const after = decodeCursor<{ id: string }>(query.cursor, { id: "string" });
    const result = page(await this.deps.targets.listWebhooks(caller.tenant.tenantId, after?.id ?? null, limit + 1), limit);
    return { webhooks: result.items.map(webhookView), cursor: result.cursor, has_more: result.has_more };
  }

  async get(caller: Caller, id: string) {
    const row = await this.require(caller, id);
    const stats = await this.deps.deliveries.stats(id, Date.now() - DAY_MS);
    return {
      ...webhookView(row),
      statistics: { deliveries_24h: stats.total, success_rate_24h: stats.total === 0 ? null : stats.succeeded / stats.total, avg_latency_ms: stats.avgMs },
      last_delivery: stats.last ? { id: stats.last.id, timestamp: new Date(stats.last.updated_at).toISOString(), status: stats.last.status, response_code: stats.last.response_code } : null,
    };
  }

  async update(caller: Caller, id: string, body: PatchWebhookBody) {
    const url = body.url === undefined ? undefined : requireTargetUrl("url", body.url);
    const events = body.events === undefined ? undefined : requireEventFilters("events", body.events);
    const ttlSeconds = body.previous_secret_ttl === undefined ? undefined : requireDuration("previous_secret_ttl", body.previous_secret_ttl);
    if (ttlSeconds !== undefined && body.secret === undefined) {
      throw new VaultError("validation_error", "previous_secret_ttl goes with a new secret", { details: { fields: { previous_secret_ttl: "only allowed together with secret" } } });
    }
    caller.ctx.audit.extra = { webhook_id: id, secret_rotated: body.secret !== undefined };
    const row = await audited(this.deps.db, this.deps.audit, caller, 200, async (tx) => {
      const current = await this.require(caller, id, tx);
      const now = Date.now();
      const next: WebhookRow = { ...current, updated_at: now };
      if (body.name !== undefined) next.name = body.name;
      if (url !== undefined) next.url = url;
      if (events !== undefined) next.events = JSON.stringify(events);
      if (body.filters !== undefined) next.filters = JSON.stringify(body.filters);
      if (body.signature_scheme !== undefined) next.signature_scheme = body.signature_scheme;
      if (body.enabled !== undefined) {
        next.enabled = body.enabled ? 1 : 0;
        next.disabled_reason = body.enabled ? null : "disabled by request";
      }
      if (body.secret !== undefined) {
        // The old secret stays valid for receivers for the overlap only (sent as a second signature).
        if (ttlSeconds) {
          const old = await this.deps.secrets.open(id, "current", current.secret_sealed, tx);
          next.previous_secret_sealed = await this.deps.secrets.seal(id, "previous", old, tx);
          next.previous_secret_expires_at = now + ttlSeconds * 1000;
        } else {
          next.previous_secret_sealed = null;
          next.previous_secret_expires_at = null;
        }
        next.secret_sealed = await this.deps.secrets.seal(id, "current", body.secret, tx);
      }
      await this.deps.targets.updateWebhook(next, tx);
      if (current.enabled === 1 && next.enabled === 0) await this.deps.deliveries.failOpen(id, "webhook disabled", tx);
      return next;
    });
    return webhookView(row);
  }

  async remove(caller: Caller, id: string) {
    caller.ctx.audit.extra = { webhook_id: id };
    await audited(this.deps.db, this.deps.audit, caller, 200, async (tx) => {
      if (!(await this.deps.targets.deleteWebhook(caller.tenant.tenantId, id, tx))) throw new VaultError("webhook_not_found", "No webhook with this id in this tenant", { details: { id } });
      await this.deps.deliveries.failOpen(id, "webhook deleted", tx);
    });
    return { id, deleted: true };
  }

  /** Sends a `webhook.test` event now, synchronously, and reports the outcome (logged as a delivery). */
  async test(caller: Caller, id: string) {
    const hook = await this.require(caller, id);
    if (hook.enabled !== 1) throw new VaultError("invalid_request", "The webhook is disabled; enable it first", { details: { id } });
    const now = Date.now();
    const eventId = newId("evt");
    const owner = `test_${newId("del")}`;
    const row: DeliveryRow = {
      id: newId("del"), partner_id: hook.partner_id, tenant_id: hook.tenant_id, target_kind: "webhook", target_id: id, event_id: eventId, event_type: "webhook.test",
      ordering_key: "", dispatch_seq: 0, status: "pending", attempts: 0, next_attempt_at: now + 3_600_000, lease_until: now + 3_600_000, lease_owner: owner,
      response_code: null, last_error: null, duration_ms: null, created_at: now, updated_at: now, delivered_at: null,
    };
    caller.ctx.audit.extra = { webhook_id: id, delivery_id: row.id };
    await audited(this.deps.db, this.deps.audit, caller, 200, async (tx) => {
      // dispatch_seq 0: already handled, so neither the fan-out pass nor streams pick it up.
      await tx.run(
        "INSERT INTO events (id, partner_id, tenant_id, event_type, path, identity_id, request_id, data, created_at, dispatch_seq) VALUES (?, ?, ?, 'webhook.test', NULL, ?, ?, ?, ?, 0)",
        [eventId, hook.partner_id, hook.tenant_id, caller.principal.identityId, caller.requestId, JSON.stringify({ webhook_id: id, message: "This is a test event from ScaiVault" }), now],
      );
      await this.deps.deliveries.insert(row, tx);
    });
    const result = await this.deps.worker.attempt(row, { retry: false });
    return { delivery_id: row.id, status: result?.ok ? "success" : "failed", response_code: result?.status ?? null, duration_ms: result?.durationMs ?? null, error: result?.error ?? null };
  }

  async deliveries(caller: Caller, id: string, query: DeliveriesQuery) {
    await this.require(caller, id);
    return listDeliveries(this.deps.deliveries, id, query);
  }

  async redeliver(caller: Caller, id: string, deliveryId: string) {
    await this.require(caller, id);
    const original = await this.deps.deliveries.get(id, deliveryId);
    if (!original || original.event_type === "webhook.test") throw new VaultError("delivery_not_found", "No delivery with this id for this webhook", { details: { id: deliveryId } });
    caller.ctx.audit.extra = { webhook_id: id, delivery_id: deliveryId };
    const row = await redeliver(this.deps.deliveries, this.deps.db, original);
    this.deps.worker.kick();
    return deliveryView(row);
  }
}
