import { scopesAllow } from "../access/scopes.js";
import { isPartnerAdmin } from "../access/principal.js";
import { abandonmentOf } from "../http/abandonment.js";
import type { Caller } from "../http/context.js";
import { VaultError, validationError } from "../http/errors.js";
import { decodeCursor } from "../shared/cursor.js";
import { newId } from "../shared/ids.js";
import { isStorageUnavailable, type Queryable } from "../storage/contract.js";
import { requireEventFilters, MAX_FILTER_PATTERN_CHARS, requirePathGlobs, requireTargetUrl } from "./catalogue.js";
import { toEvent, type DeliveryStore } from "./delivery-store.js";
import type { Dispatcher } from "./dispatcher.js";
import type { AckBody, CreateSubscriptionBody, DeliveriesQuery, ListQuery, PatchSubscriptionBody, PollQuery } from "./schemas.js";
import { generateSigningSecret } from "./signing.js";
import { privateAddressWarnings } from "./ssrf.js";
import type { SubscriptionRow } from "./targets-store.js";
import { subscriptionView } from "./views.js";
import { audited, listDeliveries, page, redeliver, type EventServiceDeps } from "./webhooks-service.js";

const DEFAULT_BUFFER = 1000;

/**
 * `/v1/subscriptions`: owned by the identity that creates them and evaluated as that identity, so
 * they carry only events on paths the owner may read. Webhook delivery signs `body` by default
 * (the seed's handler), polling keeps a bounded inbox the owner polls and acknowledges.
 */
export class SubscriptionsService {
  private closing = false;
  private readonly closers = new Set<() => void>();

  constructor(private readonly deps: EventServiceDeps & { dispatcher: Dispatcher; pollIntervalMs: number }) {}

  /** Ends every long poll at once (shutdown). */
  close(): void {
    this.closing = true;
    for (const close of this.closers) close();
  }

  private managesAll(caller: Caller): boolean {
    return scopesAllow(caller.principal.scopes, "admin") || isPartnerAdmin(caller.principal);
  }

  /** Someone else's subscription is reported missing, not forbidden: its existence is not theirs to know. */
  private async require(caller: Caller, id: string, ownerOnly: boolean, tx?: Queryable): Promise<SubscriptionRow> {
    const row = await this.deps.targets.subscription(caller.tenant.tenantId, id, tx);
    const mine = row && row.owner_id === caller.principal.identityId;
    if (!row || !(mine || (!ownerOnly && this.managesAll(caller)))) throw new VaultError("subscription_not_found", "No subscription with this id", { details: { id } });
    return row;
  }

  private delivery(body: CreateSubscriptionBody["delivery"]): { url: string | null; secret: string | null; scheme: string; buffer: number } {
    if (body.type === "webhook") {
      if (!body.url) throw validationError({ "delivery.url": "is required for webhook delivery" });
      if (body.buffer_size !== undefined) throw validationError({ "delivery.buffer_size": "applies to polling delivery only" });
      return { url: requireTargetUrl("delivery.url", body.url), secret: body.secret ?? null, scheme: body.signature_scheme ?? "body", buffer: DEFAULT_BUFFER };
    }
    for (const field of ["url", "secret", "signature_scheme"] as const) {
      if (body[field] !== undefined) throw validationError({ [`delivery.${field}`]: "applies to webhook delivery only" });
    }
    return { url: null, secret: null, scheme: "body", buffer: body.buffer_size ?? DEFAULT_BUFFER };
  }

