import type { AuditRecorder } from "../audit/recorder.js";
import type { ExpensiveWork } from "../crypto/expensive-work.js";
import type { Abandonment } from "../crypto/generation-gate.js";
import type { Keyring } from "../crypto/keyring.js";
import type { EventOutbox } from "../events/outbox.js";
import type { Caller } from "../http/context.js";
import { VaultError, isVaultError, type ErrorCode } from "../http/errors.js";
import type { Emit, SecretsService, SecretWriteHook, WrittenVersion } from "../secrets/service.js";
import type { SecretRow, SecretStore } from "../secrets/store.js";
import { newId, randomBase62 } from "../shared/ids.js";
import { iso, isoOrNull } from "../shared/time.js";
import { StorageError, type Database, type Queryable } from "../storage/contract.js";
import { eventBase, SCHEDULER_IDENTITY, systemCaller, withEvents } from "./actor.js";
import { newCycle, nextScheduledFire, storedThresholds, thresholdsPassed } from "./cycle.js";
import type { ExpiryMonitor } from "./expiry.js";
import type { PolicyRowStore, RotationPolicyRow } from "./policy-store.js";
import { PreparedValues, Recipes } from "./prepared-values.js";
import { DETACHED, type HistoryRow, type ScheduleRow, type ScheduleStore } from "./schedule-store.js";

export interface EngineDeps {
  db: Database;
  events: EventOutbox;
  audit: AuditRecorder;
  policies: PolicyRowStore;
  schedules: ScheduleStore;
  secretStore: SecretStore;
  secrets: SecretsService;
  keyring: Keyring;
  expiry: ExpiryMonitor;
  expensive: ExpensiveWork;
}

export interface RotationOutcome {
  action: "rotated" | "due" | "failed";
  history: HistoryRow;
  version: number;
  error?: { code: ErrorCode; reason: string };
}

/** How long a failed scheduled rotation waits before the next attempt (at most its interval). */
const RETRY_MAX_MS = 5 * 60_000;
/** A soft-deleted secret's due is looked at again this much later (it may be undeleted). */
const DELETED_RECHECK_MS = 60_000;

/** Why a rotation failed, in words safe for events and history (never a value). */
export function failureReason(error: unknown): { code: ErrorCode; reason: string } {
  if (isVaultError(error)) return { code: error.code, reason: error.message };
  if (error instanceof StorageError) return { code: "service_unavailable", reason: `storage failure (${error.kind})` };
  return { code: "internal_error", reason: "internal error" };
}

/**
 * The rotation lifecycle of one secret: warnings, due, auto-generated rotation, completion by the
 * automation's PUT, overdue and failure. Every transition runs under the secret's row lock with
 * its events (and, for rotations, its audit entry) in the same transaction.
 */
export class RotationEngine implements SecretWriteHook {
  /** Names this process in scheduler audit entries, so an operator can tell which node acted. */
  private readonly node = `node_${randomBase62(10)}`;

  private readonly recipes: Recipes;

  constructor(private readonly deps: EngineDeps) {
    this.recipes = new Recipes(deps.policies);
  }

  /** The `rotation` block of a secret object. */
  async blockFor(row: SecretRow) {
    if (!row.rotation_policy_id) return null;
    const [policy, schedule] = await Promise.all([
      this.deps.policies.getRotation(row.tenant_id, row.rotation_policy_id),
      this.deps.schedules.getSchedule(row.tenant_id, row.path),
    ]);
    const current = schedule && schedule.policy_id === row.rotation_policy_id ? schedule : undefined;
    return {
      policy_id: row.rotation_policy_id,
      state: policy?.is_active !== 1 ? "paused" : current?.state ?? "scheduled",
      last_rotated_at: isoOrNull(current?.last_rotated_at),
      next_rotation_at: current ? iso(current.due_at) : null,
    };
  }

