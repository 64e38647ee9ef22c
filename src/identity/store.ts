import type { Database, Queryable, SqlParam } from "../storage/contract.js";
import type { DirectoryStatus } from "./directory-client.js";

export type EntryKind = "user" | "service_account" | "group";

/** One cached directory identity (user, service account or group) of one tenant. */
export interface DirectoryEntry {
  tenantId: string;
  id: string;
  partnerId: string;
  kind: EntryKind;
  identityId: string;
  email: string | null;
  clientId: string | null;
  name: string | null;
  description: string | null;
  status: DirectoryStatus;
  mfaEnabled: boolean;
  roles: string[];
  directGroups: string[];
  groupIds: string[];
  groups: string[];
  lastSyncedAt: number;
}

interface EntryRow {
  tenant_id: string; id: string; partner_id: string; kind: EntryKind; identity_id: string; email: string | null; client_id: string | null; name: string | null;
  description: string | null; status: DirectoryStatus; mfa_enabled: number; roles: string; direct_groups: string; group_ids: string; groups: string; last_synced_at: number | string;
}

const ENTRY_COLUMNS = "tenant_id, id, partner_id, kind, identity_id, email, client_id, name, description, status, mfa_enabled, roles, direct_groups, group_ids, groups, last_synced_at";

const toEntry = (r: EntryRow): DirectoryEntry => ({
  tenantId: r.tenant_id, id: r.id, partnerId: r.partner_id, kind: r.kind, identityId: r.identity_id, email: r.email, clientId: r.client_id, name: r.name, description: r.description,
  status: r.status, mfaEnabled: Boolean(Number(r.mfa_enabled)), roles: JSON.parse(r.roles) as string[], directGroups: JSON.parse(r.direct_groups) as string[],
  groupIds: JSON.parse(r.group_ids) as string[], groups: JSON.parse(r.groups) as string[], lastSyncedAt: Number(r.last_synced_at),
});

export interface DirPartnerRow { id: string; name: string; slug: string | null; region: string | null; status: string; source: string; last_synced_at: number | null }
export interface DirTenantRow { id: string; partner_id: string; name: string; slug: string | null; status: string; source: string; last_synced_at: number | null; created_at: number }

export interface ListFilter { status?: string; q?: string; page: number; pageSize: number }

/** The identity cache's tables (see migrations.ts). */
export class IdentityStore {
  constructor(readonly db: Database) {}

  // ── partners and tenants ──
  async upsertPartner(p: { id: string; name: string; slug: string | null; region: string | null; status: string }, now: number, tx: Queryable): Promise<void> {
    const changed = await tx.run("UPDATE partners SET name = ?, slug = ?, region = ?, status = ?, source = 'scaikey', last_synced_at = ? WHERE id = ?", [p.name, p.slug, p.region, p.status, now, p.id]);
    if (changed.changes === 0) {
      await tx.run("INSERT INTO partners (id, name, created_at, slug, region, status, source, last_synced_at) VALUES (?, ?, ?, ?, ?, ?, 'scaikey', ?)", [p.id, p.name, now, p.slug, p.region, p.status, now]);
    }
  }

  /** Answers true when the tenant is new here (its keys must be made in the same transaction). */
  async upsertTenant(t: { id: string; partner_id: string; name: string; slug: string | null; status: string }, now: number, tx: Queryable): Promise<boolean> {
    const changed = await tx.run("UPDATE tenants SET name = ?, slug = ?, status = ?, source = 'scaikey', last_synced_at = ? WHERE id = ? AND partner_id = ?", [t.name, t.slug, t.status, now, t.id, t.partner_id]);
    if (changed.changes > 0) return false;
    await tx.run("INSERT INTO tenants (id, partner_id, name, created_at, slug, status, source, last_synced_at) VALUES (?, ?, ?, ?, ?, ?, 'scaikey', ?)", [t.id, t.partner_id, t.name, now, t.slug, t.status, now]);
    return true;
  }

  async tenantStatus(tenantId: string): Promise<string | undefined> {
    return (await this.db.get<{ status: string }>("SELECT status FROM tenants WHERE id = ?", [tenantId]))?.status;
  }

