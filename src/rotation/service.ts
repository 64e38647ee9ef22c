import type { Authorizer } from "../access/authorizer.js";
import { decodeURIComponentSafe } from "../shared/uri.js";
import { denial } from "../access/authorizer.js";
import { abandonmentOf } from "../http/abandonment.js";
import type { Caller } from "../http/context.js";
import { ERROR_STATUS, VaultError } from "../http/errors.js";
import { requireValidPath } from "../secrets/paths.js";
import { notFound, type SecretsService } from "../secrets/service.js";
import type { SecretStore } from "../secrets/store.js";
import { decodeCursor, encodeCursor } from "../shared/cursor.js";
import { requireDuration } from "../shared/duration.js";
import { newId } from "../shared/ids.js";
import { iso, isoOrNull } from "../shared/time.js";
import { nextTurn } from "../shared/turn.js";
import { PAGE_SCAN_LIMIT } from "../storage/bounded-page.js";
import type { Queryable } from "../storage/contract.js";
import { parseThresholds } from "./cycle.js";
import type { RotationEngine, RotationOutcome } from "./engine.js";
import type { PolicyRowStore, RotationPolicyRow } from "./policy-store.js";
import type { ScheduleRow, ScheduleStore } from "./schedule-store.js";
import type { DueQuery, HistoryQuery, PolicyListQuery, RotationPolicyCreate, RotationPolicyPatch } from "./schemas.js";
import { nameTaken } from "./secret-policies.js";
import { assignmentView, historyView, rotationPolicyView } from "./views.js";

export interface RotationServiceDeps {
  policies: PolicyRowStore;
  schedules: ScheduleStore;
  secretStore: SecretStore;
  secrets: SecretsService;
  engine: RotationEngine;
  authorizer: Authorizer;
}

/** `"7d,1d"` or `["7d", "1d"]` → the stored comma form, each part checked. */
function normalizeWarnBefore(value: string | string[] | null | undefined): string | null | undefined {
  if (value === undefined || value === null) return value;
  const text = Array.isArray(value) ? value.join(",") : value;
  if (text.trim() === "") return null;
  return parseThresholds("warn_before", text).map((t) => t.text).join(",");
}

/** Schedules one statement of the due list reads. */
const DUE_WINDOW = 200;

const notFoundPolicy = (id: string) => new VaultError("rotation_policy_not_found", `No rotation policy ${id} exists`, { details: { id } });

/** Rotation policies, their secrets, manual rotation, history and the due list. */
export class RotationService {
  constructor(private readonly deps: RotationServiceDeps) {}

  /** Counted after any transaction: a count inside one holds SQLite's writer (and its loop) for all of it. */
  private async view(row: RotationPolicyRow) {
    return rotationPolicyView(row, (await this.deps.policies.countSecrets([row.id])).get(row.id) ?? 0);
  }

  private async requireSecretPolicy(tx: Queryable, caller: Caller, id: string | null | undefined): Promise<void> {
    if (id && !(await this.deps.policies.getSecretPolicy(caller.tenant.tenantId, id, tx))) {
      throw new VaultError("secret_policy_not_found", `No secret policy ${id} exists`, { details: { secret_policy_id: id } });
    }
  }

  async create(caller: Caller, body: RotationPolicyCreate) {
    const intervalSeconds = requireDuration("interval", body.interval);
    const grace = body.grace_period ?? "48h";
    const graceSeconds = requireDuration("grace_period", grace);
    const warnBefore = normalizeWarnBefore(body.warn_before) ?? null;
    const now = Date.now();
    const row: RotationPolicyRow = {
      id: newId("rot"),
      tenant_id: caller.tenant.tenantId,
      partner_id: caller.tenant.partnerId,
      name: body.name,
      description: body.description ?? null,
      interval_text: body.interval,
      interval_seconds: intervalSeconds,
      grace_period: grace,
      grace_seconds: graceSeconds,
      warn_before: warnBefore,
      auto_generate: body.auto_generate ? 1 : 0,
      secret_policy_id: body.secret_policy_id ?? null,
      webhook_ids: JSON.stringify(body.webhook_ids ?? []),
      is_active: 1,
      created_at: now,
      updated_at: now,
    };
    caller.ctx.audit.extra = { rotation_policy_id: row.id, name: row.name };
    try {
      return await this.deps.secrets.mutate(caller, () => 201, async (tx) => {
        await this.requireSecretPolicy(tx, caller, row.secret_policy_id);
        await this.deps.policies.insertRotation(row, tx);
        return rotationPolicyView(row, 0);
      });
    } catch (error) {
      throw nameTaken(error, body.name);
    }
  }