  /**
   * A secret's changed links must name policies of its own tenant: `404 rotation_policy_not_found` /
   * `secret_policy_not_found`. Unchanged links are not re-checked, so a secret whose linked policy
   * was deleted meanwhile can still be written.
   */
  async checkLinks(tx: Queryable, secret: Pick<SecretRow, "tenant_id" | "rotation_policy_id" | "secret_policy_id">, previous: Pick<SecretRow, "rotation_policy_id" | "secret_policy_id"> | null): Promise<void> {
    if (secret.rotation_policy_id && secret.rotation_policy_id !== previous?.rotation_policy_id && !(await this.deps.policies.getRotation(secret.tenant_id, secret.rotation_policy_id, tx))) {
      throw new VaultError("rotation_policy_not_found", `No rotation policy ${secret.rotation_policy_id} exists`, { details: { rotation_policy_id: secret.rotation_policy_id } });
    }
    if (secret.secret_policy_id && secret.secret_policy_id !== previous?.secret_policy_id && !(await this.deps.policies.getSecretPolicy(secret.tenant_id, secret.secret_policy_id, tx))) {
      throw new VaultError("secret_policy_not_found", `No secret policy ${secret.secret_policy_id} exists`, { details: { secret_policy_id: secret.secret_policy_id } });
    }
  }

  /**
   * PATCH …/metadata: the links checked as on a write, the expiry watch moved with a new
   * `expires_in` or `notify_before`, and the schedule moved when the rotation policy changed — in
   * the PATCH's transaction, as a write does, not at the scheduler's next reconciliation.
   */
  async afterMetadataPatch(tx: Queryable, secret: SecretRow, previous: SecretRow): Promise<void> {
    await this.checkLinks(tx, secret, previous);
    if (secret.expires_at !== previous.expires_at || secret.notify_before !== previous.notify_before) await this.deps.expiry.sync(tx, secret, Date.now());
    if (secret.rotation_policy_id === previous.rotation_policy_id) return;
    const schedule = await this.deps.schedules.getSchedule(secret.tenant_id, secret.path, tx);
    await this.relink(tx, secret, secret.rotation_policy_id, schedule, Date.now());
  }

  /** The expiry watch and schedule `afterWrite` reads, sent with the secret's row lock. */
  beforeLock(tx: Queryable, tenantId: string, path: string): void {
    this.deps.schedules.readAheadWatchAndSchedule(tx, tenantId, path);
  }

  /** Every secret write: keeps the schedule and expiry watch in step, and completes a due rotation. */
  async afterWrite(tx: Queryable, written: WrittenVersion, emit: Emit): Promise<{ isRotation?: boolean } | void> {
    const { caller, secret, oldVersion, newVersion } = written;
    const now = Date.now();
    // The rotation link is checked by relink below when it changes; the secret policy link here.
    await this.checkLinks(tx, { ...secret, rotation_policy_id: null }, { rotation_policy_id: null, secret_policy_id: written.previousSecretPolicyId ?? null });
    const { watch, schedule } = await this.deps.schedules.watchAndSchedule(tx, secret.tenant_id, secret.path);
    await this.deps.expiry.sync(tx, secret, now, { watch });
    // A new policy link, or a path created afresh over a purged secret's leftover schedule.
    if (secret.rotation_policy_id !== (schedule?.policy_id ?? null) || (oldVersion === null && schedule)) {
      await this.relink(tx, secret, secret.rotation_policy_id, schedule, now);
      return;
    }
    if (!schedule || oldVersion === null || schedule.state === "scheduled") return;
    const policy = await this.deps.policies.getRotation(secret.tenant_id, schedule.policy_id, tx);
    if (!policy) return;
    await this.complete(tx, caller, emit, { secret, oldVersion, newVersion, policy, schedule, autoGenerated: false, trigger: "manual", now });
    return { isRotation: true };
  }

