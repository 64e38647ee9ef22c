import type { Database, Queryable, SqlParam } from "../storage/contract.js";

export interface ProviderRow {
  id: string;
  tenant_id: string;
  partner_id: string;
  name: string;
  provider_type: string;
  /** JSON object. */
  config: string;
  /** JSON array of `zone` | `*.zone`. */
  managed_zones: string;
  credentials_ciphertext: Buffer;
  credentials_wrapped: Buffer;
  credentials_key_id: string;
  is_active: number;
  created_by: string;
  created_at: number;
  updated_at: number;
}

const COLUMNS = ["id", "tenant_id", "partner_id", "name", "provider_type", "config", "managed_zones", "credentials_ciphertext", "credentials_wrapped", "credentials_key_id", "is_active", "created_by", "created_at", "updated_at"] as const;

function numeric(row: ProviderRow | undefined): ProviderRow | undefined {
  if (!row) return row;
  row.is_active = Number(row.is_active);
  row.created_at = Number(row.created_at);
  row.updated_at = Number(row.updated_at);
  return row;
}

/** DNS providers; every read names the tenant, so another tenant's rows never match. */
export class DnsStore {
  constructor(readonly db: Database) {}

  async insert(tx: Queryable, row: ProviderRow): Promise<void> {
    await tx.run(`INSERT INTO dns_providers (${COLUMNS.join(", ")}) VALUES (${COLUMNS.map(() => "?").join(", ")})`, COLUMNS.map((c) => row[c] as SqlParam));
  }

  async update(tx: Queryable, row: ProviderRow): Promise<number> {
    const set = COLUMNS.filter((c) => !["id", "tenant_id", "partner_id", "created_by", "created_at"].includes(c));
    return (await tx.run(`UPDATE dns_providers SET ${set.map((c) => `${c} = ?`).join(", ")} WHERE tenant_id = ? AND id = ?`, [...set.map((c) => row[c] as SqlParam), row.tenant_id, row.id])).changes;
  }

  async get(tenantId: string, id: string, q: Queryable = this.db): Promise<ProviderRow | undefined> {
    return numeric(await q.get<ProviderRow>("SELECT * FROM dns_providers WHERE tenant_id = ? AND id = ?", [tenantId, id]));
  }

  async byName(tenantId: string, name: string, q: Queryable = this.db): Promise<ProviderRow | undefined> {
    return numeric(await q.get<ProviderRow>("SELECT * FROM dns_providers WHERE tenant_id = ? AND name = ?", [tenantId, name]));
  }

  async list(tenantId: string): Promise<ProviderRow[]> {
    return (await this.db.all<ProviderRow>("SELECT * FROM dns_providers WHERE tenant_id = ? ORDER BY created_at, id", [tenantId])).map((r) => numeric(r)!);
  }

  async delete(tx: Queryable, tenantId: string, id: string): Promise<number> {
    return (await tx.run("DELETE FROM dns_providers WHERE tenant_id = ? AND id = ?", [tenantId, id])).changes;
  }
}
