import { pruneById, type PruneStep } from "../ops/retention.js";
import { randomBase62 } from "../shared/ids.js";
import { isUniqueViolation, type Database, type Queryable, type SqlParam } from "../storage/contract.js";

export type SyncTrigger = "startup" | "scheduled" | "manual" | "webhook";
export type SyncStatus = "pending" | "running" | "completed" | "failed";

export interface SyncStats { seen: number; added: number; updated: number; disabled: number; deleted: number; tokens_revoked: number }
export const emptyStats = (): SyncStats => ({ seen: 0, added: 0, updated: 0, disabled: 0, deleted: 0, tokens_revoked: 0 });

export interface SyncScope { partnerId: string | null; tenantId: string | null }

export interface SyncRecord {
  id: string;
  /** Whose history it belongs to (the caller's or webhook's partner); null for startup/scheduled. */
  partnerId: string | null;
  scope: SyncScope;
  status: SyncStatus;
  trigger: SyncTrigger;
  triggeredBy: string;
  startedAt: number;
  completedAt: number | null;
  stats: SyncStats;
  errors: Array<{ tenant_id: string | null; message: string }>;
}

interface SyncRow {
  id: string; partner_id: string | null; scope_partner_id: string | null; scope_tenant_id: string | null; status: SyncStatus; trigger_kind: SyncTrigger; triggered_by: string;
  started_at: number | string; completed_at: number | string | null; stats: string; errors: string; rerun: number;
}

const COLUMNS = "id, partner_id, scope_partner_id, scope_tenant_id, status, trigger_kind, triggered_by, started_at, completed_at, stats, errors, rerun";
const toRecord = (r: SyncRow): SyncRecord => ({
  id: r.id, partnerId: r.partner_id, scope: { partnerId: r.scope_partner_id, tenantId: r.scope_tenant_id }, status: r.status, trigger: r.trigger_kind, triggeredBy: r.triggered_by,
  startedAt: Number(r.started_at), completedAt: r.completed_at === null ? null : Number(r.completed_at), stats: JSON.parse(r.stats) as SyncStats, errors: JSON.parse(r.errors) as SyncRecord["errors"],
});

const scopeKey = (s: SyncScope) => `${s.partnerId ?? "*"}/${s.tenantId ?? "*"}`;
/** A sync unfinished for this long was abandoned by a node that stopped; it no longer blocks its scope. */
const ABANDONED_MS = 30 * 60_000;

export class SyncStore {
  constructor(private readonly db: Database) {}

  /**
   * A new pending sync for the scope, or the unfinished one already there (`created: false`).
   * `rerun` marks that one to run again once it ends, so a change announced mid-sync is not lost.
   */
  async claim(input: { partnerId: string | null; scope: SyncScope; trigger: SyncTrigger; triggeredBy: string; rerun: boolean }, now = Date.now()): Promise<{ record: SyncRecord; created: boolean }> {
    const key = scopeKey(input.scope);
    for (let attempt = 0; attempt < 3; attempt++) {
      const record: SyncRecord = { id: `sync_${randomBase62(20)}`, partnerId: input.partnerId, scope: input.scope, status: "pending", trigger: input.trigger, triggeredBy: input.triggeredBy, startedAt: now, completedAt: null, stats: emptyStats(), errors: [] };
      try {
        await this.db.run(`INSERT INTO identity_syncs (${COLUMNS}, scope_key) VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, NULL, ?, '[]', 0, ?)`, [
          record.id, record.partnerId, input.scope.partnerId, input.scope.tenantId, record.trigger, record.triggeredBy, now, JSON.stringify(record.stats), key,
        ]);
        return { record, created: true };
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
      }
      const running = await this.db.get<SyncRow>(`SELECT ${COLUMNS} FROM identity_syncs WHERE scope_key = ? AND status IN ('pending', 'running')`, [key]);
      if (!running) continue;
      if (Number(running.started_at) < now - ABANDONED_MS) {
        await this.finish(running.id, "failed", JSON.parse(running.stats) as SyncStats, [{ tenant_id: null, message: "abandoned: the node running it stopped" }], now);
        continue;
      }
      if (input.rerun) await this.db.run("UPDATE identity_syncs SET rerun = 1 WHERE id = ?", [running.id]);
      return { record: toRecord(running), created: false };
    }
    throw new Error("could not claim a sync");
  }

