import { pruneById, type PruneStep } from "../ops/retention.js";
import { boundedPage, type Condition } from "../storage/bounded-page.js";
import type { Database, Queryable, SqlParam } from "../storage/contract.js";

export interface EngineRow {
  id: string;
  tenant_id: string;
  partner_id: string;
  name: string;
  engine_type: "database" | "ssh";
  plugin: string;
  /** JSON: the engine's config as given (connection_url as the template, never filled in). */
  config: string;
  default_ttl: string;
  max_ttl: string;
  description: string | null;
  status: "healthy" | "unhealthy";
  ca_public_key: string | null;
  ca_key_sealed: Buffer | null;
  ca_key_wrapped: Buffer | null;
  ca_key_id: string | null;
  next_root_rotation_at: number | null;
  last_root_rotation_at: number | null;
  created_at: number;
  updated_at: number;
}

export interface RoleRow {
  engine_id: string;
  name: string;
  tenant_id: string;
  /** JSON: statements (SQL plugins), rules (redis) or SSH settings. */
  body: string;
  default_ttl: string;
  max_ttl: string;
  description: string | null;
  created_at: number;
  updated_at: number;
}

export type LeaseState = "active" | "revoked" | "expired" | "revoke_failed";
export type RevokeReason = "revoked" | "expired" | "prefix" | "engine_deleted";

export interface LeaseRow {
  id: string;
  tenant_id: string;
  partner_id: string;
  engine_id: string;
  engine_name: string;
  role_name: string;
  identity_id: string;
  username: string;
  /** JSON string[]: the revocation statements as the role had them when the lease was made. */
  revocation: string;
  renew: string;
  serial: string | null;
  state: LeaseState;
  created_at: number;
  expires_at: number;
  max_expires_at: number;
  last_renewed_at: number | null;
  revoked_at: number | null;
  /** Why it ends (set when revocation starts, kept through revoke_failed). */
  revoke_reason: RevokeReason | null;
  revoke_attempts: number;
  last_error: string | null;
  next_retry_at: number | null;
  claimed_until: number | null;
  claimed_by: string | null;
}

const ENGINE_COLUMNS = ["id", "tenant_id", "partner_id", "name", "engine_type", "plugin", "config", "default_ttl", "max_ttl", "description", "status", "ca_public_key", "ca_key_sealed", "ca_key_wrapped", "ca_key_id", "next_root_rotation_at", "last_root_rotation_at", "created_at", "updated_at"] as const;
const ROLE_COLUMNS = ["engine_id", "name", "tenant_id", "body", "default_ttl", "max_ttl", "description", "created_at", "updated_at"] as const;
const LEASE_COLUMNS = ["id", "tenant_id", "partner_id", "engine_id", "engine_name", "role_name", "identity_id", "username", "revocation", "renew", "serial", "state", "created_at", "expires_at", "max_expires_at", "last_renewed_at", "revoked_at", "revoke_reason", "revoke_attempts", "last_error", "next_retry_at", "claimed_until", "claimed_by"] as const;

const marks = (n: number) => Array.from({ length: n }, () => "?").join(", ");
const values = (row: object, columns: readonly string[]) => columns.map((c) => (row as Record<string, SqlParam>)[c] ?? null);
const numeric = <T extends object>(row: T | undefined, keys: readonly string[]): T | undefined => {
  if (!row) return row;
  // PostgreSQL returns BIGINT as strings.
  for (const key of keys) {
    const v = (row as Record<string, unknown>)[key];
    if (typeof v === "string") (row as Record<string, unknown>)[key] = Number(v);
  }
  return row;
};
const ENGINE_NUMS = ["next_root_rotation_at", "last_root_rotation_at", "created_at", "updated_at"];
const ROLE_NUMS = ["created_at", "updated_at"];
const LEASE_NUMS = ["created_at", "expires_at", "max_expires_at", "last_renewed_at", "revoked_at", "revoke_attempts", "next_retry_at", "claimed_until"];

export interface LeaseFilter {
  engine?: string;
  role?: string;
  state?: LeaseState;
  identityId?: string;
}

/** Engines, roles and leases of the dynamic domain, in the shared database. */
export class DynamicStore {
  constructor(private readonly db: Database) {}