  /** Points a secret's schedule at `policyId` (null: no rotation); a pending cycle ends as failed. */
  async relink(tx: Queryable, secret: { tenant_id: string; path: string; partner_id: string }, policyId: string | null, schedule: ScheduleRow | undefined, now: number): Promise<ScheduleRow | null> {
    let policy: RotationPolicyRow | undefined;
    if (policyId) {
      policy = await this.deps.policies.getRotation(secret.tenant_id, policyId, tx);
      if (!policy) throw new VaultError("rotation_policy_not_found", `No rotation policy ${policyId} exists`, { details: { rotation_policy_id: policyId } });
    }
    if (schedule) {
      if (schedule.pending_history_id) await this.deps.schedules.completeHistory(tx, schedule.pending_history_id, "failed", { new_version: null, reason: DETACHED, completed_at: now });
      await this.deps.schedules.deleteSchedule(tx, secret.tenant_id, secret.path);
    }
    if (!policy) return null;
    const cycle = newCycle(secret, policy, now, null, now);
    await this.deps.schedules.putSchedule(tx, cycle);
    return cycle;
  }

  /** A rotation is complete: grace for the replaced version, history, events, and a new cycle. */
  private async complete(
    tx: Queryable,
    caller: Caller,
    emit: Emit,
    c: { secret: SecretRow; oldVersion: number; newVersion: number; policy: RotationPolicyRow; schedule: ScheduleRow; autoGenerated: boolean; trigger: "schedule" | "manual"; now: number },
  ): Promise<HistoryRow> {
    const { secret, policy, now } = c;
    const graceEnds = now + policy.grace_seconds * 1000;
    await this.deps.schedules.setGrace(tx, secret.tenant_id, secret.path, c.oldVersion, graceEnds);
    const done = { new_version: c.newVersion, reason: null, completed_at: now };
    const history =
      (c.schedule.pending_history_id && (await this.deps.schedules.completeHistory(tx, c.schedule.pending_history_id, "success", done))) ||
      (await this.newHistory(tx, secret, policy, { status: "success", trigger: c.trigger, autoGenerated: c.autoGenerated, dueAt: c.schedule.due_at, now, oldVersion: c.oldVersion, ...done }));
    const common = { rotation_policy_id: policy.id, rotation_policy_name: policy.name, old_version: c.oldVersion, new_version: c.newVersion, auto_generated: c.autoGenerated };
    await emit({
      ...eventBase(caller, secret.path),
      event_type: "secret.rotated",
      data: { version: c.newVersion, secret_type: secret.secret_type, ...common, grace_period_ends: iso(graceEnds) },
    });
    await emit({ ...eventBase(caller, secret.path), event_type: "rotation.completed", data: { ...common, history_id: history.id, grace_period_ends: iso(graceEnds) } });
    await this.deps.schedules.putSchedule(tx, newCycle(secret, policy, now, now, now));
    return history;
  }

  private async newHistory(
    tx: Queryable,
    secret: SecretRow,
    policy: RotationPolicyRow,
    h: { status: HistoryRow["status"]; trigger: "schedule" | "manual"; autoGenerated: boolean; dueAt: number | null; now: number; oldVersion?: number; new_version: number | null; reason: string | null; completed_at: number | null },
  ): Promise<HistoryRow> {
    const row: HistoryRow = {
      id: newId("hist"),
      tenant_id: secret.tenant_id,
      policy_id: policy.id,
      path: secret.path,
      status: h.status,
      trigger_kind: h.trigger,
      old_version: h.oldVersion ?? secret.current_version,
      new_version: h.new_version,
      auto_generated: h.autoGenerated ? 1 : 0,
      reason: h.reason,
      due_at: h.dueAt,
      created_at: h.now,
      completed_at: h.completed_at,
    };
    await this.deps.schedules.insertHistory(tx, row);
    return row;
  }

  /**
   * Generates, before their transaction, the values of the auto-generated rotations `targets` may
   * make (read without locks; the transaction reads again and uses them only for the same recipe).
   */
  prepare(tenantId: string, targets: ReadonlyArray<{ secret: SecretRow | undefined; policy: RotationPolicyRow | undefined }>, abandoned?: Abandonment): Promise<PreparedValues> {
    return this.recipes.prepare(this.deps.expensive.forTenant(tenantId, abandoned), targets);
  }

