import type { Database, Queryable } from "../storage/contract.js";
import { countAlongIndex } from "../storage/stretch-count.js";
import { inJsonList } from "../storage/json-list.js";

export interface RotationPolicyRow {
  id: string;
  tenant_id: string;
  partner_id: string;
  name: string;
  description: string | null;
  interval_text: string;
  interval_seconds: number;
  grace_period: string;
  grace_seconds: number;
  warn_before: string | null;
  auto_generate: number;
  secret_policy_id: string | null;
  webhook_ids: string;
  is_active: number;
  created_at: number;
  updated_at: number;
}

export interface SecretPolicyRow {
  id: string;
  tenant_id: string;
  partner_id: string;
  name: string;
  policy_type: string;
  description: string | null;
  fields: string;
  is_active: number;
  created_at: number;
  updated_at: number;
}

const ROTATION_COLUMNS = [
  "id", "tenant_id", "partner_id", "name", "description", "interval_text", "interval_seconds", "grace_period", "grace_seconds",
  "warn_before", "auto_generate", "secret_policy_id", "webhook_ids", "is_active", "created_at", "updated_at",
] as const;
const SECRET_POLICY_COLUMNS = ["id", "tenant_id", "partner_id", "name", "policy_type", "description", "fields", "is_active", "created_at", "updated_at"] as const;

type Table = "rotation_policies" | "secret_policies";

/** Rotation policies and secret (value-generation) policies: plain per-tenant rows, unique names. */
export class PolicyRowStore {
  constructor(private readonly db: Database) {}

  private async insert(table: Table, columns: readonly string[], row: object, tx?: Queryable): Promise<void> {
    const values = columns.map((c) => (row as unknown as Record<string, never>)[c]);
    await (tx ?? this.db).run(`INSERT INTO ${table} (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`, values);
  }

  private async update(table: Table, columns: readonly string[], row: { id: string; tenant_id: string }, tx?: Queryable): Promise<void> {
    const mutable = columns.filter((c) => !["id", "tenant_id", "partner_id", "created_at"].includes(c));
    await (tx ?? this.db).run(`UPDATE ${table} SET ${mutable.map((c) => `${c} = ?`).join(", ")} WHERE id = ? AND tenant_id = ?`, [
      ...mutable.map((c) => (row as unknown as Record<string, never>)[c]),
      row.id,
      row.tenant_id,
    ]);
  }

  private async page<T>(table: Table, columns: readonly string[], tenantId: string, afterName: string | null, limit: number, activeOnly: boolean): Promise<T[]> {
    const where = ["tenant_id = ?"];
    const params: (string | number)[] = [tenantId];
    if (activeOnly) where.push("is_active = 1");
    if (afterName !== null) {
      where.push("name > ?");
      params.push(afterName);
    }
    return this.db.all<T>(`SELECT ${columns.join(", ")} FROM ${table} WHERE ${where.join(" AND ")} ORDER BY name LIMIT ?`, [...params, limit]);
  }

  insertRotation(row: RotationPolicyRow, tx?: Queryable) {
    return this.insert("rotation_policies", ROTATION_COLUMNS, row, tx);
  }
  updateRotation(row: RotationPolicyRow, tx?: Queryable) {
    return this.update("rotation_policies", ROTATION_COLUMNS, row, tx);
  }
  getRotation(tenantId: string, id: string, tx?: Queryable): Promise<RotationPolicyRow | undefined> {
    return (tx ?? this.db).get<RotationPolicyRow>(`SELECT ${ROTATION_COLUMNS.join(", ")} FROM rotation_policies WHERE tenant_id = ? AND id = ?`, [tenantId, id]);
  }
  pageRotation(tenantId: string, afterName: string | null, limit: number, activeOnly: boolean) {
    return this.page<RotationPolicyRow>("rotation_policies", ROTATION_COLUMNS, tenantId, afterName, limit, activeOnly);
  }
  async deleteRotation(tx: Queryable, tenantId: string, id: string): Promise<void> {
    await tx.run("DELETE FROM rotation_policies WHERE tenant_id = ? AND id = ?", [tenantId, id]);
  }
  /**
   * The secrets each policy rotates. By `policy_id` alone (policy ids are unique, and a schedule
   * only ever names a policy of its own tenant), along `rotation_schedules_policy`: with the tenant
   * as well, every schedule's row was read for it. SQLite counts one policy after another, each in
   * stretches with turns of the loop between; PostgreSQL counts a page of policies in one statement
   * (a page of 1,000 was 1,000 counts at once, each waiting for a connection of the pool).
   */
  async countSecrets(policyIds: readonly string[]): Promise<Map<string, number>> {
    const counts = new Map(policyIds.map((id) => [id, 0]));
    if (policyIds.length === 0) return counts;
    if (this.db.dialect === "sqlite") {
      for (const id of policyIds) counts.set(id, await countAlongIndex(this.db, "rotation_schedules", "policy_id = ?", [id]));
      return counts;
    }
    const rows = await this.db.all<{ policy_id: string; n: number | string }>(
      `SELECT policy_id, COUNT(*) AS n FROM rotation_schedules WHERE ${inJsonList(this.db.dialect, "policy_id")} GROUP BY policy_id`,
      [JSON.stringify(policyIds)],
    );
    for (const row of rows) counts.set(row.policy_id, Number(row.n));
    return counts;
  }

  insertSecretPolicy(row: SecretPolicyRow, tx?: Queryable) {
    return this.insert("secret_policies", SECRET_POLICY_COLUMNS, row, tx);
  }
  updateSecretPolicy(row: SecretPolicyRow, tx?: Queryable) {
    return this.update("secret_policies", SECRET_POLICY_COLUMNS, row, tx);
  }
  getSecretPolicy(tenantId: string, id: string, tx?: Queryable): Promise<SecretPolicyRow | undefined> {
    return (tx ?? this.db).get<SecretPolicyRow>(`SELECT ${SECRET_POLICY_COLUMNS.join(", ")} FROM secret_policies WHERE tenant_id = ? AND id = ?`, [tenantId, id]);
  }
  pageSecretPolicies(tenantId: string, afterName: string | null, limit: number, activeOnly: boolean) {
    return this.page<SecretPolicyRow>("secret_policies", SECRET_POLICY_COLUMNS, tenantId, afterName, limit, activeOnly);
  }
  async deleteSecretPolicy(tenantId: string, id: string): Promise<number> {
    return (await this.db.run("DELETE FROM secret_policies WHERE tenant_id = ? AND id = ?", [tenantId, id])).changes;
  }
}
