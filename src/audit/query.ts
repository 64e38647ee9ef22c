import type { Authorizer } from "../access/authorizer.js";
import { denial } from "../access/authorizer.js";
import type { Caller } from "../http/context.js";
import { decodeCursor, encodeCursor } from "../shared/cursor.js";
import { iso, isoMicros } from "../shared/time.js";
import { nextTurn } from "../shared/turn.js";
import type { Database, Queryable, SqlParam } from "../storage/contract.js";
import { AUDIT_COLUMNS, type AuditRow } from "./chain.js";
import { filterSql, prefixEnd, type Filters } from "./filters.js";
import { armsWithin, keysetPageSql, type Position } from "./keyset.js";
import { MENTIONS } from "./mentions.js";
import type { AuditEntryView } from "./schemas.js";
import type { AuditRollups } from "./rollups.js";
import { AuditSummaries, SUMMARY_DAYS, type Group } from "./summaries.js";
import { visibilityFor, type Visibility } from "./visibility.js";

/** Rows looked at per request at most: a caller who may see little gets short pages, not a table scan. */
const MAX_SCAN = 20_000;
/** Entries a `path_prefix` must match before a SQLite query walks by time instead (see densePrefix). */
const DENSE_PREFIX = 5_000;
/** Entries per step of that walk: a bounded read and sort (a few milliseconds) between yields. */
const WALK_WINDOW = 2_000;
/** Batch reads naming a path that its trail's summary counts at most (the newest). */
const BATCH_LIMIT = 10_000;

export function entryView(row: AuditRow): AuditEntryView {
  let extra: Record<string, unknown> = {};
  try {
    extra = JSON.parse(row.extra_data) as Record<string, unknown>;
  } catch {
    extra = {};
  }
  return {
    id: row.id,
    timestamp: isoMicros(Number(row.timestamp), row.timestamp_us),
    tenant_id: row.tenant_id,
    action: row.action,
    identity_type: row.identity_type,
    identity_id: row.identity_id,
    secret_path: row.secret_path,
    source_ip: row.source_ip,
    user_agent: row.user_agent,
    success: Number(row.success) === 1,
    duration_ms: Number(row.duration_ms),
    request_id: row.request_id,
    extra_data: extra,
    prev_hash: row.prev_hash,
    hash: row.hash,
  };
}

export interface Page {
  logs: AuditEntryView[];
  cursor: string | null;
  has_more: boolean;
}

/** Reads of the trail, newest first, limited to what the caller may see (see visibility.ts). */
export class AuditQueries {
  private readonly summaries: AuditSummaries;

  constructor(private readonly db: Database, private readonly authorizer: Authorizer, rollups: AuditRollups) {
    this.summaries = new AuditSummaries(db, rollups);
  }

  visibility(caller: Caller): Promise<Visibility> {
    return visibilityFor(this.authorizer, caller);
  }

  async logs(caller: Caller, filters: Filters, limit = 100, cursor?: string): Promise<Page> {
    return this.page(await this.visibility(caller), filters, limit, cursor);
  }

  /** Keyset pages over (timestamp, id) descending; rows the caller may not see are skipped. */
  async page(visibility: Visibility, filters: Filters, limit: number, cursor?: string): Promise<Page> {
    const after = decodeCursor<Position>(cursor, { t: "number", id: "string" });
    const { conditions, params, pathArms, from, to } = filterSql(filters, "", { pathAsArms: true, timeApart: true });
    const arms = armsWithin(visibility.scopeArms(), pathArms);
    if (await this.densePrefix(visibility, filters, after)) return this.walkPage(visibility, filters, limit, after);
    const logs: AuditEntryView[] = [];
    let position = after;
    let scanned = 0;
    for (;;) {
      // Between batches, as between the walk's windows: on SQLite the scan would otherwise hold the node.
      if (scanned > 0) await nextTurn();
      const batch = Math.min(1000, Math.max(limit * 2, 100));
      const query = keysetPageSql(arms, conditions, params, { from, to }, position, "newest", batch);
      const rows = await this.db.all<AuditRow>(query.sql, query.params);
      for (const row of rows) {
        scanned++;
        position = { t: Number(row.timestamp), id: row.id };
        if (!visibility.canSee(row)) continue;
        logs.push(entryView(row));
        if (logs.length === limit) return { logs, cursor: encodeCursor(position), has_more: true };
      }
      if (rows.length < batch) return { logs, cursor: null, has_more: false };
      if (scanned >= MAX_SCAN) return { logs, cursor: position ? encodeCursor(position) : null, has_more: true };
    }
  }

