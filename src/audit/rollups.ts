import { nextTurn } from "../shared/turn.js";
import type { Database, Queryable } from "../storage/contract.js";
import type { SqlArm } from "./filters.js";
import { claimJob } from "./jobs.js";
import { ownerOf, type ChainOwner, type ChainScope } from "./owners.js";

export const DAY_MS = 86_400_000;
/**
 * A day is counted once it ended this long ago. An entry is stamped by its node's clock when the
 * request is recorded and becomes visible when its transaction commits (a statement deadline
 * later at most): this covers both, with node clocks within an hour of each other.
 */
const GRACE_MS = 3_600_000;
/** Entries per piece of a SQLite day (one transaction, 10–40 ms of the node); PostgreSQL counts a day in one statement. */
const SQLITE_PIECE = 10_000;
/** Pieces (days on PostgreSQL) per owner per run: a years-long trail is counted over several runs. */
const PIECES_PER_RUN = 256;
/**
 * Summaries read an owner's counts only where they hold at most a quarter as many groups as the
 * entries they count: summing a count row costs ~2.4× counting an entry (measured, 1M entries in
 * 1M groups: 4.8–5.0 s from the counts against ~2.0 s entry by entry, PostgreSQL).
 */
const MIN_COMPRESSION = 4;
/**
 * Entries an owner's counts are judged on: if they compress less, its counting starts over from
 * the newest ended day (and what was written goes), so a trail of as many groups as entries (every
 * secret read by few, rarely) keeps at most about this many count rows, not a second trail.
 */
const TRIAL_ENTRIES = 50_000;

interface StateRow {
  rolled_from: number | string;
  rolled_to: number | string;
  counted_entries: number | string;
  counted_groups: number | string;
}

const dayOf = (t: number): number => Math.floor(t / DAY_MS) * DAY_MS;

/** The columns a day's entries are counted by, in both tables. */
export const ROLLUP_GROUP = "secret_path, identity_id, identity_type, action, success, status";

/** Of [from, to): the whole days one owner's rollups count (`rolled`), and what must be read entry by entry (`raw`). */
export interface OwnerSpan {
  key: string;
  scope: ChainScope;
  rolled: { from: number; to: number } | null;
  raw: { from: number; to: number }[];
}

/**
 * Per-day counts of each chain owner's entries by (path, identity, action, outcome), written by a
 * background job for days that have ended, so that a summary of 30 days reads ~30 days of counts
 * and only the partial days at its ends entry by entry. `audit_rollup_state` says which span
 * [rolled_from, rolled_to) of an owner's trail the counts cover exactly: counting moves rolled_to
 * forward (a compare-and-set, so two nodes never count a piece twice), pruning moves rolled_from
 * past what it deleted (and drops those days' counts) in the transaction that deletes the entries.
 * An entry written with a stamp inside an already counted span (a node clock more than GRACE_MS
 * behind) would not be counted by summaries; entries stamped before an owner's first counted day
 * are read one by one.
 */
export class AuditRollups {
  private readonly sqlitePiece: number;
  private readonly trialEntries: number;

  constructor(private readonly db: Database, private readonly intervalMs: number, options: { sqlitePiece?: number; trialEntries?: number } = {}) {
    this.sqlitePiece = options.sqlitePiece ?? SQLITE_PIECE;
    this.trialEntries = options.trialEntries ?? TRIAL_ENTRIES;
  }

  /** One counting pass, claimed once per interval across nodes. Returns the pieces counted. */
  async runPeriodic(now = Date.now()): Promise<number> {
    if (!(await claimJob(this.db, "rollup", this.intervalMs, now))) return 0;
    return this.run(now);
  }

  /** Counts every owner's ended days not yet counted (a parameter so tests can move the clock). */
  async run(now = Date.now()): Promise<number> {
    const owners = await this.db.all<ChainOwner>("SELECT DISTINCT tenant_id, partner_id FROM audit_chain_heads");
    let pieces = 0;
    for (const owner of owners) pieces += await this.countOwner(owner, now);
    return pieces;
  }

