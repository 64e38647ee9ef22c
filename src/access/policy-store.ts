import type { Database, Queryable } from "../storage/contract.js";
import type { Binding, Policy, PolicyRule } from "./policy-model.js";
import type { ReachedChange } from "./reach-log.js";
import type { AccessEpochs } from "./vault-tokens.js";

interface PolicyRow {
  id: string;
  partner_id: string;
  tenant_id: string | null;
  scope: "tenant" | "partner";
  name: string;
  description: string | null;
  rules: string;
  builtin: number;
  is_active: number;
  created_at: number;
  updated_at: number;
}

interface BindingRow {
  id: string;
  policy_id: string;
  partner_id: string;
  tenant_id: string | null;
  identity_type: Binding["identityType"];
  identity_id: string;
  expires_at: number | null;
  created_at: number;
  created_by: string | null;
}

const POLICY_COLUMNS = "id, partner_id, tenant_id, scope, name, description, rules, builtin, is_active, created_at, updated_at";
const BINDING_COLUMNS = "id, policy_id, partner_id, tenant_id, identity_type, identity_id, expires_at, created_at, created_by";

export const toPolicy = (row: PolicyRow): Policy => ({
  id: row.id,
  partnerId: row.partner_id,
  tenantId: row.tenant_id,
  scope: row.scope,
  name: row.name,
  description: row.description,
  rules: JSON.parse(row.rules) as PolicyRule[],
  builtin: Boolean(Number(row.builtin)),
  isActive: Boolean(Number(row.is_active)),
  createdAt: Number(row.created_at),
  updatedAt: Number(row.updated_at),
});

export const toBinding = (row: BindingRow): Binding => ({
  id: row.id,
  policyId: row.policy_id,
  partnerId: row.partner_id,
  tenantId: row.tenant_id,
  identityType: row.identity_type,
  identityId: row.identity_id,
  expiresAt: row.expires_at === null ? null : Number(row.expires_at),
  createdAt: Number(row.created_at),
  createdBy: row.created_by,
});

export interface BoundPolicy {
  policy: Policy;
  binding: Binding;
}

/** Where a policy is visible: its own tenant, or (scope partner) every tenant of its partner. */
export interface PolicyOwner {
  partnerId: string;
  tenantId: string;
}

/** What a policy change reaches: one tenant's identities, or (`tenantId` null: a partner-wide policy) every tenant's of the partner. */
export interface PolicyReach {
  partnerId: string;
  tenantId: string | null;
}

export function reachKey(reach: PolicyReach): string {
  return reach.tenantId === null ? `p:${reach.partnerId}` : `t:${reach.tenantId}`;
}

/** The counter (a column of `access_epoch`) and the table of the same name that records its reaches. */
type ReachCounter = "policy_changes" | "directory_changes";

async function bumpReached(tx: Queryable, counter: ReachCounter, reach: string): Promise<void> {
  await tx.run(`UPDATE access_epoch SET ${counter} = ${counter} + 1 WHERE id = 1`);
  await tx.run(`INSERT INTO ${counter} (reach, seq) SELECT ?, ${counter} FROM access_epoch WHERE id = 1 ON CONFLICT (reach) DO UPDATE SET seq = excluded.seq`, [reach]);
}

async function changesSince(db: Database, counter: ReachCounter, seq: number): Promise<ReachedChange[]> {
  const rows = await db.all<{ reach: string; seq: number | string }>(`SELECT reach, seq FROM ${counter} WHERE seq > ?`, [seq]);
  return rows.map((r) => ({ reach: r.reach, seq: Number(r.seq) }));
}

const VISIBLE = "partner_id = ? AND (tenant_id = ? OR (scope = 'partner' AND tenant_id IS NULL))";

export class PolicyStore {
  constructor(private readonly db: Database) {}

  /** Every counter in one read (the same statement as `epoch`, so a turn's requests share it). */
  async epochs(): Promise<AccessEpochs> {
    const row = await this.db.getShared<{ epoch: number | string; revocations: number | string; revocations_pruned: number | string; policy_changes: number | string; directory_changes: number | string }>(
      "SELECT epoch, revocations, revocations_pruned, policy_changes, directory_changes FROM access_epoch WHERE id = 1",
    );
    return {
      access: Number(row?.epoch ?? 0),
      revocations: Number(row?.revocations ?? 0),
      revocationsPruned: Number(row?.revocations_pruned ?? 0),
      policies: Number(row?.policy_changes ?? 0),
      directory: Number(row?.directory_changes ?? 0),
    };
  }

  /**
   * A policy or binding change, in its own transaction: moves the policy counter and records it as
   * the last change that reached `reach` (a tenant's own policies, or a partner-wide one's partner).
   */
  async bumpPolicies(tx: Queryable, reach: PolicyReach): Promise<void> {
    await bumpReached(tx, "policy_changes", reachKey(reach));
  }