  /**
   * A `path_prefix` that DENSE_PREFIX or more of the tenant's entries match (counted on the
   * (tenant_id, secret_path, timestamp) index alone, at most that many). Such a query would fetch
   * and sort every match before the first row comes back. SQLite: 300 ms at 35,000 matches, during
   * which the node answers nobody else (better-sqlite3 runs on the event loop). PostgreSQL: its
   * planner would walk the time index if its statistics knew the prefix is dense, but they lag a
   * burst of recent entries (autovacuum analyzes again only after 10 % growth), so it sorted every
   * match: 180–280 ms at 118,000 (round 18), more as the table grows. This count asks the data.
   */
  private async densePrefix(visibility: Visibility, filters: Filters, after: { t: number } | null | undefined): Promise<boolean> {
    if (!filters.path_prefix) return false;
    const end = prefixEnd(filters.path_prefix);
    const row = await this.db.get<{ n: number }>(
      `SELECT COUNT(*) AS n FROM (SELECT 1 FROM audit_log WHERE tenant_id = ? AND secret_path >= ?${end === null ? "" : " AND secret_path < ?"}${after ? " AND timestamp <= ?" : ""} LIMIT ?) AS matches`,
      [visibility.tenantId, filters.path_prefix, ...(end === null ? [] : [end]), ...(after ? [after.t] : []), DENSE_PREFIX],
    );
    return Number(row?.n ?? 0) >= DENSE_PREFIX;
  }

  /**
   * The same page, walked newest first along the tenant's time index in windows of WALK_WINDOW
   * entries: each step finds the window's oldest entry, then the matches inside the window, so no
   * statement reads or sorts more than a window and the event loop is free between them. Stops at
   * `limit` entries, the end of the trail, or MAX_SCAN entries looked at (a short page with a cursor,
   * as for entries the caller may not see). The windows are cut by the tenant's entries; a partner
   * admin's partner-chain entries (tenant_id null) join the window their time falls in, read along
   * the partner's own time index.
   */
  private async walkPage(visibility: Visibility, filters: Filters, limit: number, after: Position | null | undefined): Promise<Page> {
    if (this.db.dialect === "sqlite") {
      const { conditions, params } = filterSql(filters);
      return this.walk(this.db, visibility, conditions, params, limit, after, { byTime: " INDEXED BY audit_log_tenant_time", byPartnerTime: " INDEXED BY audit_log_partner_time" });
    }
    // PostgreSQL has no index hints, and with lagging statistics it would read each window through
    // the path index (every match of the prefix, per window) or sort a bitmap of the whole trail.
    // Pinned for this read-only transaction: index scans only, and the prefix compared as an
    // expression no index serves — which leaves the time index, the walk's own.
    const { conditions, params } = filterSql(filters, "", { prefixColumn: "(secret_path || '')" });
    return this.db.transaction(async (tx) => {
      await tx.get("SELECT set_config('enable_seqscan', 'off', true), set_config('enable_bitmapscan', 'off', true)");
      return this.walk(tx, visibility, conditions, params, limit, after, { byTime: "", byPartnerTime: "" });
    });
  }