  /** The values of an auto-generated rotation: the recipe's fields over the current data. */
  private async generatedData(tx: Queryable, secret: SecretRow, policy: RotationPolicyRow, now: number, prepared: PreparedValues): Promise<Record<string, unknown>> {
    const recipe = await this.recipes.recipeOf(secret, policy, tx);
    const values = await prepared.take(recipe, now);
    if (!values) throw new VaultError("version_conflict", "The secret policy changed while this rotation was being prepared; retry", { details: { secret_policy_id: secret.secret_policy_id ?? policy.secret_policy_id } });
    return { ...(await this.currentData(tx, secret)), ...values };
  }

  private async currentData(tx: Queryable, secret: SecretRow): Promise<Record<string, unknown>> {
    const found = await this.deps.secretStore.getWithVersion(secret.tenant_id, secret.path, null, tx);
    const v = found?.version;
    if (!v || !v.ciphertext || !v.wrapped_key || !v.key_id) return {};
    const plain = await this.deps.keyring.decryptSecret(
      { tenantId: secret.tenant_id, path: secret.path, version: v.version },
      { ciphertext: Buffer.from(v.ciphertext), wrappedDataKey: Buffer.from(v.wrapped_key), tenantKeyId: v.key_id },
      tx,
    );
    return JSON.parse(plain.toString("utf8")) as Record<string, unknown>;
  }

  /** Writes the generated version; a recipe problem becomes a failed rotation in this transaction. */
  private async autoRotate(tx: Queryable, caller: Caller, emit: Emit, secret: SecretRow, policy: RotationPolicyRow, schedule: ScheduleRow, trigger: "schedule" | "manual", now: number, prepared: PreparedValues): Promise<RotationOutcome> {
    let data: Record<string, unknown>;
    try {
      data = await this.generatedData(tx, secret, policy, now, prepared);
    } catch (error) {
      if (!isVaultError(error)) throw error;
      return this.fail(tx, caller, emit, secret, policy, schedule, trigger, failureReason(error), now);
    }
    const row = await this.deps.secrets.appendVersion(tx, caller, secret, data, emit, true);
    await this.deps.expiry.sync(tx, row, now);
    const history = await this.complete(tx, caller, emit, { secret: row, oldVersion: secret.current_version, newVersion: row.current_version, policy, schedule, autoGenerated: true, trigger, now });
    return { action: "rotated", history, version: row.current_version };
  }

  /** `rotation.failed` and a failed history item; a scheduled attempt is retried later. */
  async fail(tx: Queryable, caller: Caller, emit: Emit, secret: SecretRow, policy: RotationPolicyRow, schedule: ScheduleRow, trigger: "schedule" | "manual", why: { code: ErrorCode; reason: string }, now: number): Promise<RotationOutcome> {
    const history = await this.newHistory(tx, secret, policy, { status: "failed", trigger, autoGenerated: policy.auto_generate === 1, dueAt: schedule.due_at, now, new_version: null, reason: why.reason, completed_at: now });
    await emit({
      ...eventBase(caller, secret.path),
      event_type: "rotation.failed",
      data: { rotation_policy_id: policy.id, rotation_policy_name: policy.name, version: secret.current_version, error_code: why.code, reason: why.reason, history_id: history.id },
    });
    if (trigger === "schedule") {
      await this.deps.schedules.putSchedule(tx, { ...schedule, next_fire_at: now + Math.min(RETRY_MAX_MS, policy.interval_seconds * 1000), updated_at: now });
    }
    return { action: "failed", history, version: secret.current_version, error: why };
  }

  /** Event-driven due: `rotation.due` with `due_now`, a pending history item, overdue after the grace. */
  private async markDue(tx: Queryable, caller: Caller, emit: Emit, secret: SecretRow, policy: RotationPolicyRow, schedule: ScheduleRow, trigger: "schedule" | "manual", now: number): Promise<RotationOutcome> {
    const history =
      (schedule.pending_history_id && (await this.deps.schedules.getHistory(tx, schedule.pending_history_id))) ||
      (await this.newHistory(tx, secret, policy, { status: "pending", trigger, autoGenerated: false, dueAt: schedule.due_at, now, new_version: null, reason: null, completed_at: null }));
    await emit({
      ...eventBase(caller, secret.path),
      event_type: "rotation.due",
      data: { rotation_policy_id: policy.id, rotation_policy_name: policy.name, due_at: iso(schedule.due_at), due_now: true, threshold: null, version: secret.current_version, history_id: history.id },
    });
    await this.deps.schedules.putSchedule(tx, { ...schedule, state: "due", pending_history_id: history.id, next_fire_at: now + policy.grace_seconds * 1000, updated_at: now });
    return { action: "due", history, version: secret.current_version };
  }