  async require(caller: Caller, id: string, tx?: Queryable): Promise<RotationPolicyRow> {
    const row = await this.deps.policies.getRotation(caller.tenant.tenantId, id, tx);
    if (!row) throw notFoundPolicy(id);
    return row;
  }

  async get(caller: Caller, id: string) {
    return this.view(await this.require(caller, id));
  }

  async list(caller: Caller, query: PolicyListQuery) {
    const limit = query.limit ?? 100;
    const after = decodeCursor<{ n: string }>(query.cursor, { n: "string" });
    const rows = await this.deps.policies.pageRotation(caller.tenant.tenantId, after?.n ?? null, limit + 1, query.active_only === true);
    const page = rows.slice(0, limit);
    const hasMore = rows.length > limit;
    const counts = await this.deps.policies.countSecrets(page.map((row) => row.id));
    return { data: page.map((row) => rotationPolicyView(row, counts.get(row.id) ?? 0)), cursor: hasMore ? encodeCursor({ n: page[page.length - 1].name }) : null, has_more: hasMore };
  }

  /** A changed interval or warn_before reshapes the running cycles of the policy's secrets. */
  async patch(caller: Caller, id: string, body: RotationPolicyPatch & { is_active?: boolean }) {
    const intervalSeconds = body.interval !== undefined ? requireDuration("interval", body.interval) : undefined;
    const graceSeconds = body.grace_period !== undefined ? requireDuration("grace_period", body.grace_period) : undefined;
    const warnBefore = normalizeWarnBefore(body.warn_before);
    caller.ctx.audit.extra = { rotation_policy_id: id, changed: Object.keys(body) };
    try {
      const changed = await this.deps.secrets.mutate(caller, () => 200, async (tx) => {
        const existing = await this.require(caller, id, tx);
        if (body.secret_policy_id !== undefined) await this.requireSecretPolicy(tx, caller, body.secret_policy_id);
        const now = Date.now();
        const row: RotationPolicyRow = {
          ...existing,
          name: body.name ?? existing.name,
          description: body.description !== undefined ? body.description : existing.description,
          interval_text: body.interval ?? existing.interval_text,
          interval_seconds: intervalSeconds ?? existing.interval_seconds,
          grace_period: body.grace_period ?? existing.grace_period,
          grace_seconds: graceSeconds ?? existing.grace_seconds,
          warn_before: warnBefore !== undefined ? warnBefore : existing.warn_before,
          auto_generate: body.auto_generate === undefined ? existing.auto_generate : body.auto_generate ? 1 : 0,
          secret_policy_id: body.secret_policy_id !== undefined ? body.secret_policy_id : existing.secret_policy_id,
          webhook_ids: body.webhook_ids ? JSON.stringify(body.webhook_ids) : existing.webhook_ids,
          is_active: body.is_active === undefined ? existing.is_active : body.is_active ? 1 : 0,
          updated_at: now,
        };
        await this.deps.policies.updateRotation(row, tx);
        if (row.interval_seconds !== existing.interval_seconds || row.warn_before !== existing.warn_before) await this.deps.schedules.reshapeCycles(tx, row, now);
        return row;
      });
      return await this.view(changed);
    } catch (error) {
      throw nameTaken(error, body.name ?? "");
    }
  }

  async setActive(caller: Caller, id: string, active: boolean) {
    return this.patch(caller, id, { is_active: active });
  }

  /** Attached secrets are detached (their link cleared), not deleted. */
  async delete(caller: Caller, id: string) {
    caller.ctx.audit.extra = { rotation_policy_id: id };
    return this.deps.secrets.mutate(caller, () => 200, async (tx) => {
      await this.require(caller, id, tx);
      const now = Date.now();
      const detached = await this.deps.schedules.detachAll(tx, caller.tenant.tenantId, id, now);
      // Secrets that name the policy without a schedule yet (a metadata PATCH) lose the link too.
      await tx.run("UPDATE secrets SET rotation_policy_id = NULL WHERE tenant_id = ? AND rotation_policy_id = ?", [caller.tenant.tenantId, id]);
      await this.deps.policies.deleteRotation(tx, caller.tenant.tenantId, id);
      return { id, deleted: true, secrets_detached: detached };
    });
  }

