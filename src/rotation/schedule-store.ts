import { pruneById, type PruneStep } from "../ops/retention.js";
import { boundedPage } from "../storage/bounded-page.js";
import type { Database, Queryable, SqlParam } from "../storage/contract.js";
import { reshapedCycleSql } from "./cycle.js";
import type { RotationPolicyRow } from "./policy-store.js";

export type CycleState = "scheduled" | "due" | "overdue";

export interface ScheduleRow {
  tenant_id: string;
  path: string;
  partner_id: string;
  policy_id: string;
  /** The cycle's start: the later of the assignment and the last rotation. */
  anchor_at: number;
  last_rotated_at: number | null;
  due_at: number;
  state: CycleState;
  /** How many of the policy's warn_before thresholds this cycle has passed. */
  warned: number;
  next_fire_at: number | null;
  pending_history_id: string | null;
  updated_at: number;
}

/**
 * Rotation history retention (**ext** `SCAIVAULT_ROTATION_HISTORY_RETENTION`, 365 d, `off`): a
 * finished rotation older than the window goes, unless it is the newest finished one of its secret
 * under its policy (the history still says when each secret last rotated and how that went).
 * Rotations still pending stay. The audit trail keeps every rotation for the tenant's retention.
 */
export const FINISHED_ROTATIONS: readonly PruneStep<"rotation_history">[] = [
  {
    name: "rotation_history",
    sql: pruneById(
      "rotation_history",
      // A scalar subquery, as for identity syncs: one probe of the secret index per candidate.
      `completed_at < ? AND completed_at < (SELECT MAX(newest.completed_at) FROM rotation_history newest
        WHERE newest.tenant_id = rotation_history.tenant_id AND newest.policy_id = rotation_history.policy_id AND newest.path = rotation_history.path)`,
    ),
    params: (cutoff) => [cutoff],
  },
];

export interface HistoryRow {
  id: string;
  tenant_id: string;
  policy_id: string;
  path: string;
  status: "success" | "failed" | "pending";
  trigger_kind: "schedule" | "manual";
  old_version: number | null;
  new_version: number | null;
  auto_generated: number;
  reason: string | null;
  due_at: number | null;
  created_at: number;
  completed_at: number | null;
}

export interface WatchRow {
  tenant_id: string;
  path: string;
  partner_id: string;
  expires_at: number;
  notify_before: string | null;
  fired: string;
  next_fire_at: number | null;
}

const SCHEDULE_COLUMNS = ["tenant_id", "path", "partner_id", "policy_id", "anchor_at", "last_rotated_at", "due_at", "state", "warned", "next_fire_at", "pending_history_id", "updated_at"] as const;
const HISTORY_COLUMNS = ["id", "tenant_id", "policy_id", "path", "status", "trigger_kind", "old_version", "new_version", "auto_generated", "reason", "due_at", "created_at", "completed_at"] as const;
const WATCH_COLUMNS = ["tenant_id", "path", "partner_id", "expires_at", "notify_before", "fired", "next_fire_at"] as const;

/** A secret's place in the key order `(tenant_id, path)` that reconciliation sweeps. */
export interface SweepKey {
  t: string;
  p: string;
}

/** A stretch of that order: after `from` (null: from the start), up to and with `to` (null: to the end). */
export interface KeyRange {
  from: SweepKey | null;
  to: SweepKey | null;
}

/**
 * The condition that `alias`'s (tenant_id, path) lies in the range: row-value comparisons, which
 * both backends serve as a range of the primary key (the spelled-out OR form made SQLite scan it).
 */
function inRange(alias: string, range: KeyRange): { sql: string; params: string[] } {
  const sql = ["1 = 1"];
  const params: string[] = [];
  if (range.from) {
    sql.push(`(${alias}.tenant_id, ${alias}.path) > (?, ?)`);
    params.push(range.from.t, range.from.p);
  }
  if (range.to) {
    sql.push(`(${alias}.tenant_id, ${alias}.path) <= (?, ?)`);
    params.push(range.to.t, range.to.p);
  }
  return { sql: sql.join(" AND "), params };
}

const placeholders = (n: number) => Array.from({ length: n }, () => "?").join(", ");
const pick = (row: object, columns: readonly string[]) => columns.map((c) => (row as Record<string, SqlParam>)[c] ?? null);

type WatchAndScheduleRow = { watch: WatchRow | null; schedule: ScheduleRow | null };