  private async walk(
    q: Queryable, visibility: Visibility, conditions: string[], params: SqlParam[], limit: number, after: Position | null | undefined,
    hints: { byTime: string; byPartnerTime: string },
  ): Promise<Page> {
    const logs: AuditEntryView[] = [];
    const tenant = "tenant_id = ?";
    let position = after ?? null;
    for (let scanned = 0; scanned < MAX_SCAN; ) {
      // Between windows: on SQLite nothing else would let the node read a socket until the walk ends.
      if (scanned > 0) await nextTurn();
      // Each keyset bound also as a plain range on timestamp: SQLite narrows an index only by that,
      // never by the OR beside it, and without it every step would scan the whole trail.
      const newer = position ? " AND timestamp <= ? AND (timestamp < ? OR (timestamp = ? AND id < ?))" : "";
      const newerArgs: SqlParam[] = position ? [position.t, position.t, position.t, position.id] : [];
      const edge = await q.get<{ timestamp: number; id: string }>(
        `SELECT timestamp, id FROM audit_log${hints.byTime} WHERE ${tenant}${newer} ORDER BY timestamp DESC, id DESC LIMIT 1 OFFSET ?`,
        [visibility.tenantId, ...newerArgs, WALK_WINDOW - 1],
      );
      const within = edge ? " AND timestamp >= ? AND (timestamp > ? OR (timestamp = ? AND id >= ?))" : "";
      const edgeArgs: SqlParam[] = edge ? [Number(edge.timestamp), Number(edge.timestamp), Number(edge.timestamp), edge.id] : [];
      const bounds: SqlParam[] = [...newerArgs, ...edgeArgs, ...params];
      const filtered = `${newer}${within} AND ${conditions.join(" AND ")}`;
      const partner = visibility.includePartnerChain
        ? ` UNION ALL SELECT ${AUDIT_COLUMNS} FROM audit_log${hints.byPartnerTime} WHERE tenant_id IS NULL AND partner_id = ?${filtered}`
        : "";
      // No more rows than the page can still take (twice, for entries the caller may not see).
      const cap = Math.max(2 * (limit - logs.length), 100);
      const rows = await q.all<AuditRow>(
        `SELECT ${AUDIT_COLUMNS} FROM audit_log${hints.byTime} WHERE ${tenant}${filtered}${partner} ORDER BY timestamp DESC, id DESC LIMIT ?`,
        [visibility.tenantId, ...bounds, ...(visibility.includePartnerChain ? [visibility.partnerId, ...bounds] : []), cap],
      );
      for (const row of rows) {
        if (!visibility.canSee(row)) continue;
        logs.push(entryView(row));
        if (logs.length === limit) return { logs, cursor: encodeCursor({ t: Number(row.timestamp), id: row.id }), has_more: true };
      }
      if (rows.length === cap) {
        // The window has more matches than were read: go on from the last one read, in it.
        const last = rows[rows.length - 1];
        position = { t: Number(last.timestamp), id: last.id };
        scanned += rows.length;
        continue;
      }
      if (!edge) return { logs, cursor: null, has_more: false };
      position = { t: Number(edge.timestamp), id: edge.id };
      scanned += WALK_WINDOW;
    }
    return { logs, cursor: encodeCursor(position!), has_more: true };
  }

  async summary(caller: Caller, range: { from?: string; to?: string }) {
    return this.summaries.summary(await this.visibility(caller), range);
  }

  /** Who touched one secret: the entries, and a 30-day summary of who read it and when. */
  async secretTrail(caller: Caller, path: string, query: Filters & { limit?: number; cursor?: string }) {
    const visibility = await this.visibility(caller);
    if (!visibility.canReadPath(path)) throw denial({ allowed: false, code: "access_denied", policyId: null, ruleIndex: null, failedCondition: null }, "read");
    const { limit, cursor, ...filters } = query;
    // The caller may read the path, so every entry about it is shown: the page's arms find only
    // entries about it and batch reads that named it (their mentions), nothing else.
    const onPath: Visibility = { ...visibility, canSee: () => true };
    const page = await this.page(onPath, { ...filters, path }, limit ?? 100, cursor);
    const since = Date.now() - SUMMARY_DAYS * 86_400_000;
    const groups = await this.summaries.groups(visibility, { exactPath: path, from: iso(since) });
    groups.push(...(await this.batchReads(visibility, path, since)));
    const readers = new Map<string, { identity_id: string; identity_type: string | null; reads: number; last_read_at: number }>();
    let lastRead: { at: number; by: string | null } | null = null;
    for (const g of groups) {
      if (g.action !== "read" || Number(g.success) !== 1) continue;
      const at = Number(g.last_at);
      if (!lastRead || at > lastRead.at) lastRead = { at, by: g.identity_id };
      if (g.identity_id === null) continue;
      const entry = readers.get(g.identity_id) ?? { identity_id: g.identity_id, identity_type: g.identity_type, reads: 0, last_read_at: 0 };
      entry.reads += Number(g.n);
      entry.last_read_at = Math.max(entry.last_read_at, at);
      readers.set(g.identity_id, entry);
    }
    const sum = (pick: (g: Group) => boolean) => groups.filter(pick).reduce((s, g) => s + Number(g.n), 0);
    return {
      path,
      ...page,
      summary: {
        period_days: SUMMARY_DAYS,
        total_events: sum(() => true),
        reads: sum((g) => g.action === "read" && Number(g.success) === 1),
        writes: sum((g) => g.action === "write" && Number(g.success) === 1),
        failed_events: sum((g) => Number(g.success) !== 1),
        unique_identities: new Set(groups.map((g) => g.identity_id).filter((id) => id !== null)).size,
        last_read_at: lastRead ? iso(lastRead.at) : null,
        last_read_by: lastRead?.by ?? null,
        readers: [...readers.values()].sort((a, b) => b.last_read_at - a.last_read_at).map((r) => ({ ...r, last_read_at: iso(r.last_read_at) })),
      },
    };
  }

