import type { AuditRecorder } from "../audit/recorder.js";
import type { Caller } from "../http/context.js";
import { VaultError } from "../http/errors.js";
import { newSortableId, randomBase62 } from "../shared/ids.js";
import type { Queryable } from "../storage/contract.js";
import { eventBase, type ChangeDeps } from "./change.js";
import type { Connector } from "./connector.js";
import { configOf } from "./engines.js";
import type { DynamicMetrics } from "./metrics.js";
import type { DynamicStore, LeaseRow, RevokeReason } from "./store.js";
import { renderAll, type Dialect } from "./templating.js";
import { leaseEventData } from "./views.js";
import type { VaultEvent } from "../events/outbox.js";

export const EXPIRY_IDENTITY = "system:lease-expiry";
/** How long a claim holds a lease for one attempt: past it, another node may try (a node died mid-attempt). */
const CLAIM_HOLD_MS = 120_000;
const WAIT_STEP_MS = 100;

export interface RevokerDeps extends ChangeDeps {
  store: DynamicStore;
  connector: Connector;
  metrics: DynamicMetrics;
  audit: AuditRecorder;
  /** Delays before each retry of a failed revocation; the last repeats. */
  retryScheduleMs: number[];
}

export type Outcome = { lease: LeaseRow; error: VaultError | null };

/**
 * Revocation at the source, exactly once across nodes: an attempt starts by claiming the lease in
 * one conditional UPDATE (only the node whose update changed the row goes on), runs the revocation,
 * then records the outcome in a transaction that re-checks the claim is still its own. A failure
 * becomes `revoke_failed` with the next retry time from the schedule.
 */
export class LeaseRevoker {
  /** Names this process in claims, so a claim is only ever completed by the node that made it. */
  readonly node = `node_${randomBase62(10)}`;
  /** Told when a lease will need the worker (creation, renewal), so it can wake for it. */
  onScheduled: ((at: number) => void) | null = null;

  constructor(private readonly deps: RevokerDeps) {}

  scheduled(at: number): void {
    this.onScheduled?.(at);
  }

  /** A caller's revocation: tries now, or waits for another node's attempt in progress and reports its outcome. */
  async revokeNow(id: string, reason: RevokeReason, caller: Caller): Promise<Outcome> {
    const deadline = Date.now() + CLAIM_HOLD_MS + 5_000;
    for (;;) {
      const outcome = await this.attempt(id, reason, caller);
      if (outcome) return outcome;
      const row = await this.deps.store.lease(id);
      if (!row) throw new VaultError("lease_not_found", `No lease ${id}`);
      if (row.state === "revoked" || row.state === "expired") return { lease: row, error: null };
      if (Date.now() > deadline) throw new VaultError("service_unavailable", "Another node is revoking this lease; try again", { retryAfterSeconds: 5 });
      await new Promise((resolve) => setTimeout(resolve, WAIT_STEP_MS));
    }
  }

  /** One attempt; null when another node holds the lease (or it has ended). `caller` null: the expiry worker. */
  async attempt(id: string, reason: RevokeReason, caller: Caller | null): Promise<Outcome | null> {
    if (!(await this.deps.store.claim(id, this.node, Date.now(), CLAIM_HOLD_MS, caller ? "revocation" : "expiry"))) return null;
    const lease = await this.deps.store.lease(id);
    if (!lease) return null;
    // A failed revocation keeps the reason it started with (expired stays expired when it succeeds later).
    const why: RevokeReason = lease.state === "revoke_failed" && lease.revoke_reason ? lease.revoke_reason : reason;
    let error: VaultError | null = null;
    try {
      await this.atSource(lease);
    } catch (failure) {
      error = failure instanceof VaultError ? failure : new VaultError("backend_error", "The revocation failed", { details: { reason: "failed" } });
    }
    const recorded = await this.record(id, why, error, caller);
    return recorded ? { lease: recorded, error } : null;
  }