  // --- engines ---
  async engineByName(tenantId: string, name: string, tx?: Queryable): Promise<EngineRow | undefined> {
    return numeric(await (tx ?? this.db).get<EngineRow>(`SELECT ${ENGINE_COLUMNS.join(", ")} FROM dynamic_engines WHERE tenant_id = ? AND name = ?`, [tenantId, name]), ENGINE_NUMS);
  }
  async engineById(id: string, tx?: Queryable): Promise<EngineRow | undefined> {
    return numeric(await (tx ?? this.db).get<EngineRow>(`SELECT ${ENGINE_COLUMNS.join(", ")} FROM dynamic_engines WHERE id = ?`, [id]), ENGINE_NUMS);
  }
  /**
   * An engine with the count of leases that entered its KRL. `krl_version` is not in EngineRow: an
   * engine update writes its whole row back, and must never set the count back to what it read.
   */
  async engineWithKrlVersion(id: string): Promise<(EngineRow & { krl_version: number }) | undefined> {
    return numeric(await this.db.get<EngineRow & { krl_version: number }>(`SELECT ${ENGINE_COLUMNS.join(", ")}, krl_version FROM dynamic_engines WHERE id = ?`, [id]), [...ENGINE_NUMS, "krl_version"]);
  }
  /** In the transaction that ends an SSH lease: every node's KRL of the engine is out of date with it. */
  async krlChanged(tx: Queryable, engineId: string): Promise<void> {
    await tx.run("UPDATE dynamic_engines SET krl_version = krl_version + 1 WHERE id = ?", [engineId]);
  }
  /** Serials of the engine's ended leases whose certificates may still be valid, along dynamic_leases_krl. */
  async krlSerials(engineId: string, now: number): Promise<string[]> {
    const rows = await this.db.all<{ serial: string }>(
      "SELECT serial FROM dynamic_leases WHERE engine_id = ? AND serial IS NOT NULL AND state IN ('revoked', 'expired') AND max_expires_at > ?",
      [engineId, now],
    );
    return rows.map((row) => row.serial);
  }
  async engines(tenantId: string): Promise<EngineRow[]> {
    const rows = await this.db.all<EngineRow>(`SELECT ${ENGINE_COLUMNS.join(", ")} FROM dynamic_engines WHERE tenant_id = ? ORDER BY name`, [tenantId]);
    return rows.map((r) => numeric(r, ENGINE_NUMS) as EngineRow);
  }
  async insertEngine(tx: Queryable, row: EngineRow): Promise<void> {
    await tx.run(`INSERT INTO dynamic_engines (${ENGINE_COLUMNS.join(", ")}) VALUES (${marks(ENGINE_COLUMNS.length)})`, values(row, ENGINE_COLUMNS));
  }
  async updateEngine(tx: Queryable, row: EngineRow): Promise<void> {
    const cols = ENGINE_COLUMNS.filter((c) => c !== "id");
    await tx.run(`UPDATE dynamic_engines SET ${cols.map((c) => `${c} = ?`).join(", ")} WHERE id = ?`, [...values(row, cols), row.id]);
  }
  async setEngineStatus(id: string, status: EngineRow["status"]): Promise<void> {
    await this.db.run("UPDATE dynamic_engines SET status = ? WHERE id = ?", [status, id]);
  }
  async deleteEngine(tx: Queryable, id: string): Promise<void> {
    await tx.run("DELETE FROM dynamic_roles WHERE engine_id = ?", [id]);
    await tx.run("DELETE FROM dynamic_engines WHERE id = ?", [id]);
  }
  /** Engines whose scheduled root rotation has come (any tenant). */
  async rootRotationsDue(now: number, limit: number): Promise<EngineRow[]> {
    const rows = await this.db.all<EngineRow>(`SELECT ${ENGINE_COLUMNS.join(", ")} FROM dynamic_engines WHERE next_root_rotation_at IS NOT NULL AND next_root_rotation_at <= ? ORDER BY next_root_rotation_at LIMIT ?`, [now, limit]);
    return rows.map((r) => numeric(r, ENGINE_NUMS) as EngineRow);
  }
  /** Claims a scheduled rotation: moves its moment on, so only the node whose update changed the row rotates. */
  async claimRootRotation(id: string, dueAt: number, nextAt: number): Promise<boolean> {
    return (await this.db.run("UPDATE dynamic_engines SET next_root_rotation_at = ? WHERE id = ? AND next_root_rotation_at = ?", [nextAt, id, dueAt])).changes === 1;
  }