/** Both rows locked, each as JSON (every column is text or an integer well inside JSON's exact range). */
const WATCH_AND_SCHEDULE = `WITH w AS (SELECT ${WATCH_COLUMNS.join(", ")} FROM secret_expiry_watch WHERE tenant_id = ? AND path = ? FOR UPDATE),
      s AS (SELECT ${SCHEDULE_COLUMNS.join(", ")} FROM rotation_schedules WHERE tenant_id = ? AND path = ? FOR UPDATE)
 SELECT (SELECT row_to_json(w) FROM w) AS watch, (SELECT row_to_json(s) FROM s) AS schedule`;

/** Why a rotation still pending failed when its secret left the policy. */
export const DETACHED = "detached from the policy";

/** Schedules, history and expiry watches: the scheduler's state, all in the shared database. */
export class ScheduleStore {
  /** Reads sent ahead by `readAheadWatchAndSchedule`, per transaction, taken by `watchAndSchedule`. */
  private readonly early = new WeakMap<Queryable, { key: string; rows: () => Promise<WatchAndScheduleRow[] | null> }>();
  private readonly skipLocked: string;
  private readonly forUpdate: string;

  constructor(private readonly db: Database) {
    this.forUpdate = db.dialect === "postgres" ? " FOR UPDATE" : "";
    this.skipLocked = db.dialect === "postgres" ? " FOR UPDATE SKIP LOCKED" : "";
  }

  /**
   * Takes the secret's row lock, the one every writer of that secret takes first (PUT, rotation,
   * attach), or reports that another transaction holds it (PostgreSQL; SQLite has one writer).
   */
  async claimSecret(tx: Queryable, tenantId: string, path: string, wait: boolean): Promise<boolean> {
    const lock = wait ? this.forUpdate : this.skipLocked;
    return (await tx.get(`SELECT path FROM secrets WHERE tenant_id = ? AND path = ?${lock}`, [tenantId, path])) !== undefined;
  }

  async getSchedule(tenantId: string, path: string, tx?: Queryable): Promise<ScheduleRow | undefined> {
    return (tx ?? this.db).get<ScheduleRow>(`SELECT ${SCHEDULE_COLUMNS.join(", ")} FROM rotation_schedules WHERE tenant_id = ? AND path = ?${tx ? this.forUpdate : ""}`, [tenantId, path]);
  }

  /**
   * The expiry watch and the rotation schedule every secret write keeps in step, both row-locked
   * as `getWatch` and `getSchedule` lock them: on PostgreSQL in one statement, or in none of its
   * own when `readAheadWatchAndSchedule` sent it with the secret's row lock.
   */
  async watchAndSchedule(tx: Queryable, tenantId: string, path: string): Promise<{ watch?: WatchRow; schedule?: ScheduleRow }> {
    if (this.db.dialect !== "postgres") return { watch: await this.getWatch(tx, tenantId, path), schedule: await this.getSchedule(tenantId, path, tx) };
    const early = this.early.get(tx);
    this.early.delete(tx);
    const rows = early?.key === `${tenantId}\0${path}` ? await early.rows() : null;
    const row = rows ? rows[0] : await tx.get<WatchAndScheduleRow>(WATCH_AND_SCHEDULE, [tenantId, path, tenantId, path]);
    return { watch: row?.watch ?? undefined, schedule: row?.schedule ?? undefined };
  }

  /**
   * PostgreSQL, before a write takes the secret's row lock: `watchAndSchedule`'s read goes out
   * in the same message, right after that lock (`Queryable.alongFirst`), instead of a round trip
   * of its own later. Nothing in between changes either row: every writer of them holds the
   * secret's row lock first, and the write itself touches neither before `afterWrite`.
   */
  readAheadWatchAndSchedule(tx: Queryable, tenantId: string, path: string): void {
    if (this.db.dialect !== "postgres") return;
    const rows = tx.alongFirst?.<WatchAndScheduleRow>(WATCH_AND_SCHEDULE, [tenantId, path, tenantId, path]);
    if (rows) this.early.set(tx, { key: `${tenantId}\0${path}`, rows });
  }

  async putSchedule(tx: Queryable, row: ScheduleRow): Promise<void> {
    await tx.run("DELETE FROM rotation_schedules WHERE tenant_id = ? AND path = ?", [row.tenant_id, row.path]);
    await tx.run(`INSERT INTO rotation_schedules (${SCHEDULE_COLUMNS.join(", ")}) VALUES (${placeholders(SCHEDULE_COLUMNS.length)})`, pick(row, SCHEDULE_COLUMNS));
  }

