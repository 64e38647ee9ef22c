import type { Database, Queryable, SqlParam } from "../storage/contract.js";
import { inJsonList } from "../storage/json-list.js";
import { insertMany } from "../storage/multi-row.js";
import { ENTRY_DIGESTS, putDigests } from "./digests.js";
import { matchingIds, plainPageIds, type Matching } from "./search.js";
import { memberOrder } from "./group-members.js";
import { LoopSlices } from "../shared/turn.js";
import { walkStretches } from "../storage/stretches.js";
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
  tenant_synced_at?: number | string | null;
}

const ENTRY_COLUMNS = "tenant_id, id, partner_id, kind, identity_id, email, client_id, name, description, status, mfa_enabled, roles, direct_groups, group_ids, groups, last_synced_at";
/**
 * An entry as read for a view: a sync writes only the entries that changed, so an entry still in
 * the directory was last synced when its tenant was (`tenants.last_synced_at`, written by every
 * sync of the tenant in the same transaction); a DELETED one when it was marked so.
 */
const ENTRY_VIEW = `${ENTRY_COLUMNS}, (SELECT t.last_synced_at FROM tenants t WHERE t.id = directory_identities.tenant_id) AS tenant_synced_at`;

const GONE = "CASE WHEN status = 'DELETED' THEN 1 ELSE 0 END AS gone";

const entryValues = (e: DirectoryEntry): SqlParam[] => [
  e.partnerId, e.kind, e.identityId, e.email, e.clientId, e.name, e.description, e.status, e.mfaEnabled ? 1 : 0,
  JSON.stringify(e.roles), JSON.stringify(e.directGroups), JSON.stringify(e.groupIds), JSON.stringify(e.groups), e.lastSyncedAt,
];

const syncedAt = (r: EntryRow): number =>
  r.status === "DELETED" || r.tenant_synced_at === null || r.tenant_synced_at === undefined ? Number(r.last_synced_at) : Math.max(Number(r.last_synced_at), Number(r.tenant_synced_at));

const toEntry = (r: EntryRow): DirectoryEntry => ({
  tenantId: r.tenant_id, id: r.id, partnerId: r.partner_id, kind: r.kind, identityId: r.identity_id, email: r.email, clientId: r.client_id, name: r.name, description: r.description,
  status: r.status, mfaEnabled: Boolean(Number(r.mfa_enabled)), roles: JSON.parse(r.roles) as string[], directGroups: JSON.parse(r.direct_groups) as string[],
  groupIds: JSON.parse(r.group_ids) as string[], groups: JSON.parse(r.groups) as string[], lastSyncedAt: syncedAt(r),
});

/**
 * An entry as stored, compared with the directory's by `key`: what the directory says about it
 * (its JSON lists as stored), in KEY_COLUMNS order, joined by \u0001, a null as \u0002, and in a
 * text field each \u0001, \u0002 and \u0003 escaped by a \u0003 first, so that no two different
 * entries share a key (a name holding a separator cannot pass for a change of the fields after it).
 */
export interface StoredEntry {
  id: string;
  status: DirectoryStatus;
  key: string;
}

const TEXT_KEY_COLUMNS = ["partner_id", "kind", "identity_id", "email", "client_id", "name", "description", "status"];
/**
 * The JSON lists (JSON.stringify writes no control character raw) and the flag need no escaping.
 * Every stored field but `last_synced_at` is in the key: `groups` (the names of an entry's groups,
 * which policies bind) changes without any of the entry's own fields when a group is renamed.
 */
const PLAIN_KEY_COLUMNS = ["CAST(mfa_enabled AS TEXT)", "roles", "direct_groups", "group_ids", "groups"];

function keySql(dialect: Database["dialect"]): string {
  const c = (code: number) => (dialect === "postgres" ? `chr(${code})` : `char(${code})`);
  const escaped = (column: string) => [3, 1, 2].reduce((sql, code) => `REPLACE(${sql}, ${c(code)}, ${c(3)} || ${c(code)})`, column);
  const fields = [...TEXT_KEY_COLUMNS.map(escaped), ...PLAIN_KEY_COLUMNS].map((sql) => `COALESCE(${sql}, ${c(2)})`);
  return fields.join(` || ${c(1)} || `);
}

const escapeKeyText = (v: string | null) => (v === null ? "\u0002" : v.replace(/[\u0001-\u0003]/g, (ch) => `\u0003${ch}`));

/** How many buckets a tenant's entries fall into (stored with each row: changing it needs a migration). */
export const ENTRY_BUCKETS = 256;

/** An entry's bucket: FNV-1a over its id's UTF-16 code units, the same on every node and version. */
export function bucketOf(id: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) hash = Math.imul(hash ^ id.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % ENTRY_BUCKETS;
}