  // --- roles ---
  async role(engineId: string, name: string, tx?: Queryable): Promise<RoleRow | undefined> {
    return numeric(await (tx ?? this.db).get<RoleRow>(`SELECT ${ROLE_COLUMNS.join(", ")} FROM dynamic_roles WHERE engine_id = ? AND name = ?`, [engineId, name]), ROLE_NUMS);
  }
  async roles(engineId: string): Promise<RoleRow[]> {
    const rows = await this.db.all<RoleRow>(`SELECT ${ROLE_COLUMNS.join(", ")} FROM dynamic_roles WHERE engine_id = ? ORDER BY name`, [engineId]);
    return rows.map((r) => numeric(r, ROLE_NUMS) as RoleRow);
  }
  async insertRole(tx: Queryable, row: RoleRow): Promise<void> {
    await tx.run(`INSERT INTO dynamic_roles (${ROLE_COLUMNS.join(", ")}) VALUES (${marks(ROLE_COLUMNS.length)})`, values(row, ROLE_COLUMNS));
  }
  async updateRole(tx: Queryable, row: RoleRow): Promise<void> {
    await tx.run("UPDATE dynamic_roles SET body = ?, default_ttl = ?, max_ttl = ?, description = ?, updated_at = ? WHERE engine_id = ? AND name = ?", [row.body, row.default_ttl, row.max_ttl, row.description, row.updated_at, row.engine_id, row.name]);
  }
  async deleteRole(tx: Queryable, engineId: string, name: string): Promise<number> {
    return (await tx.run("DELETE FROM dynamic_roles WHERE engine_id = ? AND name = ?", [engineId, name])).changes;
  }