  /** Rotates one secret now (per-secret and policy-level `rotate`), the secret row already locked. */
  async rotateLocked(tx: Queryable, caller: Caller, emit: Emit, secret: SecretRow, policy: RotationPolicyRow, now: number, prepared: PreparedValues): Promise<RotationOutcome> {
    let schedule = await this.deps.schedules.getSchedule(secret.tenant_id, secret.path, tx);
    if (!schedule || schedule.policy_id !== policy.id) schedule = (await this.relink(tx, secret, policy.id, schedule, now)) as ScheduleRow;
    const dueNow = { ...schedule, due_at: schedule.state === "scheduled" ? now : schedule.due_at };
    return policy.auto_generate === 1 ? this.autoRotate(tx, caller, emit, secret, policy, dueNow, "manual", now, prepared) : this.markDue(tx, caller, emit, secret, policy, dueNow, "manual", now);
  }

  /**
   * The scheduler's action on one secret whose moment has come. Returns false when another node
   * (or request) holds the secret: it is looked at again on the next pass.
   */
  async fire(tenantId: string, partnerId: string, path: string): Promise<void> {
    const caller = systemCaller(SCHEDULER_IDENTITY, tenantId, partnerId);
    try {
      const prepared = await this.prepareScheduled(tenantId, path);
      await withEvents(this.deps.db, this.deps.events, (tx, emit) => this.fireLocked(tx, caller, emit, path, prepared));
    } catch (error) {
      // The attempt rolled back; its failure is recorded on its own so the cycle moves on.
      const why = failureReason(error);
      await withEvents(this.deps.db, this.deps.events, async (tx, emit) => {
        if (!(await this.deps.schedules.claimSecret(tx, tenantId, path, true))) return;
        const now = Date.now();
        const schedule = await this.deps.schedules.getSchedule(tenantId, path, tx);
        const secret = await this.deps.secretStore.get(tenantId, path, tx);
        if (!schedule || !secret || schedule.next_fire_at === null || schedule.next_fire_at > now) return;
        const policy = await this.deps.policies.getRotation(tenantId, schedule.policy_id, tx);
        if (!policy) return;
        await this.fail(tx, caller, emit, secret, policy, schedule, "schedule", why, now);
        await this.auditRotation(tx, caller, path, false, { rotation_policy_id: policy.id, error_code: why.code });
      });
    }
  }

  /** The values a scheduled rotation of `path` due now would need (none when it is not due or not auto-generated). */
  private async prepareScheduled(tenantId: string, path: string): Promise<PreparedValues> {
    const schedule = await this.deps.schedules.getSchedule(tenantId, path);
    if (!schedule || schedule.state !== "scheduled" || schedule.due_at > Date.now()) return this.prepare(tenantId, []);
    const [secret, policy] = await Promise.all([this.deps.secretStore.get(tenantId, path), this.deps.policies.getRotation(tenantId, schedule.policy_id)]);
    return this.prepare(tenantId, [{ secret, policy }]);
  }