/** `StoredEntry.key` of an entry built from the directory: the lists as JSON.stringify writes them, as stored. */
export const entryKey = (e: DirectoryEntry): string =>
  [
    ...[e.partnerId, e.kind, e.identityId, e.email, e.clientId, e.name, e.description, e.status].map(escapeKeyText),
    e.mfaEnabled ? "1" : "0", JSON.stringify(e.roles), JSON.stringify(e.directGroups), JSON.stringify(e.groupIds), JSON.stringify(e.groups),
  ].join("\u0001");

export interface DirPartnerRow { id: string; name: string; slug: string | null; region: string | null; status: string; source: string; last_synced_at: number | null }
export interface DirTenantRow { id: string; partner_id: string; name: string; slug: string | null; status: string; source: string; last_synced_at: number | null; created_at: number }

/** A member row of a group tree with its member's cached entry (null columns: no such entry). */
export interface GroupTreeMember {
  group_id: string; member_type: string; member_id: string; added_at: string | null;
  identity_id: string | null; email: string | null; status: string | null;
}

/** A group's member rows per statement on SQLite (~0.5 ms of the loop); PostgreSQL reads a group at once. */
const MEMBER_STRETCH = { sqlite: 1000, postgres: null } as const;
/** A group's member rows counted per statement on SQLite: index entries only (~0.5 ms). */
const COUNT_STRETCH = 10_000;

export interface ListFilter { status?: string; q?: string; page: number; pageSize: number }

/** The identity cache's tables (see migrations.ts). */
export class IdentityStore {
  private readonly keySql: string;

  constructor(readonly db: Database) {
    this.keySql = keySql(db.dialect);
  }

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
  /**
   * The tenant's entries as stored, each as its id, status and comparison key (store.ts
   * StoredEntry), the key joined by the database: a sync compares every entry, and reading each
   * whole (sixteen columns, four JSON lists) was most of its time inside its transaction.
   */
  async storedEntries(tenantId: string, buckets: readonly number[] | "all", tx: Queryable): Promise<StoredEntry[]> {
    if (buckets === "all") return tx.all<StoredEntry>(`SELECT id, status, ${this.keySql} AS key FROM directory_identities WHERE tenant_id = ?`, [tenantId]);
    if (buckets.length === 0) return [];
    return tx.all<StoredEntry>(
      `SELECT id, status, ${this.keySql} AS key FROM directory_identities WHERE tenant_id = ? AND ${inJsonList(this.db.dialect, "bucket", "integer")}`,
      [tenantId, JSON.stringify(buckets)],
    );
  }

  /** Each bucket's digest as last applied (apply.ts withKeys); none for a tenant cached before digests. */
  async entryDigests(tenantId: string, tx: Queryable): Promise<Map<number, string>> {
    const rows = await tx.all<{ bucket: number | string; digest: string }>("SELECT bucket, digest FROM directory_entry_digests WHERE tenant_id = ?", [tenantId]);
    return new Map(rows.map((r) => [Number(r.bucket), r.digest]));
  }

  /** Whether any of the tenant's rows was cached before buckets (migration 0107) and has none. */
  async hasUnbucketed(tenantId: string, tx: Queryable): Promise<boolean> {
    return (await tx.get("SELECT 1 AS found FROM directory_identities WHERE tenant_id = ? AND bucket IS NULL LIMIT 1", [tenantId])) !== undefined;
  }

  /** Records the buckets' digests as applied: a bucket without one (`null`) holds no directory entry. */
  async putEntryDigests(tenantId: string, digests: ReadonlyMap<number, string | null>, tx: Queryable): Promise<void> {
    await putDigests(tx, this.db.dialect, ENTRY_DIGESTS, tenantId, digests);
  }

  /** Gives every row of `ids` its bucket: rows cached before buckets existed have none. */
  async setBuckets(tenantId: string, ids: readonly string[], tx: Queryable): Promise<void> {
    const byBucket = new Map<number, string[]>();
    for (const id of ids) {
      const bucket = bucketOf(id);
      const listed = byBucket.get(bucket);
      if (listed) listed.push(id);
      else byBucket.set(bucket, [id]);
    }
    for (const [bucket, listed] of byBucket) {
      await tx.run(`UPDATE directory_identities SET bucket = ? WHERE tenant_id = ? AND ${inJsonList(this.db.dialect, "id")}`, [bucket, tenantId, JSON.stringify(listed)]);
    }
  }

  /** Whole entries of the tenant by id (the few a sync found changed or gone). */
  async entriesById(tenantId: string, ids: readonly string[], tx: Queryable): Promise<Map<string, DirectoryEntry>> {
    if (ids.length === 0) return new Map();
    const rows = await tx.all<EntryRow>(`SELECT ${ENTRY_COLUMNS} FROM directory_identities WHERE tenant_id = ? AND ${inJsonList(this.db.dialect, "id")}`, [tenantId, JSON.stringify(ids)]);
    return new Map(rows.map((row) => [row.id, toEntry(row)]));
  }