  async assign(caller: Caller, id: string, rawPath: string) {
    const path = requireValidPath(rawPath);
    caller.ctx.audit.secretPath = path;
    caller.ctx.audit.extra = { rotation_policy_id: id };
    return this.deps.secrets.mutate(caller, () => 201, async (tx) => {
      const policy = await this.require(caller, id, tx);
      const now = Date.now();
      await this.deps.schedules.claimSecret(tx, caller.tenant.tenantId, path, true);
      const secret = await this.deps.secretStore.get(caller.tenant.tenantId, path, tx);
      if (!secret || secret.deleted_at !== null) throw notFound(path, secret, now);
      let schedule = await this.deps.schedules.getSchedule(secret.tenant_id, path, tx);
      if (!schedule || schedule.policy_id !== id || secret.rotation_policy_id !== id) {
        await this.deps.schedules.setSecretPolicyLink(tx, secret.tenant_id, path, id, now);
        schedule = (await this.deps.engine.relink(tx, secret, id, schedule, now)) ?? undefined;
      }
      return assignmentView(schedule!, policy.is_active === 1);
    });
  }

  async unassign(caller: Caller, id: string, rawPath: string) {
    const path = requireValidPath(decodeURIComponentSafe(rawPath));
    caller.ctx.audit.secretPath = path;
    caller.ctx.audit.extra = { rotation_policy_id: id };
    return this.deps.secrets.mutate(caller, () => 200, async (tx) => {
      await this.require(caller, id, tx);
      await this.deps.schedules.claimSecret(tx, caller.tenant.tenantId, path, true);
      const schedule = await this.deps.schedules.getSchedule(caller.tenant.tenantId, path, tx);
      if (!schedule || schedule.policy_id !== id) {
        throw new VaultError("secret_not_found", "The secret is not assigned to this rotation policy", { details: { path, rotation_policy_id: id } });
      }
      const now = Date.now();
      await this.deps.schedules.setSecretPolicyLink(tx, schedule.tenant_id, path, null, now);
      await this.deps.engine.relink(tx, schedule, null, schedule, now);
      return { policy_id: id, secret_path: path, detached: true };
    });
  }

  /** `POST /v1/secrets/{path}/rotate`: policy first, then existence, then the secret's policy. */
  async rotateSecret(caller: Caller, rawPath: string) {
    const path = requireValidPath(rawPath);
    caller.ctx.audit.secretPath = path;
    await this.deps.authorizer.require(caller, path, "rotate");
    const current = await this.deps.secretStore.get(caller.tenant.tenantId, path);
    const prepared = await this.deps.engine.prepare(caller.tenant.tenantId, [{ secret: current, policy: current?.rotation_policy_id ? await this.deps.policies.getRotation(caller.tenant.tenantId, current.rotation_policy_id) : undefined }], abandonmentOf(caller));
    const outcome = await this.deps.secrets.mutate(caller, (o: RotationOutcome & { policyId: string }) => (o.error ? ERROR_STATUS[o.error.code] : 202), async (tx, emit) => {
      const now = Date.now();
      await this.deps.schedules.claimSecret(tx, caller.tenant.tenantId, path, true);
      const secret = await this.deps.secretStore.get(caller.tenant.tenantId, path, tx);
      if (!secret || secret.deleted_at !== null) throw notFound(path, secret, now);
      const policy = secret.rotation_policy_id ? await this.deps.policies.getRotation(secret.tenant_id, secret.rotation_policy_id, tx) : undefined;
      if (!policy) throw new VaultError("no_rotation_policy", "The secret has no rotation policy: assign one first", { details: { path } });
      const result = await this.deps.engine.rotateLocked(tx, caller, emit, secret, policy, now, prepared);
      caller.ctx.audit.extra = { rotation_policy_id: policy.id, action: result.action, version: result.version, history_id: result.history.id };
      return { ...result, policyId: policy.id };
    });
    if (outcome.error) {
      // Recorded (history, rotation.failed, audit) and committed; the caller still learns it failed.
      throw new VaultError(outcome.error.code, `The rotation failed: ${outcome.error.reason}`, { details: { history_id: outcome.history.id } });
    }
    return { path, rotation_policy_id: outcome.policyId, action: outcome.action === "rotated" ? ("rotated" as const) : ("due" as const), version: outcome.version };
  }

