import type { Database, Queryable } from "../storage/contract.js";

export interface Tenant {
  id: string;
  partnerId: string;
  name: string;
  createdAt: number;
}

interface TenantRow {
  id: string;
  partner_id: string;
  name: string;
  created_at: number;
}

const toTenant = (row: TenantRow): Tenant => ({ id: row.id, partnerId: row.partner_id, name: row.name, createdAt: row.created_at });

export class TenancyStore {
  constructor(private readonly db: Database) {}

  async insertPartner(partner: { id: string; name: string; createdAt: number }, tx?: Queryable): Promise<void> {
    await (tx ?? this.db).run("INSERT INTO partners (id, name, created_at) VALUES (?, ?, ?)", [partner.id, partner.name, partner.createdAt]);
  }

  async partnerExists(id: string, tx?: Queryable): Promise<boolean> {
    return (await (tx ?? this.db).get("SELECT id FROM partners WHERE id = ?", [id])) !== undefined;
  }

  async insertTenant(tenant: Tenant, tx?: Queryable): Promise<void> {
    await (tx ?? this.db).run("INSERT INTO tenants (id, partner_id, name, created_at) VALUES (?, ?, ?, ?)", [
      tenant.id,
      tenant.partnerId,
      tenant.name,
      tenant.createdAt,
    ]);
  }

  async getTenant(id: string, tx?: Queryable): Promise<Tenant | undefined> {
    const row = await (tx ?? this.db).get<TenantRow>("SELECT id, partner_id, name, created_at FROM tenants WHERE id = ?", [id]);
    return row ? toTenant(row) : undefined;
  }

  async listTenants(partnerId: string, after: string | null, limit: number): Promise<Tenant[]> {
    const rows = await this.db.all<TenantRow>(
      "SELECT id, partner_id, name, created_at FROM tenants WHERE partner_id = ? AND id > ? ORDER BY id LIMIT ?",
      [partnerId, after ?? "", limit],
    );
    return rows.map(toTenant);
  }

  async countPartners(): Promise<number> {
    const row = await this.db.get<{ n: number }>("SELECT COUNT(*) AS n FROM partners");
    return Number(row?.n ?? 0);
  }
}