  async markRunning(id: string): Promise<void> {
    await this.db.run("UPDATE identity_syncs SET status = 'running' WHERE id = ? AND status = 'pending'", [id]);
  }

  /** Ends the sync; answers whether a rerun was asked for while it ran. */
  async finish(id: string, status: "completed" | "failed", stats: SyncStats, errors: SyncRecord["errors"], now: number, tx?: Queryable): Promise<boolean> {
    const row = await (tx ?? this.db).get<{ rerun: number }>("SELECT rerun FROM identity_syncs WHERE id = ?", [id]);
    await (tx ?? this.db).run("UPDATE identity_syncs SET status = ?, completed_at = ?, stats = ?, errors = ? WHERE id = ?", [status, now, JSON.stringify(stats), JSON.stringify(errors.slice(0, 100)), id]);
    return Number(row?.rerun ?? 0) === 1;
  }

  async get(id: string): Promise<SyncRecord | undefined> {
    const row = await this.db.get<SyncRow>(`SELECT ${COLUMNS} FROM identity_syncs WHERE id = ?`, [id]);
    return row ? toRecord(row) : undefined;
  }

  /** Newest first; `partnerId` null = every sync (super admins), else that partner's and the global ones. */
  async list(partnerId: string | null, status: string | undefined, limit: number): Promise<{ items: SyncRecord[]; total: number }> {
    const where: string[] = [];
    const params: SqlParam[] = [];
    if (partnerId) where.push("(scope_partner_id = ? OR partner_id = ? OR scope_partner_id IS NULL)"), params.push(partnerId, partnerId);
    if (status) where.push("status = ?"), params.push(status);
    const clause = where.length ? ` WHERE ${where.join(" AND ")}` : "";
    const total = Number((await this.db.get<{ n: number | string }>(`SELECT COUNT(*) AS n FROM identity_syncs${clause}`, params))?.n ?? 0);
    const rows = await this.db.all<SyncRow>(`SELECT ${COLUMNS} FROM identity_syncs${clause} ORDER BY started_at DESC, id DESC LIMIT ?`, [...params, limit]);
    return { items: rows.map(toRecord), total };
  }

  /** Claims the scheduled moment when due: exactly one node's UPDATE changes the row. */
  async claimScheduled(intervalMs: number, now = Date.now()): Promise<boolean> {
    const row = await this.db.get<{ next_at: number | string }>("SELECT next_at FROM identity_sync_schedule WHERE id = 1");
    const due = Number(row?.next_at ?? 0);
    if (due > now) return false;
    // Never scheduled: the startup sync covers now; the first scheduled one is an interval away.
    if (due === 0) {
      await this.db.run("UPDATE identity_sync_schedule SET next_at = ? WHERE id = 1 AND next_at = 0", [now + intervalMs]);
      return false;
    }
    const changed = await this.db.run("UPDATE identity_sync_schedule SET next_at = ? WHERE id = 1 AND next_at = ?", [now + intervalMs, due]);
    return changed.changes === 1;
  }
}

/**
 * Finished syncs older than the cutoff (SCAIVAULT_EVENTS_RETENTION, the window of the sync events
 * they announced): the scheduled sync alone leaves one every 15 minutes and every ScaiKey webhook
 * another, and the history's `total` counts them all. Each scope keeps its newest finished sync, so
 * the history still says when a scope last synced and how that went; the audit trail keeps every
 * sync (`identity_sync`, with its stats) for the tenant's audit retention.
 */
export const FINISHED_SYNCS: readonly PruneStep<"identity_syncs">[] = [
  {
    name: "identity_syncs",
    sql: pruneById(
      "identity_syncs",
      // A scalar subquery, not EXISTS: PostgreSQL turns an EXISTS into a join over every finished
      // sync, while this probes the scope index once per candidate on both backends.
      `completed_at < ? AND completed_at < (SELECT MAX(newest.completed_at) FROM identity_syncs newest WHERE newest.scope_key = identity_syncs.scope_key)`,
    ),
    params: (cutoff) => [cutoff],
  },
];
