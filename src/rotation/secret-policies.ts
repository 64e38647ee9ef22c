import { abandonmentOf } from "../http/abandonment.js";
import type { Caller } from "../http/context.js";
import { VaultError } from "../http/errors.js";
import type { SecretsService } from "../secrets/service.js";
import { decodeCursor, encodeCursor } from "../shared/cursor.js";
import { newId } from "../shared/ids.js";
import { iso } from "../shared/time.js";
import { isUniqueViolation, type Database } from "../storage/contract.js";
import { checkFields, generate, type FieldSpec } from "./generators/index.js";
import type { PolicyRowStore, SecretPolicyRow } from "./policy-store.js";
import type { PolicyListQuery, SecretPolicyCreate, SecretPolicyPatch } from "./schemas.js";
import type { ExpensiveWork } from "../crypto/expensive-work.js";
import { secretPolicyView } from "./views.js";

export function nameTaken(error: unknown, name: string): unknown {
  return isUniqueViolation(error) ? new VaultError("already_exists", `A policy named "${name}" already exists in this tenant`, { details: { name } }) : error;
}

/** Stored fields carry their effective config (defaults filled in), so a GET shows what runs. */
function storedFields(fields: readonly FieldSpec[]): string {
  return JSON.stringify(checkFields(fields).map(({ name, generator, config }) => ({ name, generator, config })));
}

/** Value-generation recipes (`sp_…`): CRUD and a preview; scope `admin` on every route. */
export class SecretPolicyService {
  constructor(private readonly deps: { db: Database; policies: PolicyRowStore; secrets: SecretsService; expensive: ExpensiveWork }) {}

  async create(caller: Caller, body: SecretPolicyCreate) {
    const fields = storedFields(body.fields);
    const now = Date.now();
    const row: SecretPolicyRow = {
      id: newId("sp"),
      tenant_id: caller.tenant.tenantId,
      partner_id: caller.tenant.partnerId,
      name: body.name,
      policy_type: body.policy_type ?? "custom",
      description: body.description ?? null,
      fields,
      is_active: body.is_active === false ? 0 : 1,
      created_at: now,
      updated_at: now,
    };
    caller.ctx.audit.extra = { secret_policy_id: row.id, name: row.name };
    try {
      await this.deps.secrets.mutate(caller, () => 201, async (tx) => this.deps.policies.insertSecretPolicy(row, tx));
    } catch (error) {
      throw nameTaken(error, body.name);
    }
    return secretPolicyView(row);
  }

  async require(caller: Caller, id: string): Promise<SecretPolicyRow> {
    const row = await this.deps.policies.getSecretPolicy(caller.tenant.tenantId, id);
    if (!row) throw new VaultError("secret_policy_not_found", `No secret policy ${id} exists`, { details: { id } });
    return row;
  }

  async get(caller: Caller, id: string) {
    return secretPolicyView(await this.require(caller, id));
  }

  async list(caller: Caller, query: PolicyListQuery) {
    const limit = query.limit ?? 100;
    const after = decodeCursor<{ n: string }>(query.cursor, { n: "string" });
    const rows = await this.deps.policies.pageSecretPolicies(caller.tenant.tenantId, after?.n ?? null, limit + 1, query.active_only === true);
    const page = rows.slice(0, limit);
    const hasMore = rows.length > limit;
    return { data: page.map(secretPolicyView), cursor: hasMore ? encodeCursor({ n: page[page.length - 1].name }) : null, has_more: hasMore };
  }

  async patch(caller: Caller, id: string, body: SecretPolicyPatch) {
    const fields = body.fields ? storedFields(body.fields) : undefined;
    caller.ctx.audit.extra = { secret_policy_id: id, changed: Object.keys(body) };
    try {
      return await this.deps.secrets.mutate(caller, () => 200, async (tx) => {
        const existing = await this.deps.policies.getSecretPolicy(caller.tenant.tenantId, id, tx);
        if (!existing) throw new VaultError("secret_policy_not_found", `No secret policy ${id} exists`, { details: { id } });
        const row: SecretPolicyRow = {
          ...existing,
          name: body.name ?? existing.name,
          policy_type: body.policy_type ?? existing.policy_type,
          description: body.description !== undefined ? body.description : existing.description,
          fields: fields ?? existing.fields,
          is_active: body.is_active === undefined ? existing.is_active : body.is_active ? 1 : 0,
          updated_at: Date.now(),
        };
        await this.deps.policies.updateSecretPolicy(row, tx);
        return secretPolicyView(row);
      });
    } catch (error) {
      throw nameTaken(error, body.name ?? "");
    }
  }

  /** Refused while a rotation policy or a secret still names it: their next rotation would fail. */
  async delete(caller: Caller, id: string) {
    caller.ctx.audit.extra = { secret_policy_id: id };
    return this.deps.secrets.mutate(caller, () => 200, async (tx) => {
      const tenantId = caller.tenant.tenantId;
      if (!(await this.deps.policies.getSecretPolicy(tenantId, id, tx))) throw new VaultError("secret_policy_not_found", `No secret policy ${id} exists`, { details: { id } });
      const users = await tx.all<{ id: string }>(
        "SELECT id FROM rotation_policies WHERE tenant_id = ? AND secret_policy_id = ? UNION ALL SELECT path AS id FROM secrets WHERE tenant_id = ? AND secret_policy_id = ? LIMIT 20",
        [tenantId, id, tenantId, id],
      );
      if (users.length > 0) throw new VaultError("policy_in_use", "The secret policy is still used", { details: { used_by: users.map((u) => u.id) } });
      await tx.run("DELETE FROM secret_policies WHERE tenant_id = ? AND id = ?", [tenantId, id]);
      return { id, deleted: true };
    });
  }

  /** A sample of what the recipe generates; nothing is stored and nothing is audited but the call. */
  async preview(caller: Caller, id: string) {
    const row = await this.require(caller, id);
    const now = Date.now();
    caller.ctx.audit.extra = { secret_policy_id: id };
    return { policy_id: row.id, data: await generate(checkFields(JSON.parse(row.fields) as FieldSpec[]), this.deps.expensive.forTenant(caller.tenant.tenantId, abandonmentOf(caller)), now), generated_at: iso(now) };
  }
}