  async deleteSchedule(tx: Queryable, tenantId: string, path: string): Promise<number> {
    return (await tx.run("DELETE FROM rotation_schedules WHERE tenant_id = ? AND path = ?", [tenantId, path])).changes;
  }

  /**
   * Every scheduled cycle of the policy reshaped to its changed interval or warn_before in one
   * statement (`reshapedCycleSql`); cycles already due or overdue keep their moment.
   */
  async reshapeCycles(tx: Queryable, policy: RotationPolicyRow, now: number): Promise<number> {
    const { dueAt, warned, nextFire } = reshapedCycleSql(policy, now);
    return (
      await tx.run(
        `UPDATE rotation_schedules SET due_at = ${dueAt.sql}, warned = ${warned.sql}, next_fire_at = ${nextFire.sql}, updated_at = ?
          WHERE tenant_id = ? AND policy_id = ? AND state = 'scheduled'`,
        [...dueAt.params, ...warned.params, ...nextFire.params, now, policy.tenant_id, policy.id],
      )
    ).changes;
  }

  /**
   * Detaches every secret of the policy (the policy is going): each secret's link is cleared, a
   * rotation still pending fails, and its schedule goes; returns how many schedules went. A handful
   * of statements whatever the count: a statement per secret held a SQLite node ~0.3 s for 20,000.
   * On PostgreSQL the secrets' row locks come first, in path order, as a writer of one takes it.
   */
  async detachAll(tx: Queryable, tenantId: string, policyId: string, now: number): Promise<number> {
    const ofPolicy = "SELECT path FROM rotation_schedules WHERE tenant_id = ? AND policy_id = ?";
    if (this.db.dialect === "postgres") {
      await tx.get(`SELECT COUNT(*) AS n FROM (SELECT path FROM secrets WHERE tenant_id = ? AND path IN (${ofPolicy}) ORDER BY path FOR UPDATE) locked`, [tenantId, tenantId, policyId]);
    }
    await tx.run(
      `UPDATE rotation_history SET status = 'failed', new_version = NULL, reason = ?, completed_at = ?
        WHERE id IN (SELECT pending_history_id FROM rotation_schedules WHERE tenant_id = ? AND policy_id = ? AND pending_history_id IS NOT NULL)`,
      [DETACHED, now, tenantId, policyId],
    );
    await tx.run(`UPDATE secrets SET rotation_policy_id = NULL, updated_at = ? WHERE tenant_id = ? AND path IN (${ofPolicy})`, [now, tenantId, tenantId, policyId]);
    return (await tx.run("DELETE FROM rotation_schedules WHERE tenant_id = ? AND policy_id = ?", [tenantId, policyId])).changes;
  }

  async schedulesOf(tenantId: string, policyId: string, tx?: Queryable): Promise<ScheduleRow[]> {
    return (tx ?? this.db).all<ScheduleRow>(`SELECT ${SCHEDULE_COLUMNS.join(", ")} FROM rotation_schedules WHERE tenant_id = ? AND policy_id = ? ORDER BY path`, [tenantId, policyId]);
  }

  /** Secrets whose next moment has come, under active policies, oldest first. */
  async firing(now: number, limit: number): Promise<{ tenant_id: string; partner_id: string; path: string }[]> {
    return this.db.all(
      `SELECT r.tenant_id, r.partner_id, r.path FROM rotation_schedules r JOIN rotation_policies p ON p.id = r.policy_id
        WHERE r.next_fire_at IS NOT NULL AND r.next_fire_at <= ? AND p.is_active = 1 ORDER BY r.next_fire_at LIMIT ?`,
      [now, limit],
    );
  }

  /** The soonest future moment of either kind, so the loop can sleep until then. */
  async nextMoment(): Promise<number | null> {
    const row = await this.db.get<{ a: number | null; b: number | null }>(
      `SELECT (SELECT MIN(r.next_fire_at) FROM rotation_schedules r JOIN rotation_policies p ON p.id = r.policy_id WHERE p.is_active = 1) AS a,
              (SELECT MIN(next_fire_at) FROM secret_expiry_watch) AS b`,
    );
    const values = [row?.a, row?.b].filter((v): v is number => v !== null && v !== undefined).map(Number);
    return values.length ? Math.min(...values) : null;
  }