  /** Rewrites an entry the cache holds (new ones go through insertEntries). */
  async updateEntry(e: DirectoryEntry, tx: Queryable): Promise<void> {
    await tx.run(
      "UPDATE directory_identities SET partner_id = ?, kind = ?, identity_id = ?, email = ?, client_id = ?, name = ?, description = ?, status = ?, mfa_enabled = ?, roles = ?, direct_groups = ?, group_ids = ?, groups = ?, last_synced_at = ? WHERE tenant_id = ? AND id = ?",
      [...entryValues(e), e.tenantId, e.id],
    );
  }

  /** Entries new to the cache, in a few multi-row inserts (a tenant's first sync adds all of them). */
  async insertEntries(entries: readonly DirectoryEntry[], tx: Queryable): Promise<void> {
    await insertMany(tx, "directory_identities", [...ENTRY_COLUMNS.split(", "), "bucket"], entries.map((e) => [e.tenantId, e.id, ...entryValues(e), bucketOf(e.id)]));
  }

  /**
   * Direct member rows of each of `groupIds` (one page of a group list), counted along the primary
   * key. On SQLite group by group, a large one `COUNT_STRETCH` rows per statement, with turns of the
   * loop every 2 ms: one GROUP BY held the node ~13 ms per page for each group of 100,000 on it
   * (docs/benchmarks.md round 34). PostgreSQL counts the page's groups in one statement.
   */
  async memberCounts(tenantId: string, groupIds: readonly string[]): Promise<Map<string, number>> {
    if (groupIds.length === 0) return new Map();
    if (this.db.dialect === "sqlite") {
      const counts = new Map<string, number>();
      const slices = new LoopSlices(2);
      for (const groupId of groupIds) {
        let n = 0;
        const from = "FROM directory_members WHERE tenant_id = ? AND group_id = ?";
        // The key is the primary key's rest: a full stretch holds exactly COUNT_STRETCH rows.
        await walkStretches(this.db, { from, params: [tenantId, groupId], key: ["member_type", "member_id"], size: COUNT_STRETCH, slices }, async (bounds, full) => {
          n += full ? COUNT_STRETCH : Number((await this.db.get<{ n: number }>(`SELECT COUNT(*) AS n ${from}${bounds.sql}`, [tenantId, groupId, ...bounds.params]))?.n ?? 0);
        });
        counts.set(groupId, n);
        if (slices.due(1)) await slices.pause();
      }
      return counts;
    }
    const rows = await this.db.all<{ group_id: string; n: number | string }>(
      `SELECT group_id, COUNT(*) AS n FROM directory_members WHERE tenant_id = ? AND ${inJsonList(this.db.dialect, "group_id")} GROUP BY group_id`,
      [tenantId, JSON.stringify(groupIds)],
    );
    return new Map(rows.map((r) => [r.group_id, Number(r.n)]));
  }

  /**
   * One group's member rows in (member_type, member_id) order, each with its member's cached entry
   * when there is one (a nested group's status decides whether its members count). On SQLite
   * along the primary key a stretch of `MEMBER_STRETCH` at a time, with turns of the loop between;
   * PostgreSQL reads the group in one statement, and its rows are put in the code-unit order
   * (`memberOrder`) whatever the database's collation.
   */
  async eachGroupMember(tenantId: string, groupId: string, visit: (row: GroupTreeMember) => void): Promise<void> {
    const size: number | null = MEMBER_STRETCH[this.db.dialect];
    const slices = new LoopSlices(2);
    const from = "FROM directory_members WHERE tenant_id = ? AND group_id = ?";
    await walkStretches(this.db, { from, params: [tenantId, groupId], key: ["member_type", "member_id"], size, slices }, async (bounds) => {
      const rows = await this.db.all<GroupTreeMember>(
        `SELECT m.group_id, m.member_type, m.member_id, m.added_at, e.identity_id, e.email, e.status
           FROM directory_members m LEFT JOIN directory_identities e ON e.tenant_id = m.tenant_id AND e.id = m.member_id
             AND e.kind = CASE m.member_type WHEN 'user' THEN 'user' WHEN 'group' THEN 'group' ELSE 'service_account' END
          WHERE m.tenant_id = ? AND m.group_id = ?${bounds.sql}${size === null ? "" : " ORDER BY m.member_type, m.member_id"}`,
        [tenantId, groupId, ...bounds.params],
      );
      if (size === null) rows.sort(memberOrder);
      for (const row of rows) visit(row);
    });
  }