  private async fireLocked(tx: Queryable, caller: Caller, emit: Emit, path: string, prepared: PreparedValues): Promise<void> {
    const { tenantId } = caller.tenant;
    if (!(await this.deps.schedules.claimSecret(tx, tenantId, path, false))) {
      // Locked elsewhere, or the secret is gone for good: then its schedule goes too.
      if (!(await this.deps.secretStore.get(tenantId, path, tx))) await this.deps.schedules.deleteSchedule(tx, tenantId, path);
      return;
    }
    const now = Date.now();
    const schedule = await this.deps.schedules.getSchedule(tenantId, path, tx);
    if (!schedule || schedule.next_fire_at === null || schedule.next_fire_at > now) return;
    const policy = await this.deps.policies.getRotation(tenantId, schedule.policy_id, tx);
    const secret = await this.deps.secretStore.get(tenantId, path, tx);
    if (!policy || policy.is_active !== 1 || !secret) return;
    if (secret.deleted_at !== null) {
      await this.deps.schedules.putSchedule(tx, { ...schedule, next_fire_at: now + DELETED_RECHECK_MS, updated_at: now });
      return;
    }
    if (schedule.state === "due") {
      await emit({
        ...eventBase(caller, path),
        event_type: "rotation.overdue",
        data: { rotation_policy_id: policy.id, rotation_policy_name: policy.name, due_at: iso(schedule.due_at), grace_period: policy.grace_period, version: secret.current_version, history_id: schedule.pending_history_id },
      });
      await this.deps.schedules.putSchedule(tx, { ...schedule, state: "overdue", next_fire_at: null, updated_at: now });
      return;
    }
    if (schedule.state === "overdue") {
      await this.deps.schedules.putSchedule(tx, { ...schedule, next_fire_at: null, updated_at: now });
      return;
    }
    if (schedule.due_at <= now) {
      if (policy.auto_generate !== 1) {
        await this.markDue(tx, caller, emit, secret, policy, schedule, "schedule", now);
        return;
      }
      const outcome = await this.autoRotate(tx, caller, emit, secret, policy, schedule, "schedule", now, prepared);
      await this.auditRotation(tx, caller, path, outcome.action === "rotated", { rotation_policy_id: policy.id, version: outcome.version, history_id: outcome.history.id });
      return;
    }
    // Warnings: after downtime only the nearest passed threshold is announced.
    const thresholds = storedThresholds(policy.warn_before);
    const warned = Math.max(schedule.warned, thresholdsPassed(thresholds, schedule.due_at, now));
    if (warned > schedule.warned) {
      await emit({
        ...eventBase(caller, path),
        event_type: "rotation.due",
        data: { rotation_policy_id: policy.id, rotation_policy_name: policy.name, due_at: iso(schedule.due_at), due_now: false, threshold: thresholds[warned - 1].text, version: secret.current_version },
      });
    }
    await this.deps.schedules.putSchedule(tx, { ...schedule, warned, next_fire_at: nextScheduledFire(thresholds, schedule.due_at, warned), updated_at: now });
  }

  /** Reconciliation: a secret whose link was changed without a write (metadata PATCH, purge). */
  async resync(tenantId: string, path: string): Promise<void> {
    await withEvents(this.deps.db, this.deps.events, async (tx) => {
      await this.deps.schedules.claimSecret(tx, tenantId, path, true);
      const secret = await this.deps.secretStore.get(tenantId, path, tx);
      const schedule = await this.deps.schedules.getSchedule(tenantId, path, tx);
      const now = Date.now();
      if (!secret) {
        if (schedule) await this.relink(tx, schedule, null, schedule, now);
        return;
      }
      if (secret.rotation_policy_id === (schedule?.policy_id ?? null)) return;
      const policy = secret.rotation_policy_id ? await this.deps.policies.getRotation(tenantId, secret.rotation_policy_id, tx) : undefined;
      // A link to a policy that does not exist cannot be scheduled; it shows as paused.
      await this.relink(tx, secret, policy ? policy.id : null, schedule, now);
    });
  }

  private async auditRotation(tx: Queryable, caller: Caller, path: string, success: boolean, extra: Record<string, unknown>): Promise<void> {
    await this.deps.audit.recordSystem(tx, {
      partnerId: caller.tenant.partnerId,
      tenantId: caller.tenant.tenantId,
      action: "rotate",
      identityId: caller.principal.identityId,
      secretPath: path,
      success,
      requestId: caller.requestId,
      extraData: { ...extra, node: this.node },
    });
  }
}