  async getTenant(tenantId: string, tx?: Queryable): Promise<DirTenantRow | undefined> {
    return (tx ?? this.db).get<DirTenantRow>("SELECT id, partner_id, name, slug, status, source, last_synced_at, created_at FROM tenants WHERE id = ?", [tenantId]);
  }

  async tenantsOf(partnerId: string, tx?: Queryable): Promise<DirTenantRow[]> {
    return (tx ?? this.db).all<DirTenantRow>("SELECT id, partner_id, name, slug, status, source, last_synced_at, created_at FROM tenants WHERE partner_id = ? ORDER BY id", [partnerId]);
  }

  async partners(partnerId: string | null, status: string | undefined, tx?: Queryable): Promise<DirPartnerRow[]> {
    const where: string[] = [];
    const params: SqlParam[] = [];
    if (partnerId) where.push("id = ?"), params.push(partnerId);
    if (status) where.push("status = ?"), params.push(status);
    return (tx ?? this.db).all<DirPartnerRow>(`SELECT id, name, slug, region, status, source, last_synced_at FROM partners${where.length ? ` WHERE ${where.join(" AND ")}` : ""} ORDER BY id`, params);
  }

  // ── directory entries ──
  async entries(tenantId: string, tx?: Queryable): Promise<DirectoryEntry[]> {
    return (await (tx ?? this.db).all<EntryRow>(`SELECT ${ENTRY_COLUMNS} FROM directory_identities WHERE tenant_id = ?`, [tenantId])).map(toEntry);
  }