  private async countOwner(owner: ChainOwner, now: number): Promise<number> {
    const { key, scope } = ownerOf(owner);
    const closed = dayOf(now - GRACE_MS);
    const resumeAt = await this.rolledTo(key, scope);
    if (resumeAt === null) return 0;
    let rolledTo = resumeAt;
    // Counts a restart (below) left outside the span in an earlier run: a summary that read the
    // state before then has long finished, and none reads them since.
    await this.db.run("DELETE FROM audit_rollups WHERE owner = ? AND day < (SELECT rolled_from FROM audit_rollup_state WHERE owner = ?)", [key, key]);
    let pieces = 0;
    while (rolledTo < closed && pieces < PIECES_PER_RUN) {
      if (pieces > 0) await nextTurn();
      const next = await this.db.get<{ t: number | string | null }>(`SELECT MIN(timestamp) AS t FROM audit_log WHERE ${scope.sql} AND timestamp >= ?`, [...scope.params, rolledTo]);
      // No entry between rolledTo and the next one's day: the piece starts at that entry.
      const first = next?.t === null || next?.t === undefined ? null : Number(next.t);
      const day = first === null ? closed : Math.min(dayOf(first), closed);
      const start = Math.max(rolledTo, day);
      let end = day === closed ? closed : day + DAY_MS;
      if (day < closed && this.db.dialect === "sqlite") {
        const edge = await this.db.get<{ timestamp: number | string }>(
          `SELECT timestamp FROM audit_log WHERE ${scope.sql} AND timestamp >= ? AND timestamp < ? ORDER BY timestamp LIMIT 1 OFFSET ?`,
          [...scope.params, start, end, this.sqlitePiece],
        );
        // Thousands of entries in one millisecond would make an empty piece: take that millisecond whole.
        if (edge) end = Math.max(Number(edge.timestamp), start + 1);
      }
      const from = rolledTo;
      const counted = await this.db.transaction(async (tx): Promise<{ entries: number; groups: number } | null> => {
        const claimed = await tx.run("UPDATE audit_rollup_state SET rolled_to = ? WHERE owner = ? AND rolled_to = ?", [end, key, from]);
        if (claimed.changes !== 1) return null;
        if (day >= closed) return { entries: 0, groups: 0 };
        const groups = await tx.run(
          `INSERT INTO audit_rollups (owner, day, ${ROLLUP_GROUP}, n, first_at, last_at)
           SELECT ?, ?, ${ROLLUP_GROUP}, COUNT(*), MIN(timestamp), MAX(timestamp) FROM audit_log
            WHERE ${scope.sql} AND timestamp >= ? AND timestamp < ? GROUP BY ${ROLLUP_GROUP}`,
          [key, day, ...scope.params, start, end],
        );
        const entries = await tx.get<{ n: number | string }>(`SELECT COUNT(*) AS n FROM audit_log WHERE ${scope.sql} AND timestamp >= ? AND timestamp < ?`, [...scope.params, start, end]);
        const totals = await tx.get<{ counted_entries: number | string; counted_groups: number | string }>(
          "UPDATE audit_rollup_state SET counted_entries = counted_entries + ?, counted_groups = counted_groups + ? WHERE owner = ? RETURNING counted_entries, counted_groups",
          [Number(entries?.n ?? 0), groups.changes, key],
        );
        return { entries: Number(totals!.counted_entries), groups: Number(totals!.counted_groups) };
      });
      // Another node counted this piece, or pruning moved past it: it goes on from there next run.
      if (!counted) return pieces;
      rolledTo = end;
      pieces++;
      if (counted.entries >= this.trialEntries && counted.groups * MIN_COMPRESSION > counted.entries) {
        await this.db.run(
          "UPDATE audit_rollup_state SET rolled_from = ?, rolled_to = ?, counted_entries = 0, counted_groups = 0 WHERE owner = ? AND rolled_to = ?",
          [closed, closed, key, end],
        );
        return pieces;
      }
    }
    return pieces;
  }

