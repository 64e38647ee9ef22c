import type { Database, Queryable } from "../storage/contract.js";

export interface Tenant {
  id: string;
  partnerId: string;
  name: string;
  createdAt: number;
  /** The identity directory's view (spec/identity.md §3); local tenants are `source: local`. */
  slug?: string | null;
  status?: string;
  source?: string;
  lastSyncedAt?: number | null;
}

interface TenantRow {
  id: string;
  partner_id: string;
  name: string;
  created_at: number;
  slug: string | null;
  status: string;
  source: string;
  last_synced_at: number | string | null;
}

const toTenant = (row: TenantRow): Tenant => ({
  id: row.id, partnerId: row.partner_id, name: row.name, createdAt: row.created_at,
  slug: row.slug, status: row.status, source: row.source, lastSyncedAt: row.last_synced_at === null ? null : Number(row.last_synced_at),
});
const TENANT_COLUMNS = "id, partner_id, name, created_at, slug, status, source, last_synced_at";

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
    const row = await (tx ?? this.db).get<TenantRow>(`SELECT ${TENANT_COLUMNS} FROM tenants WHERE id = ?`, [id]);
    return row ? toTenant(row) : undefined;
  }

  async listTenants(partnerId: string, after: string | null, limit: number, status?: string): Promise<Tenant[]> {
    const rows = await this.db.all<TenantRow>(
      `SELECT ${TENANT_COLUMNS} FROM tenants WHERE partner_id = ? AND id > ?${status ? " AND status = ?" : ""} ORDER BY id LIMIT ?`,
      status ? [partnerId, after ?? "", status, limit] : [partnerId, after ?? "", limit],
    );
    return rows.map(toTenant);
  }

  async countTenants(partnerId: string, status?: string): Promise<number> {
    const row = await this.db.get<{ n: number | string }>(`SELECT COUNT(*) AS n FROM tenants WHERE partner_id = ?${status ? " AND status = ?" : ""}`, status ? [partnerId, status] : [partnerId]);
    return Number(row?.n ?? 0);
  }

  async countPartners(): Promise<number> {
    const row = await this.db.get<{ n: number }>("SELECT COUNT(*) AS n FROM partners");
    return Number(row?.n ?? 0);
  }
}