  // --- leases ---
  async lease(id: string, tx?: Queryable): Promise<LeaseRow | undefined> {
    return numeric(await (tx ?? this.db).get<LeaseRow>(`SELECT ${LEASE_COLUMNS.join(", ")} FROM dynamic_leases WHERE id = ?`, [id]), LEASE_NUMS);
  }
  async insertLease(tx: Queryable, row: LeaseRow): Promise<void> {
    await tx.run(`INSERT INTO dynamic_leases (${LEASE_COLUMNS.join(", ")}) VALUES (${marks(LEASE_COLUMNS.length)})`, values(row, LEASE_COLUMNS));
  }
  async updateLease(tx: Queryable, row: LeaseRow): Promise<void> {
    const cols = LEASE_COLUMNS.filter((c) => c !== "id");
    await tx.run(`UPDATE dynamic_leases SET ${cols.map((c) => `${c} = ?`).join(", ")} WHERE id = ?`, [...values(row, cols), row.id]);
  }
  /**
   * Renews in one conditional UPDATE: only a lease still active, not yet ended and not claimed for
   * revocation is extended. A whole-row write here could erase a claim another node committed after
   * the renewal read the row (PostgreSQL re-checks only the WHERE clause of a blocked UPDATE).
   */
  async extendLease(tx: Queryable, id: string, expiresAt: number, renewedAt: number, now: number): Promise<boolean> {
    const result = await tx.run(
      "UPDATE dynamic_leases SET expires_at = ?, last_renewed_at = ? WHERE id = ? AND state = 'active' AND expires_at > ? AND (claimed_until IS NULL OR claimed_until < ?)",
      [expiresAt, renewedAt, id, now, now],
    );
    return result.changes === 1;
  }
  /**
   * One page of a tenant's leases (or one identity's, or one state's), newest first, along the index
   * of that scope; the other filters are checked on a bounded walk of it (storage/bounded-page.ts): a filter
   * that matches few (the active leases among a long history) gets short pages.
   */
  async leases(tenantId: string, filter: LeaseFilter, after: { c: number; i: string } | null, limit: number): Promise<{ rows: LeaseRow[]; next: { c: number; i: string } | null }> {
    const tenant: Condition = { sql: "tenant_id = ?", params: [tenantId] };
    const state: Condition | null = filter.state ? { sql: "state = ?", params: [filter.state] } : null;
    const [index, scope]: [string, Condition[]] = filter.identityId
      ? ["dynamic_leases_identity", [tenant, { sql: "identity_id = ?", params: [filter.identityId] }]]
      : state ? ["dynamic_leases_state", [tenant, state]] : ["dynamic_leases_list", [tenant]];
    const filters: Condition[] = [];
    if (filter.engine) filters.push({ sql: "engine_name = ?", params: [filter.engine] });
    if (filter.role) filters.push({ sql: "role_name = ?", params: [filter.role] });
    if (state && filter.identityId) filters.push(state);
    const page = await boundedPage<LeaseRow>(this.db, {
      table: "dynamic_leases", index, columns: LEASE_COLUMNS.join(", "), scope, filters, order: ["created_at", "id"], descending: true, after: after ? [after.c, after.i] : null, limit,
    });
    return { rows: page.rows.map((r) => numeric(r, LEASE_NUMS) as LeaseRow), next: page.next === null ? null : { c: Number(page.next[0]), i: String(page.next[1]) } };
  }
  /** Leases still alive at the source (active, or waiting for a retried revocation) of an engine or role. */
  async liveLeaseIds(engineId: string, role: string | null): Promise<string[]> {
    const rows = await this.db.all<{ id: string }>(
      `SELECT id FROM dynamic_leases WHERE engine_id = ? AND state IN ('active', 'revoke_failed')${role ? " AND role_name = ?" : ""} ORDER BY created_at`,
      role ? [engineId, role] : [engineId],
    );
    return rows.map((r) => r.id);
  }
  async activeOf(tenantId: string, identityId: string): Promise<number> {
    const row = await this.db.get<{ n: number | string }>("SELECT COUNT(*) AS n FROM dynamic_leases WHERE tenant_id = ? AND identity_id = ? AND state = 'active'", [tenantId, identityId]);
    return Number(row?.n ?? 0);
  }
  async countActive(engineId: string): Promise<number> {
    const row = await this.db.get<{ n: number | string }>("SELECT COUNT(*) AS n FROM dynamic_leases WHERE engine_id = ? AND state = 'active'", [engineId]);
    return Number(row?.n ?? 0);
  }
  async activeByEngine(): Promise<{ engine_name: string; n: number }[]> {
    const rows = await this.db.all<{ engine_name: string; n: number | string }>("SELECT engine_name, COUNT(*) AS n FROM dynamic_leases WHERE state = 'active' GROUP BY engine_name");
    return rows.map((r) => ({ engine_name: r.engine_name, n: Number(r.n) }));
  }
  /** Leases whose end has come (expired while active, or a failed revocation due for a retry). */
  async due(now: number, limit: number): Promise<string[]> {
    const rows = await this.db.all<{ id: string }>(
      `SELECT id FROM dynamic_leases WHERE ((state = 'active' AND expires_at <= ?) OR (state = 'revoke_failed' AND next_retry_at <= ?))
        AND (claimed_until IS NULL OR claimed_until < ?) ORDER BY expires_at LIMIT ?`,
      [now, now, now, limit],
    );
    return rows.map((r) => r.id);
  }
  /** The soonest moment the expiry worker has to act on. */
  async nextMoment(): Promise<number | null> {
    const row = await this.db.get<{ a: number | string | null; b: number | string | null }>(
      "SELECT (SELECT MIN(expires_at) FROM dynamic_leases WHERE state = 'active') AS a, (SELECT MIN(next_retry_at) FROM dynamic_leases WHERE state = 'revoke_failed') AS b",
    );
    const found = [row?.a, row?.b].filter((v) => v !== null && v !== undefined).map(Number);
    return found.length ? Math.min(...found) : null;
  }
  /**
   * Claims a lease for one revocation attempt, in one statement (a transaction of its own): only
   * the node whose update changed the row goes on, however many nodes saw it due. For `expiry`
   * (the worker) the lease must still be due when claimed: one renewed since it was listed is left.
   */
  async claim(id: string, node: string, now: number, holdMs: number, purpose: "expiry" | "revocation"): Promise<boolean> {
    const due = purpose === "expiry" ? " AND ((state = 'active' AND expires_at <= ?) OR (state = 'revoke_failed' AND next_retry_at <= ?))" : "";
    const result = await this.db.run(
      `UPDATE dynamic_leases SET claimed_until = ?, claimed_by = ? WHERE id = ? AND state IN ('active', 'revoke_failed') AND (claimed_until IS NULL OR claimed_until < ?)${due}`,
      purpose === "expiry" ? [now + holdMs, node, id, now, now, now] : [now + holdMs, node, id, now],
    );
    return result.changes === 1;
  }
}

/**
 * Leases that ended (expired or revoked at the source) before the retention cutoff
 * (SCAIVAULT_CREDENTIALS_RETENTION): every generated credential leaves a row. Kept: a lease still
 * to be revoked (`active`, `revoke_failed`), and an SSH lease whose certificate may still be valid,
 * which the engine's KRL lists until `max_expires_at`. A lease ends by `expires_at` at the latest
 * (a revocation before it ends it sooner), so the walk is along `dynamic_leases_due (state,
 * expires_at)`; `revoked_at` keeps a revocation that only succeeded lately (a retried one).
 */
export const ENDED_LEASES: readonly PruneStep<"leases">[] = [
  {
    name: "leases",
    sql: pruneById("dynamic_leases", "state IN ('expired', 'revoked') AND expires_at < ? AND (revoked_at IS NULL OR revoked_at < ?) AND (serial IS NULL OR max_expires_at < ?)"),
    params: (cutoff) => [cutoff, cutoff, cutoff],
  },
];