  /**
   * The newest BATCH_LIMIT batch reads since `since` that named `path`, counted by who and how:
   * from their mentions (mentions.ts), along (owner, path, time), a row of a few columns each.
   */
  private async batchReads(visibility: Visibility, path: string, since: number): Promise<Group[]> {
    const groups: Group[] = [];
    for (const arm of visibility.scopeArms()) {
      const rows = await this.db.all<{ identity_id: string | null; identity_type: string | null; outcome: string; status: number; n: number; first_at: number; last_at: number }>(
        `SELECT identity_id, identity_type, outcome, status, COUNT(*) AS n, MIN(timestamp) AS first_at, MAX(timestamp) AS last_at
           FROM (SELECT identity_id, identity_type, outcome, status, timestamp FROM ${MENTIONS} WHERE ${arm.sql} AND path = ? AND timestamp >= ? ORDER BY timestamp DESC LIMIT ?) AS recent
          GROUP BY identity_id, identity_type, outcome, status`,
        [...arm.params, path, since, BATCH_LIMIT],
      );
      for (const row of rows) {
        groups.push({ secret_path: path, identity_id: row.identity_id, identity_type: row.identity_type, action: "read", success: row.outcome === "read" ? 1 : 0, status: row.status, n: row.n, first_at: row.first_at, last_at: row.last_at });
      }
    }
    return groups;
  }

  /** What one identity did (offboarding): the entries the caller may see, and a 30-day summary. */
  async identityTrail(caller: Caller, identityId: string, query: Filters & { limit?: number; cursor?: string }) {
    const visibility = await this.visibility(caller);
    const { limit, cursor, ...filters } = query;
    const page = await this.page(visibility, { ...filters, identity_id: identityId }, limit ?? 100, cursor);
    const groups = await this.summaries.groups(visibility, { identity_id: identityId, from: iso(Date.now() - SUMMARY_DAYS * 86_400_000) });
    const byAction: Record<string, number> = {};
    let first: number | null = null;
    let last: number | null = null;
    for (const g of groups) {
      byAction[g.action] = (byAction[g.action] ?? 0) + Number(g.n);
      last = Math.max(last ?? 0, Number(g.last_at));
      first = Math.min(first ?? Number.MAX_SAFE_INTEGER, Number(g.first_at));
    }
    const sum = (pick: (g: Group) => boolean) => groups.filter(pick).reduce((s, g) => s + Number(g.n), 0);
    return {
      identity_id: identityId,
      ...page,
      summary: {
        period_days: SUMMARY_DAYS,
        total_events: sum(() => true),
        successful_events: sum((g) => Number(g.success) === 1),
        failed_events: sum((g) => Number(g.success) !== 1),
        by_action: byAction,
        paths_accessed: new Set(groups.map((g) => g.secret_path).filter((p) => p !== null)).size,
        first_seen: first !== null ? iso(first) : null,
        last_seen: last !== null ? iso(last) : null,
      },
    };
  }
}