  async putEntry(e: DirectoryEntry, tx: Queryable): Promise<void> {
    const values: SqlParam[] = [e.partnerId, e.kind, e.identityId, e.email, e.clientId, e.name, e.description, e.status, e.mfaEnabled ? 1 : 0, JSON.stringify(e.roles), JSON.stringify(e.directGroups), JSON.stringify(e.groupIds), JSON.stringify(e.groups), e.lastSyncedAt];
    const changed = await tx.run(
      "UPDATE directory_identities SET partner_id = ?, kind = ?, identity_id = ?, email = ?, client_id = ?, name = ?, description = ?, status = ?, mfa_enabled = ?, roles = ?, direct_groups = ?, group_ids = ?, groups = ?, last_synced_at = ? WHERE tenant_id = ? AND id = ?",
      [...values, e.tenantId, e.id],
    );
    if (changed.changes === 0) await tx.run(`INSERT INTO directory_identities (${ENTRY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, [e.tenantId, e.id, ...values]);
  }

  async replaceMembers(tenantId: string, members: Array<{ groupId: string; memberType: string; memberId: string; addedAt: string | null }>, tx: Queryable): Promise<void> {
    await tx.run("DELETE FROM directory_members WHERE tenant_id = ?", [tenantId]);
    for (const m of members) {
      await tx.run("INSERT INTO directory_members (tenant_id, group_id, member_type, member_id, added_at) VALUES (?, ?, ?, ?, ?)", [tenantId, m.groupId, m.memberType, m.memberId, m.addedAt]);
    }
  }

  async members(tenantId: string): Promise<Array<{ group_id: string; member_type: string; member_id: string; added_at: string | null }>> {
    return this.db.all("SELECT group_id, member_type, member_id, added_at FROM directory_members WHERE tenant_id = ?", [tenantId]);
  }

  /** The entry a credential names in its tenant: by canonical id, else by directory id. */
  async findForCredential(tenantId: string, identityId: string, directoryId: string | null): Promise<DirectoryEntry | undefined> {
    const row = await this.db.get<EntryRow>(
      `SELECT ${ENTRY_COLUMNS} FROM directory_identities WHERE tenant_id = ? AND (identity_id = ? OR id = ?) AND kind <> 'group' ORDER BY last_synced_at DESC LIMIT 1`,
      [tenantId, identityId, directoryId ?? ""],
    );
    return row ? toEntry(row) : undefined;
  }

  async findEntry(tenantIds: readonly string[], kind: EntryKind, match: { id?: string; identityId?: string }): Promise<DirectoryEntry | undefined> {
    if (tenantIds.length === 0) return undefined;
    const marks = tenantIds.map(() => "?").join(", ");
    const row = await this.db.get<EntryRow>(
      `SELECT ${ENTRY_COLUMNS} FROM directory_identities WHERE tenant_id IN (${marks}) AND kind = ? AND (id = ? OR identity_id = ?) ORDER BY tenant_id LIMIT 1`,
      [...tenantIds, kind, match.id ?? "", match.identityId ?? ""],
    );
    return row ? toEntry(row) : undefined;
  }

  async listEntries(tenantId: string, kind: EntryKind, filter: ListFilter): Promise<{ items: DirectoryEntry[]; total: number }> {
    const where = ["tenant_id = ?", "kind = ?"];
    const params: SqlParam[] = [tenantId, kind];
    if (filter.status) where.push("status = ?"), params.push(filter.status);
    if (filter.q) {
      where.push("(LOWER(COALESCE(email, '')) LIKE ? OR LOWER(COALESCE(name, '')) LIKE ?)");
      const like = `%${filter.q.toLowerCase().replace(/[%_\\]/g, "")}%`;
      params.push(like, like);
    }
    const clause = where.join(" AND ");
    const total = Number((await this.db.get<{ n: number | string }>(`SELECT COUNT(*) AS n FROM directory_identities WHERE ${clause}`, params))?.n ?? 0);
    const rows = await this.db.all<EntryRow>(`SELECT ${ENTRY_COLUMNS} FROM directory_identities WHERE ${clause} ORDER BY id LIMIT ? OFFSET ?`, [...params, filter.pageSize, (filter.page - 1) * filter.pageSize]);
    return { items: rows.map(toEntry), total };
  }

  // ── vault-assigned roles ──
  async vaultRoles(partnerId: string, userId: string): Promise<string[]> {
    const row = await this.db.get<{ roles: string }>("SELECT roles FROM identity_vault_roles WHERE partner_id = ? AND user_id = ?", [partnerId, userId]);
    return row ? (JSON.parse(row.roles) as string[]) : [];
  }

  async setVaultRoles(partnerId: string, userId: string, roles: string[], by: string, now: number, tx: Queryable): Promise<void> {
    await tx.run("DELETE FROM identity_vault_roles WHERE partner_id = ? AND user_id = ?", [partnerId, userId]);
    await tx.run("INSERT INTO identity_vault_roles (partner_id, user_id, roles, updated_by, updated_at) VALUES (?, ?, ?, ?, ?)", [partnerId, userId, JSON.stringify(roles), by, now]);
  }

  /** Vault roles of every user of a tenant, by directory id (for the credential gate's cache). */
  async vaultRolesOfPartner(partnerId: string): Promise<Map<string, string[]>> {
    const rows = await this.db.all<{ user_id: string; roles: string }>("SELECT user_id, roles FROM identity_vault_roles WHERE partner_id = ?", [partnerId]);
    return new Map(rows.map((r) => [r.user_id, JSON.parse(r.roles) as string[]]));
  }

  // ── webhook deduplication ──
  /** False when this event id was already received (within the retention window). */
  async firstDelivery(eventId: string, now: number): Promise<boolean> {
    await this.db.run("DELETE FROM identity_webhook_events WHERE received_at < ?", [now - 24 * 3600_000]);
    const changed = await this.db.run(
      this.db.dialect === "postgres" ? "INSERT INTO identity_webhook_events (event_id, received_at) VALUES (?, ?) ON CONFLICT DO NOTHING" : "INSERT OR IGNORE INTO identity_webhook_events (event_id, received_at) VALUES (?, ?)",
      [eventId, now],
    );
    return changed.changes > 0;
  }

  /** Forgets a delivery whose work could not start, so the sender's retry is not ignored as a repeat. */
  async forgetDelivery(eventId: string): Promise<void> {
    await this.db.run("DELETE FROM identity_webhook_events WHERE event_id = ?", [eventId]);
  }
}