  /** The reaches changed after policy counter `seq`, each with the counter of its last change. */
  async policyChangesSince(seq: number): Promise<ReachedChange[]> {
    return changesSince(this.db, "policy_changes", seq);
  }

  /** A tenant's directory changed (a sync, a role assignment): its cached entries must go, no one else's. */
  async bumpDirectory(tx: Queryable, tenantId: string): Promise<void> {
    await bumpReached(tx, "directory_changes", `t:${tenantId}`);
  }

  async directoryChangesSince(seq: number): Promise<ReachedChange[]> {
    return changesSince(this.db, "directory_changes", seq);
  }

  async bumpEpoch(tx: Queryable): Promise<void> {
    await tx.run("UPDATE access_epoch SET epoch = epoch + 1 WHERE id = 1");
  }

  async insertPolicy(policy: Policy, tx?: Queryable): Promise<void> {
    await (tx ?? this.db).run(`INSERT INTO policies (${POLICY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, [
      policy.id,
      policy.partnerId,
      policy.tenantId,
      policy.scope,
      policy.name,
      policy.description,
      JSON.stringify(policy.rules),
      policy.builtin ? 1 : 0,
      policy.isActive === false ? 0 : 1,
      policy.createdAt,
      policy.updatedAt,
    ]);
  }

  async updatePolicy(policy: Policy, tx: Queryable): Promise<void> {
    await tx.run("UPDATE policies SET name = ?, description = ?, rules = ?, is_active = ?, updated_at = ? WHERE id = ?", [
      policy.name,
      policy.description,
      JSON.stringify(policy.rules),
      policy.isActive === false ? 0 : 1,
      policy.updatedAt,
      policy.id,
    ]);
  }

  async deletePolicy(id: string, tx: Queryable): Promise<void> {
    await tx.run("DELETE FROM policy_bindings WHERE policy_id = ?", [id]);
    await tx.run("DELETE FROM policies WHERE id = ?", [id]);
  }

  async getVisible(owner: PolicyOwner, id: string, tx?: Queryable): Promise<Policy | undefined> {
    const row = await (tx ?? this.db).get<PolicyRow>(`SELECT ${POLICY_COLUMNS} FROM policies WHERE id = ? AND ${VISIBLE}`, [id, owner.partnerId, owner.tenantId]);
    return row ? toPolicy(row) : undefined;
  }

  /** A policy of the same name where `scope` would put the new one (tenant names and partner names are separate). */
  async nameTaken(partnerId: string, tenantId: string | null, name: string, exceptId: string | null, tx: Queryable): Promise<boolean> {
    const row = await tx.get(
      `SELECT id FROM policies WHERE partner_id = ? AND ${tenantId === null ? "tenant_id IS NULL" : "tenant_id = ?"} AND name = ? AND id <> ?`,
      tenantId === null ? [partnerId, name, exceptId ?? ""] : [partnerId, tenantId, name, exceptId ?? ""],
    );
    return row !== undefined;
  }

  async listVisible(owner: PolicyOwner, filter: { scope?: "tenant" | "partner"; includeInactive: boolean }, after: string | null, limit: number): Promise<Array<Policy & { bindingCount: number }>> {
    const where = [VISIBLE.replace(/partner_id|tenant_id|scope/g, (c) => `p.${c}`), "p.id > ?"];
    const params: Array<string | number> = [owner.partnerId, owner.tenantId, after ?? ""];
    if (filter.scope) {
      where.push("p.scope = ?");
      params.push(filter.scope);
    }
    if (!filter.includeInactive) where.push("p.is_active = 1");
    params.push(limit);
    const rows = await this.db.all<PolicyRow & { binding_count: number | string }>(
      `SELECT ${POLICY_COLUMNS.split(", ").map((c) => `p.${c}`).join(", ")},
              (SELECT COUNT(*) FROM policy_bindings b WHERE b.policy_id = p.id) AS binding_count
         FROM policies p WHERE ${where.join(" AND ")} ORDER BY p.id LIMIT ?`,
      params,
    );
    return rows.map((row) => ({ ...toPolicy(row), bindingCount: Number(row.binding_count) }));
  }

  async insertBinding(binding: Binding, tx?: Queryable): Promise<void> {
    await (tx ?? this.db).run(`INSERT INTO policy_bindings (${BINDING_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, [
      binding.id,
      binding.policyId,
      binding.partnerId,
      binding.tenantId,
      binding.identityType,
      binding.identityId,
      binding.expiresAt,
      binding.createdAt,
      binding.createdBy ?? null,
    ]);
  }

  /** A page of a policy's bindings in (created_at, id) order, along `policy_bindings_page`. */
  async bindingPage(policyId: string, after: { c: number; i: string } | null, limit: number): Promise<Binding[]> {
    const rows = await this.db.all<BindingRow>(
      `SELECT ${BINDING_COLUMNS} FROM policy_bindings WHERE policy_id = ?${after ? " AND (created_at, id) > (?, ?)" : ""} ORDER BY created_at, id LIMIT ?`,
      after ? [policyId, after.c, after.i, limit] : [policyId, limit],
    );
    return rows.map(toBinding);
  }

  async bindingById(policyId: string, bindingId: string, tx: Queryable): Promise<Binding | undefined> {
    const row = await tx.get<BindingRow>(`SELECT ${BINDING_COLUMNS} FROM policy_bindings WHERE policy_id = ? AND id = ?`, [policyId, bindingId]);
    return row ? toBinding(row) : undefined;
  }

  /** Whether any identity but `identityId` is bound to the policy: one or two entries of (policy_id, identity_id). */
  async boundToOthers(policyId: string, identityId: string, tx: Queryable): Promise<boolean> {
    return (await tx.get("SELECT 1 AS found FROM policy_bindings WHERE policy_id = ? AND identity_id <> ? LIMIT 1", [policyId, identityId])) !== undefined;
  }

  async countBindings(policyId: string, tx: Queryable): Promise<number> {
    return Number((await tx.get<{ n: number | string }>("SELECT COUNT(*) AS n FROM policy_bindings WHERE policy_id = ?", [policyId]))?.n ?? 0);
  }

  async bindings(policyId: string, tx?: Queryable): Promise<Binding[]> {
    const rows = await (tx ?? this.db).all<BindingRow>(`SELECT ${BINDING_COLUMNS} FROM policy_bindings WHERE policy_id = ? ORDER BY created_at, id`, [policyId]);
    return rows.map(toBinding);
  }

  /** Whether the identity is bound to a partner-wide policy (its grants reach every tenant). */
  async hasPartnerBinding(partnerId: string, identityId: string, tx?: Queryable): Promise<boolean> {
    const row = await (tx ?? this.db).get(
      "SELECT b.id FROM policy_bindings b JOIN policies p ON p.id = b.policy_id WHERE b.partner_id = ? AND b.identity_id = ? AND p.scope = 'partner'",
      [partnerId, identityId],
    );
    return row !== undefined;
  }

  async findBinding(policyId: string, identityId: string, tx: Queryable): Promise<Binding | undefined> {
    const row = await tx.get<BindingRow>(`SELECT ${BINDING_COLUMNS} FROM policy_bindings WHERE policy_id = ? AND identity_id = ?`, [policyId, identityId]);
    return row ? toBinding(row) : undefined;
  }

  async deleteBinding(policyId: string, bindingId: string, tx: Queryable): Promise<boolean> {
    return (await tx.run("DELETE FROM policy_bindings WHERE policy_id = ? AND id = ?", [policyId, bindingId])).changes > 0;
  }

  /**
   * Active policies bound to any of `identityIds` that apply in `tenantId`: the tenant's own
   * policies and the partner's partner-scoped ones. Expired bindings are left out.
   */
  async boundPolicies(partnerId: string, tenantId: string, identityIds: readonly string[], now: number, tx?: Queryable): Promise<BoundPolicy[]> {
    if (identityIds.length === 0) return [];
    const marks = identityIds.map(() => "?").join(", ");
    const rows = await (tx ?? this.db).all<PolicyRow & { b_id: string; b_identity_type: Binding["identityType"]; b_identity_id: string; b_expires_at: number | null; b_created_at: number; b_tenant_id: string | null }>(
      `SELECT p.id, p.partner_id, p.tenant_id, p.scope, p.name, p.description, p.rules, p.builtin, p.is_active, p.created_at, p.updated_at,
              b.id AS b_id, b.identity_type AS b_identity_type, b.identity_id AS b_identity_id, b.expires_at AS b_expires_at,
              b.created_at AS b_created_at, b.tenant_id AS b_tenant_id
         FROM policy_bindings b JOIN policies p ON p.id = b.policy_id
        WHERE b.partner_id = ? AND b.identity_id IN (${marks})
          AND (b.expires_at IS NULL OR b.expires_at > ?)
          AND p.is_active = 1
          AND (p.tenant_id = ? OR (p.scope = 'partner' AND p.tenant_id IS NULL))
        ORDER BY p.id, b.id`,
      [partnerId, ...identityIds, now, tenantId],
    );
    return rows.map((row) => ({
      policy: toPolicy(row),
      binding: {
        id: row.b_id,
        policyId: row.id,
        partnerId: row.partner_id,
        tenantId: row.b_tenant_id,
        identityType: row.b_identity_type,
        identityId: row.b_identity_id,
        expiresAt: row.b_expires_at === null ? null : Number(row.b_expires_at),
        createdAt: Number(row.b_created_at),
      },
    }));
  }
}
