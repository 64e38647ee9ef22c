import type { Database, Queryable } from "../storage/contract.js";
import type { Binding, Policy, PolicyRule } from "./policy-model.js";

interface PolicyRow {
  id: string;
  partner_id: string;
  tenant_id: string | null;
  scope: "tenant" | "partner";
  name: string;
  description: string | null;
  rules: string;
  builtin: number;
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
}

const POLICY_COLUMNS = "id, partner_id, tenant_id, scope, name, description, rules, builtin, created_at, updated_at";
const BINDING_COLUMNS = "id, policy_id, partner_id, tenant_id, identity_type, identity_id, expires_at, created_at";

export const toPolicy = (row: PolicyRow): Policy => ({
  id: row.id,
  partnerId: row.partner_id,
  tenantId: row.tenant_id,
  scope: row.scope,
  name: row.name,
  description: row.description,
  rules: JSON.parse(row.rules) as PolicyRule[],
  builtin: Boolean(row.builtin),
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

export const toBinding = (row: BindingRow): Binding => ({
  id: row.id,
  policyId: row.policy_id,
  partnerId: row.partner_id,
  tenantId: row.tenant_id,
  identityType: row.identity_type,
  identityId: row.identity_id,
  expiresAt: row.expires_at,
  createdAt: row.created_at,
});

export interface BoundPolicy {
  policy: Policy;
  binding: Binding;
}

export class PolicyStore {
  constructor(private readonly db: Database) {}

  async insertPolicy(policy: Policy, tx?: Queryable): Promise<void> {
    await (tx ?? this.db).run(`INSERT INTO policies (${POLICY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, [
      policy.id,
      policy.partnerId,
      policy.tenantId,
      policy.scope,
      policy.name,
      policy.description,
      JSON.stringify(policy.rules),
      policy.builtin ? 1 : 0,
      policy.createdAt,
      policy.updatedAt,
    ]);
  }

  async insertBinding(binding: Binding, tx?: Queryable): Promise<void> {
    await (tx ?? this.db).run(`INSERT INTO policy_bindings (${BINDING_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, [
      binding.id,
      binding.policyId,
      binding.partnerId,
      binding.tenantId,
      binding.identityType,
      binding.identityId,
      binding.expiresAt,
      binding.createdAt,
    ]);
  }

  /**
   * Policies bound to any of `identityIds` that apply in `tenantId`: the tenant's own policies and
   * the partner's partner-scoped ones. Expired bindings are left out.
   */
  async boundPolicies(partnerId: string, tenantId: string, identityIds: readonly string[], now: number, tx?: Queryable): Promise<BoundPolicy[]> {
    if (identityIds.length === 0) return [];
    const marks = identityIds.map(() => "?").join(", ");
    const rows = await (tx ?? this.db).all<PolicyRow & { b_id: string; b_identity_type: Binding["identityType"]; b_identity_id: string; b_expires_at: number | null; b_created_at: number; b_tenant_id: string | null }>(
      `SELECT p.id, p.partner_id, p.tenant_id, p.scope, p.name, p.description, p.rules, p.builtin, p.created_at, p.updated_at,
              b.id AS b_id, b.identity_type AS b_identity_type, b.identity_id AS b_identity_id, b.expires_at AS b_expires_at,
              b.created_at AS b_created_at, b.tenant_id AS b_tenant_id
         FROM policy_bindings b JOIN policies p ON p.id = b.policy_id
        WHERE b.partner_id = ? AND b.identity_id IN (${marks})
          AND (b.expires_at IS NULL OR b.expires_at > ?)
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
        expiresAt: row.b_expires_at,
        createdAt: row.b_created_at,
      },
    }));
  }
}