  /** The entry a credential names in its tenant: by canonical id, else by directory id. */
  async findForCredential(tenantId: string, identityId: string, directoryId: string | null): Promise<DirectoryEntry | undefined> {
    // Two point reads, not one `(identity_id = ? OR id = ?)`: SQLite planned the OR as a walk of
    // the tenant's whole directory, on every credential's first request after each sync. An entry
    // still in the directory wins over a DELETED one with the same canonical id (a user deleted and
    // made again with the same email); among the rest the one written last.
    const row = await this.db.get<EntryRow>(
      `SELECT ${ENTRY_VIEW}, ${GONE} FROM directory_identities WHERE tenant_id = ? AND identity_id = ? AND kind <> 'group'
       UNION ALL SELECT ${ENTRY_VIEW}, ${GONE} FROM directory_identities WHERE tenant_id = ? AND id = ? AND kind <> 'group'
       ORDER BY gone, last_synced_at DESC LIMIT 1`,
      [tenantId, identityId, tenantId, directoryId ?? ""],
    );
    return row ? toEntry(row) : undefined;
  }

  async findEntry(tenantIds: readonly string[], kind: EntryKind, match: { id?: string; identityId?: string }): Promise<DirectoryEntry | undefined> {
    if (tenantIds.length === 0) return undefined;
    const inTenants = inJsonList(this.db.dialect, "tenant_id");
    const tenants = JSON.stringify(tenantIds);
    // Point reads by id and by canonical id (an OR was a walk of the tenant's entries of the kind on SQLite).
    const row = await this.db.get<EntryRow>(
      `SELECT ${ENTRY_VIEW} FROM directory_identities WHERE ${inTenants} AND id = ? AND kind = ?
       UNION ALL SELECT ${ENTRY_VIEW} FROM directory_identities WHERE ${inTenants} AND identity_id = ? AND kind = ?
       ORDER BY tenant_id LIMIT 1`,
      [tenants, match.id ?? "", kind, tenants, match.identityId ?? "", kind],
    );
    return row ? toEntry(row) : undefined;
  }

  /** The entries of `ids` (one page), in id order. */
  private async pageEntries(tenantId: string, ids: readonly string[]): Promise<DirectoryEntry[]> {
    if (ids.length === 0) return [];
    const rows = await this.db.all<EntryRow>(`SELECT ${ENTRY_VIEW} FROM directory_identities WHERE tenant_id = ? AND ${inJsonList(this.db.dialect, "id")} ORDER BY id`, [tenantId, JSON.stringify(ids)]);
    return rows.map(toEntry);
  }

  async listEntries(tenantId: string, kind: EntryKind, filter: ListFilter): Promise<{ items: DirectoryEntry[]; total: number }> {
    const matching: Matching = { sql: [], params: [] };
    if (filter.status) matching.sql.push("status = ?"), matching.params.push(filter.status);
    const needle = filter.q?.toLowerCase().replace(/[%_\\]/g, "");
    // An empty needle matches every entry: no condition at all.
    if (needle) {
      // SQLite's LIKE folds ASCII case itself (and its LOWER folds nothing else): the same matches
      // without two function calls per row, 38 → 23 ms over 100,000 entries on the event loop.
      matching.sql.push(this.db.dialect === "postgres" ? "(LOWER(COALESCE(email, '')) LIKE ? OR LOWER(COALESCE(name, '')) LIKE ?)" : "(email LIKE ? OR name LIKE ?)");
      matching.params.push(`%${needle}%`, `%${needle}%`);
    }
    const offset = (filter.page - 1) * filter.pageSize;
    if (matching.sql.length > 0) {
      const { ids, total } = await matchingIds(this.db, tenantId, kind, matching, { offset, limit: filter.pageSize });
      return { items: await this.pageEntries(tenantId, ids), total };
    }
    if (this.db.dialect === "sqlite") {
      const { ids, total } = await plainPageIds(this.db, tenantId, kind, { offset, limit: filter.pageSize });
      return { items: await this.pageEntries(tenantId, ids), total };
    }
    const clause = "tenant_id = ? AND kind = ?";
    const params: SqlParam[] = [tenantId, kind];
    const rows = await this.db.all<EntryRow>(`SELECT ${ENTRY_VIEW} FROM directory_identities WHERE ${clause} ORDER BY id LIMIT ? OFFSET ?`, [...params, filter.pageSize, offset]);
    // A short page that is not past the end is the last one: its total is known without counting.
    const total = rows.length < filter.pageSize && (rows.length > 0 || offset === 0)
      ? offset + rows.length
      : Number((await this.db.get<{ n: number | string }>(`SELECT COUNT(*) AS n FROM directory_identities WHERE ${clause}`, params))?.n ?? 0);
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