  async create(caller: Caller, body: CreateSubscriptionBody) {
    const paths = requirePathGlobs("paths", body.paths, MAX_FILTER_PATTERN_CHARS);
    const events = requireEventFilters("events", body.events);
    const delivery = this.delivery(body.delivery);
    const warnings = delivery.url ? await privateAddressWarnings(delivery.url, this.deps.allowPrivate ?? false) : [];
    const generated = delivery.url && !delivery.secret ? generateSigningSecret() : null;
    const secret = delivery.secret ?? generated;
    const id = newId("sub");
    const now = Date.now();
    const { principal } = caller;
    caller.ctx.audit.extra = { subscription_id: id, name: body.name };
    const row = await audited(this.deps.db, this.deps.audit, caller, 201, async (tx) => {
      await this.deps.quota.requireRoomForSubscription(tx, caller);
      const created: SubscriptionRow = {
        id, partner_id: caller.tenant.partnerId, tenant_id: caller.tenant.tenantId, name: body.name, paths: JSON.stringify(paths), events: JSON.stringify(events),
        filters: JSON.stringify(body.filters ?? {}), delivery_type: body.delivery.type, url: delivery.url, signature_scheme: delivery.scheme,
        secret_sealed: secret ? await this.deps.secrets.seal(id, "current", secret, tx) : null, buffer_size: delivery.buffer, status: "active",
        owner_id: principal.identityId, owner_type: principal.identityType, owner_groups: JSON.stringify(principal.groups), owner_roles: JSON.stringify(principal.roles),
        owner_scopes: JSON.stringify([...principal.scopes].sort()),
        created_at: now, updated_at: now,
      };
      await this.deps.targets.insertSubscription(created, tx);
      return created;
    });
    const view = generated ? { ...subscriptionView(row), delivery: { ...subscriptionView(row).delivery, secret: generated } } : subscriptionView(row);
    return warnings.length > 0 ? { ...view, warnings } : view;
  }

  async list(caller: Caller, query: ListQuery) {
    const limit = query.limit ?? 50;
    const after = decodeCursor<{ id: string }>(query.cursor, { id: "string" });
    const rows = await this.deps.targets.listSubscriptions(caller.tenant.tenantId, this.managesAll(caller) ? null : caller.principal.identityId, after?.id ?? null, limit + 1);
    const result = page(rows, limit);
    return { data: result.items.map(subscriptionView), cursor: result.cursor, has_more: result.has_more };
  }

  async get(caller: Caller, id: string) {
    return subscriptionView(await this.require(caller, id, false));
  }

  async update(caller: Caller, id: string, body: PatchSubscriptionBody) {
    const paths = body.paths === undefined ? undefined : requirePathGlobs("paths", body.paths, MAX_FILTER_PATTERN_CHARS);
    const events = body.events === undefined ? undefined : requireEventFilters("events", body.events);
    const delivery = body.delivery === undefined ? undefined : this.delivery(body.delivery);
    caller.ctx.audit.extra = { subscription_id: id };
    const row = await audited(this.deps.db, this.deps.audit, caller, 200, async (tx) => {
      const current = await this.require(caller, id, false, tx);
      const next: SubscriptionRow = { ...current, updated_at: Date.now() };
      if (body.name !== undefined) next.name = body.name;
      if (paths) next.paths = JSON.stringify(paths);
      if (events) next.events = JSON.stringify(events);
      if (body.filters !== undefined) next.filters = JSON.stringify(body.filters);
      if (body.status !== undefined) next.status = body.status;
      if (delivery && body.delivery) {
        if (body.delivery.type !== current.delivery_type) throw validationError({ "delivery.type": "cannot change; create a new subscription" });
        next.url = delivery.url;
        next.signature_scheme = delivery.scheme;
        next.buffer_size = delivery.buffer;
        if (delivery.secret) next.secret_sealed = await this.deps.secrets.seal(id, "current", delivery.secret, tx);
      }
      await this.deps.targets.updateSubscription(next, tx);
      if (current.status === "active" && next.status !== "active") await this.deps.deliveries.failOpen(id, "subscription disabled", tx);
      return next;
    });
    return subscriptionView(row);
  }

  async remove(caller: Caller, id: string) {
    caller.ctx.audit.extra = { subscription_id: id };
    await audited(this.deps.db, this.deps.audit, caller, 200, async (tx) => {
      await this.require(caller, id, false, tx);
      await this.deps.targets.deleteSubscription(caller.tenant.tenantId, id, tx);
      await this.deps.deliveries.failOpen(id, "subscription deleted", tx);
    });
    return { id, deleted: true };
  }