  /**
   * Up to `limit` of a tenant's schedules in (due_at, path) order after `after` (GET /v1/rotation/due
   * filters them): first those due by `until`, then those whose cycle is due or overdue whatever
   * their due_at says. Two index ranges, the second wholly after the first (its due_at are past
   * `until`), and no other condition, so a statement reads at most `limit` index entries however
   * few of them the caller may see.
   */
  async dueWindow(tenantId: string, until: number, after: { d: number; p: string } | null, limit: number): Promise<ScheduleRow[]> {
    const keyset = after ? " AND (due_at > ? OR (due_at = ? AND path > ?))" : "";
    const position = after ? [after.d, after.d, after.p] : [];
    const select = (index: string, range: string, count: number) =>
      this.db.all<ScheduleRow>(
        `SELECT ${SCHEDULE_COLUMNS.join(", ")} FROM rotation_schedules${this.db.dialect === "sqlite" ? ` INDEXED BY ${index}` : ""}
          WHERE tenant_id = ? AND ${range}${keyset} ORDER BY due_at, path LIMIT ?`,
        [tenantId, until, ...position, count],
      );
    const due = await select("rotation_schedules_due", "due_at <= ?", limit);
    if (due.length === limit) return due;
    return [...due, ...(await select("rotation_schedules_unsettled", "state <> 'scheduled' AND due_at > ?", limit - due.length))];
  }

  async insertHistory(tx: Queryable, row: HistoryRow): Promise<void> {
    await tx.run(`INSERT INTO rotation_history (${HISTORY_COLUMNS.join(", ")}) VALUES (${placeholders(HISTORY_COLUMNS.length)})`, pick(row, HISTORY_COLUMNS));
  }

  async completeHistory(tx: Queryable, id: string, status: "success" | "failed", fields: { new_version: number | null; reason: string | null; completed_at: number }): Promise<HistoryRow | undefined> {
    await tx.run("UPDATE rotation_history SET status = ?, new_version = ?, reason = ?, completed_at = ? WHERE id = ?", [status, fields.new_version, fields.reason, fields.completed_at, id]);
    return tx.get<HistoryRow>(`SELECT ${HISTORY_COLUMNS.join(", ")} FROM rotation_history WHERE id = ?`, [id]);
  }

  async getHistory(tx: Queryable, id: string): Promise<HistoryRow | undefined> {
    return tx.get<HistoryRow>(`SELECT ${HISTORY_COLUMNS.join(", ")} FROM rotation_history WHERE id = ?`, [id]);
  }

  /** One page of a policy's history, newest first; a status filter is checked on a bounded walk (storage/bounded-page.ts). */
  async history(tenantId: string, policyId: string, status: string | null, after: { c: number; i: string } | null, limit: number): Promise<{ rows: HistoryRow[]; next: { c: number; i: string } | null }> {
    const page = await boundedPage<HistoryRow>(this.db, {
      table: "rotation_history",
      index: "rotation_history_list",
      columns: HISTORY_COLUMNS.join(", "),
      scope: [{ sql: "tenant_id = ?", params: [tenantId] }, { sql: "policy_id = ?", params: [policyId] }],
      filters: status ? [{ sql: "status = ?", params: [status] }] : [],
      order: ["created_at", "id"],
      descending: true,
      after: after ? [after.c, after.i] : null,
      limit,
    });
    return { rows: page.rows, next: page.next === null ? null : { c: Number(page.next[0]), i: String(page.next[1]) } };
  }

  /** Starts the grace clock of the version a rotation replaced. */
  async setGrace(tx: Queryable, tenantId: string, path: string, version: number, graceUntil: number): Promise<void> {
    await tx.run("UPDATE secret_versions SET grace_until = ? WHERE tenant_id = ? AND path = ? AND version = ?", [graceUntil, tenantId, path, version]);
  }

  async setSecretPolicyLink(tx: Queryable, tenantId: string, path: string, policyId: string | null, now: number): Promise<void> {
    await tx.run("UPDATE secrets SET rotation_policy_id = ?, updated_at = ? WHERE tenant_id = ? AND path = ?", [policyId, now, tenantId, path]);
  }