  private async atSource(lease: LeaseRow): Promise<void> {
    const engine = await this.deps.store.engineById(lease.engine_id);
    // SSH certificates end by their validity and the KRL; an engine gone took its target with it.
    if (!engine || engine.engine_type === "ssh") return;
    const config = configOf(engine);
    const statements = config.plugin === "redis" ? [] : renderAll(JSON.parse(lease.revocation) as string[], { name: lease.username }, config.plugin as Dialect);
    await this.deps.connector.with(engine, config, "use", ({ plugin, target }) => plugin.revoke(target, { username: lease.username, statements }));
  }

  private async record(id: string, reason: RevokeReason, error: VaultError | null, caller: Caller | null): Promise<LeaseRow | null> {
    const stored: VaultEvent[] = [];
    const now = Date.now();
    const result = await this.deps.db.transaction(async (tx) => {
      const emit = this.deps.events.emitter(tx, stored);
      const lease = await this.deps.store.lease(id, tx);
      // Our claim ran out and another node took the lease: its outcome is the one recorded.
      if (!lease || lease.claimed_by !== this.node || (lease.state !== "active" && lease.state !== "revoke_failed")) return null;
      const base = caller ? eventBase(caller) : { tenant_id: lease.tenant_id, partner_id: lease.partner_id, identity_id: EXPIRY_IDENTITY, path: null, request_id: newSortableId("req") };
      const attempts = lease.revoke_attempts + 1;
      let next: LeaseRow;
      if (error) {
        const delay = this.deps.retryScheduleMs[Math.min(attempts - 1, this.deps.retryScheduleMs.length - 1)];
        next = { ...lease, state: "revoke_failed", revoke_reason: reason, revoke_attempts: attempts, last_error: error.message.slice(0, 500), next_retry_at: now + delay, claimed_until: null, claimed_by: null };
        await emit({ ...base, event_type: "lease.revoke_failed", data: leaseEventData(next, reason, { attempt: attempts, error: next.last_error }) });
      } else {
        next = { ...lease, state: reason === "expired" ? "expired" : "revoked", revoke_reason: reason, revoke_attempts: attempts, revoked_at: now, last_error: null, next_retry_at: null, claimed_until: null, claimed_by: null };
        await emit({ ...base, event_type: reason === "expired" ? "lease.expired" : "lease.revoked", data: leaseEventData(next, reason) });
      }
      await this.deps.store.updateLease(tx, next);
      // An SSH certificate that ended enters its engine's KRL: nodes serving a KRL built before must build it again.
      if (!error && next.serial !== null) await this.deps.store.krlChanged(tx, next.engine_id);
      await this.audit(tx, next, error, caller, base.request_id);
      return next;
    });
    this.deps.events.published(stored);
    if (result && error) {
      this.deps.metrics.revocationFailed(result.engine_name);
      this.scheduled(result.next_retry_at as number);
    }
    return result;
  }

  private async audit(tx: Queryable, lease: LeaseRow, error: VaultError | null, caller: Caller | null, requestId: string): Promise<void> {
    const extraData = { engine: lease.engine_name, role: lease.role_name, lease_id: lease.id, username: lease.username, reason: lease.revoke_reason, attempt: lease.revoke_attempts, ...(error ? { error_code: error.code, error: lease.last_error } : {}) };
    if (!caller) {
      await this.deps.audit.recordSystem(tx, { partnerId: lease.partner_id, tenantId: lease.tenant_id, action: "dynamic_expire", identityId: EXPIRY_IDENTITY, secretPath: null, success: !error, requestId, extraData });
      return;
    }
    // A caller's single revoke commits its own entry here on success; failures (502) and bulk
    // revocations (prefix, engine delete) are recorded once for the request by the pipeline.
    if (!error && caller.ctx.audit.action === "dynamic_revoke") await this.deps.audit.recordInTransaction(tx, caller, 200);
  }
}