  /** Long poll: answers as soon as unacknowledged events exist after `since_event_id`, else at the timeout. */
  async poll(caller: Caller, id: string, query: PollQuery) {
    const sub = await this.require(caller, id, true);
    if (sub.delivery_type !== "polling") throw new VaultError("invalid_request", "This subscription delivers by webhook; it cannot be polled", { details: { id } });
    const max = query.max_events ?? 100;
    let since = 0;
    if (query.since_event_id) {
      const event = await this.deps.deliveries.event(query.since_event_id);
      if (!event || event.tenant_id !== sub.tenant_id || event.dispatch_seq === null) throw validationError({ since_event_id: "is not an event of this tenant" });
      since = event.dispatch_seq;
    }
    const deadline = Date.now() + (query.timeout ?? 30) * 1000;
    const live = caller.ctx.live ?? null;
    const credential = live?.signal ?? null;
    // A client that went away ends its wait now, not at its deadline: the stream slot is freed at
    // once, and a review counted 122 polls still waiting (and reading the inbox at each event) for
    // clients that had left, against a cap of 10.
    const gone = abandonmentOf(caller) ?? null;
    const wake = credential && gone ? AbortSignal.any([credential, gone]) : credential ?? gone;
    for (;;) {
      // A credential revoked or expired while waiting ends the poll with its 401 (a tenant
      // suspended meanwhile with its 403).
      if (credential?.aborted) throw credential.reason;
      if (gone?.aborted) {
        caller.ctx.audit.extra = { subscription_id: id, events: 0, client_gone: true };
        return { events: [], has_more: false };
      }
      let rows: Awaited<ReturnType<DeliveryStore["inbox"]>>;
      try {
        rows = await this.deps.deliveries.inbox(id, since, max + 1);
      } catch (error) {
        // Storage that stops answering while the poll waits is waited out until the poll's own
        // deadline (issue 13); only then does the caller get the 503.
        if (!isStorageUnavailable(error) || this.closing || Date.now() >= deadline) throw error;
        rows = [];
      }
      if (rows.length > 0 || this.closing || Date.now() >= deadline) {
        // Events go out only to a caller admitted under access at least as new as they are.
        if (rows.length > 0) await live?.current();
        caller.ctx.audit.extra = { subscription_id: id, events: Math.min(rows.length, max) };
        return { events: rows.slice(0, max).map(toEvent), has_more: rows.length > max };
      }
      await this.waitForDispatch(sub.tenant_id, Math.min(deadline - Date.now(), this.deps.pollIntervalMs), wake);
    }
  }

  /** Resolves when this node dispatches events for the tenant, after `ms` (other nodes' events), or on shutdown. */
  private waitForDispatch(tenantId: string, ms: number, wake?: AbortSignal | null): Promise<void> {
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        this.deps.dispatcher.signal.off("dispatched", onDispatch);
        wake?.removeEventListener("abort", finish);
        this.closers.delete(finish);
        resolve();
      };
      if (wake?.aborted) queueMicrotask(finish);
      else wake?.addEventListener("abort", finish, { once: true });
      const onDispatch = (tenants: string[]) => {
        if (tenants.includes(tenantId)) finish();
      };
      const timer = setTimeout(finish, Math.max(0, ms));
      this.deps.dispatcher.signal.on("dispatched", onDispatch);
      this.closers.add(finish);
    });
  }

  async ack(caller: Caller, id: string, body: AckBody) {
    await this.require(caller, id, true);
    caller.ctx.audit.extra = { subscription_id: id, event_ids: body.event_ids.length };
    const acknowledged = await this.deps.deliveries.ack(id, [...new Set(body.event_ids)]);
    return { acknowledged, event_ids: body.event_ids };
  }

  async deliveries(caller: Caller, id: string, query: DeliveriesQuery) {
    await this.require(caller, id, false);
    return listDeliveries(this.deps.deliveries, id, query);
  }

  async redeliver(caller: Caller, id: string, deliveryId: string) {
    await this.require(caller, id, false);
    const original = await this.deps.deliveries.get(id, deliveryId);
    if (!original) throw new VaultError("delivery_not_found", "No delivery with this id for this subscription", { details: { id: deliveryId } });
    const row = await redeliver(this.deps.deliveries, this.deps.db, original);
    this.deps.worker.kick();
    return row.id;
  }
}