  /** `POST /v1/rotation/policies/{id}/rotate`: every assigned secret, or the named ones. */
  async rotatePolicy(caller: Caller, id: string, paths: string[] | undefined) {
    const policy = await this.require(caller, id);
    const assigned = new Set((await this.deps.schedules.schedulesOf(caller.tenant.tenantId, id)).map((s) => s.path));
    const targets = paths ? [...new Set(paths.map(requireValidPath))] : [...assigned].sort();
    const allowed = await this.deps.authorizer.forCaller(caller);
    for (const path of targets) {
      const decision = allowed(path, "rotate");
      if (!decision.allowed) throw denial(decision, "rotate");
      if (!assigned.has(path)) throw new VaultError("secret_not_found", "The secret is not assigned to this rotation policy", { details: { path, rotation_policy_id: id } });
    }
    caller.ctx.audit.extra = { rotation_policy_id: id, paths: targets };
    const prepared = await this.deps.engine.prepare(caller.tenant.tenantId, await Promise.all(targets.map(async (path) => ({ secret: await this.deps.secretStore.get(caller.tenant.tenantId, path), policy }))), abandonmentOf(caller));
    return this.deps.secrets.mutate(caller, () => 200, async (tx, emit) => {
      const items = [];
      for (const path of targets) {
        const now = Date.now();
        await this.deps.schedules.claimSecret(tx, caller.tenant.tenantId, path, true);
        const secret = await this.deps.secretStore.get(caller.tenant.tenantId, path, tx);
        if (!secret || secret.deleted_at !== null) continue;
        items.push(historyView((await this.deps.engine.rotateLocked(tx, caller, emit, secret, policy, now, prepared)).history));
      }
      return items;
    });
  }

  async history(caller: Caller, id: string, query: HistoryQuery) {
    await this.require(caller, id);
    const limit = query.limit ?? 100;
    const after = decodeCursor<{ c: number; i: string }>(query.cursor, { c: "number", i: "string" });
    const page = await this.deps.schedules.history(caller.tenant.tenantId, id, query.status ?? null, after, limit);
    return { data: page.rows.map(historyView), cursor: page.next === null ? null : encodeCursor(page.next), has_more: page.next !== null };
  }

  /**
   * Secrets due within the window (and, unless excluded, overdue ones) that the caller may rotate.
   * The tenant's schedules are walked a window at a time with a turn between, and at most
   * PAGE_SCAN_LIMIT of them per request: a caller allowed to rotate few of many due secrets gets
   * short pages with a cursor, not one request that walks (and policy-checks) every schedule.
   */
  async due(caller: Caller, query: DueQuery) {
    const now = Date.now();
    const limit = query.limit ?? 100;
    const until = now + (query.within_hours ?? 24) * 3_600_000;
    let after = decodeCursor<{ d: number; p: string }>(query.cursor, { d: "number", p: "string" });
    const allowed = await this.deps.authorizer.forCaller(caller);
    const policies = new Map<string, RotationPolicyRow | undefined>();
    const policyOf = async (id: string) => {
      if (!policies.has(id)) policies.set(id, await this.deps.policies.getRotation(caller.tenant.tenantId, id));
      return policies.get(id);
    };
    const found: ScheduleRow[] = [];
    let looked = 0;
    let walked = false;
    while (found.length <= limit && looked < PAGE_SCAN_LIMIT) {
      if (looked > 0) await nextTurn();
      const rows = await this.deps.schedules.dueWindow(caller.tenant.tenantId, until, after, DUE_WINDOW);
      for (const row of rows) {
        looked += 1;
        after = { d: Number(row.due_at), p: row.path };
        if (query.include_overdue === false && row.state === "overdue") continue;
        if (query.policy_id && row.policy_id !== query.policy_id) continue;
        if (!allowed(row.path, "rotate").allowed || (await policyOf(row.policy_id))?.is_active !== 1) continue;
        found.push(row);
        if (found.length > limit) break;
      }
      if (rows.length < DUE_WINDOW) {
        walked = true;
        break;
      }
    }
    const page = found.slice(0, limit);
    const last = page[page.length - 1];
    // Past a full page: after its last row. Stopped by the bound: where the walk stopped.
    const next = found.length > limit ? { d: Number(last.due_at), p: last.path } : walked ? null : after;
    return {
      data: page.map((row) => ({
        secret_path: row.path,
        rotation_policy_id: row.policy_id,
        rotation_policy_name: policies.get(row.policy_id)?.name ?? "",
        state: row.state,
        due_at: iso(row.due_at),
        overdue: row.state === "overdue",
        last_rotated_at: isoOrNull(row.last_rotated_at),
      })),
      cursor: next ? encodeCursor(next) : null,
      has_more: next !== null,
    };
  }
}