  /** Where counting goes on for `key`; its state starts on the day of its oldest entry. Null: no entries yet. */
  private async rolledTo(key: string, scope: SqlArm): Promise<number | null> {
    const state = await this.db.get<{ rolled_to: number | string }>("SELECT rolled_to FROM audit_rollup_state WHERE owner = ?", [key]);
    if (state) return Number(state.rolled_to);
    const oldest = await this.db.get<{ t: number | string | null }>(`SELECT MIN(timestamp) AS t FROM audit_log WHERE ${scope.sql}`, scope.params);
    if (oldest?.t === null || oldest?.t === undefined) return null;
    const start = dayOf(Number(oldest.t));
    await this.db.run("INSERT INTO audit_rollup_state (owner, rolled_from, rolled_to) VALUES (?, ?, ?) ON CONFLICT (owner) DO NOTHING", [key, start, start]);
    const created = await this.db.get<{ rolled_to: number | string }>("SELECT rolled_to FROM audit_rollup_state WHERE owner = ?", [key]);
    return created ? Number(created.rolled_to) : null;
  }

  /**
   * In pruning's transaction, after it deleted `owner`'s entries stamped up to `newest`: the counts
   * of those days go, and the counted span starts after them. A counting transaction on another
   * node that read those entries before the deletion committed counted a day before the new span:
   * if it committed first, the DELETE here (a statement after it) drops its rows; if it still holds
   * the state row, the UPDATE here waits for it and the same follows; if it reaches the state row
   * after this transaction, its compare-and-set finds rolled_to moved, or it counts only entries
   * after the new span's start, which pruning did not touch. Summaries read no day before rolled_from.
   */
  async forget(tx: Queryable, owner: ChainOwner, newest: number): Promise<void> {
    const { key } = ownerOf(owner);
    const from = dayOf(newest) + DAY_MS;
    const moved = await tx.run(
      "UPDATE audit_rollup_state SET rolled_from = ?, rolled_to = CASE WHEN rolled_to < ? THEN ? ELSE rolled_to END WHERE owner = ? AND rolled_from < ?",
      [from, from, from, key, from],
    );
    if (moved.changes === 1) await tx.run("DELETE FROM audit_rollups WHERE owner = ? AND day < ?", [key, from]);
  }

  /** For each owner, how [from, to) splits into counted days and spans read entry by entry. */
  async spans(owners: ChainOwner[], from: number, to: number): Promise<OwnerSpan[]> {
    const spans: OwnerSpan[] = [];
    for (const owner of owners) {
      const { key, scope } = ownerOf(owner);
      const row = await this.db.get<StateRow>("SELECT rolled_from, rolled_to, counted_entries, counted_groups FROM audit_rollup_state WHERE owner = ?", [key]);
      const state = row && Number(row.counted_groups) * MIN_COMPRESSION <= Number(row.counted_entries) ? row : undefined;
      const lo = state ? Math.max(Math.ceil(from / DAY_MS) * DAY_MS, Number(state.rolled_from)) : 0;
      // The day rolled_to falls in is counted in part only: it is read entry by entry.
      const hi = state ? Math.min(dayOf(to), dayOf(Number(state.rolled_to))) : 0;
      spans.push(
        lo < hi
          ? { key, scope, rolled: { from: lo, to: hi }, raw: [{ from, to: lo }, { from: hi, to }].filter((r) => r.from < r.to) }
          : { key, scope, rolled: null, raw: [{ from, to }] },
      );
    }
    return spans;
  }

  /**
   * The counts of `span`'s days per `columns` (a subset of ROLLUP_GROUP), `extra` narrowing them
   * as it would the entries. SQLite reads day by day with a turn between (a day's counts can be as
   * many as its entries); PostgreSQL sums the span in one statement.
   */
  async count<Row>(key: string, span: { from: number; to: number }, columns: readonly string[], extra: SqlArm[], each: (rows: Row[]) => void): Promise<void> {
    const step = this.db.dialect === "sqlite" ? DAY_MS : span.to - span.from;
    for (let day = span.from; day < span.to; day += step) {
      if (day > span.from) await nextTurn();
      each(
        await this.db.all<Row>(
          `SELECT ${columns.join(", ")}, SUM(n) AS n, MIN(first_at) AS first_at, MAX(last_at) AS last_at FROM audit_rollups
            WHERE ${["owner = ?", "day >= ?", "day < ?", ...extra.map((arm) => arm.sql)].join(" AND ")} GROUP BY ${columns.join(", ")}`,
          [key, day, Math.min(day + step, span.to), ...extra.flatMap((arm) => arm.params)],
        ),
      );
    }
  }
}