  /**
   * The reconciliation's next stretch of the key order: `size` secrets after `after`, to the last of
   * them (`to: null` once fewer are left: the stretch runs to the end, and the sweep starts over).
   */
  async sweepStretch(after: SweepKey | null, size: number): Promise<KeyRange> {
    const from = inRange("s", { from: after, to: null });
    const end = await this.db.get<{ tenant_id: string; path: string }>(
      `SELECT s.tenant_id, s.path FROM secrets s WHERE ${from.sql} ORDER BY s.tenant_id, s.path LIMIT 1 OFFSET ?`,
      [...from.params, size - 1],
    );
    return { from: after, to: end ? { t: end.tenant_id, p: end.path } : null };
  }

  /** In a stretch: secrets whose rotation_policy_id and schedule disagree, and schedules whose secret is gone or unlinked. */
  async unsynced(range: KeyRange, limit: number): Promise<{ tenant_id: string; path: string }[]> {
    const secrets = inRange("s", range);
    const schedules = inRange("r", range);
    return this.db.all(
      `SELECT s.tenant_id, s.path FROM secrets s LEFT JOIN rotation_schedules r ON r.tenant_id = s.tenant_id AND r.path = s.path
        WHERE ${secrets.sql} AND s.rotation_policy_id IS NOT NULL AND (r.policy_id IS NULL OR r.policy_id <> s.rotation_policy_id)
          AND EXISTS (SELECT 1 FROM rotation_policies p WHERE p.id = s.rotation_policy_id AND p.tenant_id = s.tenant_id)
       UNION
       SELECT r.tenant_id, r.path FROM rotation_schedules r LEFT JOIN secrets s ON s.tenant_id = r.tenant_id AND s.path = r.path
        WHERE ${schedules.sql} AND (s.path IS NULL OR s.rotation_policy_id IS NULL OR s.rotation_policy_id <> r.policy_id)
       LIMIT ?`,
      [...secrets.params, ...schedules.params, limit],
    );
  }

  // --- expiry watches ---

  async getWatch(tx: Queryable, tenantId: string, path: string): Promise<WatchRow | undefined> {
    return tx.get<WatchRow>(`SELECT ${WATCH_COLUMNS.join(", ")} FROM secret_expiry_watch WHERE tenant_id = ? AND path = ?${this.forUpdate}`, [tenantId, path]);
  }

  async putWatch(tx: Queryable, row: WatchRow): Promise<void> {
    await tx.run("DELETE FROM secret_expiry_watch WHERE tenant_id = ? AND path = ?", [row.tenant_id, row.path]);
    await tx.run(`INSERT INTO secret_expiry_watch (${WATCH_COLUMNS.join(", ")}) VALUES (${placeholders(WATCH_COLUMNS.length)})`, pick(row, WATCH_COLUMNS));
  }

  async deleteWatch(tx: Queryable, tenantId: string, path: string): Promise<void> {
    await tx.run("DELETE FROM secret_expiry_watch WHERE tenant_id = ? AND path = ?", [tenantId, path]);
  }

  async watchesFiring(now: number, limit: number): Promise<{ tenant_id: string; path: string }[]> {
    return this.db.all("SELECT tenant_id, path FROM secret_expiry_watch WHERE next_fire_at IS NOT NULL AND next_fire_at <= ? ORDER BY next_fire_at LIMIT ?", [now, limit]);
  }

  /** In a stretch: secrets whose expiry or thresholds differ from their watch, and watches whose secret is gone or no longer expires. */
  async unwatched(range: KeyRange, limit: number): Promise<{ tenant_id: string; path: string }[]> {
    const secrets = inRange("s", range);
    const watches = inRange("w", range);
    return this.db.all(
      `SELECT s.tenant_id, s.path FROM secrets s LEFT JOIN secret_expiry_watch w ON w.tenant_id = s.tenant_id AND w.path = s.path
        WHERE ${secrets.sql} AND s.expires_at IS NOT NULL
          AND (w.expires_at IS NULL OR w.expires_at <> s.expires_at OR COALESCE(w.notify_before, '') <> COALESCE(s.notify_before, ''))
       UNION
       SELECT w.tenant_id, w.path FROM secret_expiry_watch w LEFT JOIN secrets s ON s.tenant_id = w.tenant_id AND s.path = w.path
        WHERE ${watches.sql} AND (s.path IS NULL OR s.expires_at IS NULL)
       LIMIT ?`,
      [...secrets.params, ...watches.params, limit],
    );
  }
}
