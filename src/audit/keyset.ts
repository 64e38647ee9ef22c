import { nextTurn } from "../shared/turn.js";
import type { Database, SqlParam } from "../storage/contract.js";
import { AUDIT_COLUMNS } from "./chain.js";
import type { SqlArm } from "./filters.js";

/** Where a page of the trail goes on from: the last entry of the previous page (a type: cursors encode it). */
export type Position = { t: number; id: string };

/**
 * One page of entries in (timestamp, id) order after `after`: newest first for reads, oldest
 * first for exports. Each arm of the caller's scope (its tenant; a partner admin's partner chain
 * too) is its own ordered, limited SELECT, so each reads along its own time index and stops at
 * the limit; the arms are then merged. One OR over both made SQLite and PostgreSQL read every
 * entry of the tenant and sort them (875 ms per page on SQLite at 1M entries). The keyset bound is
 * also a plain range on timestamp: neither engine narrows an index by the OR beside it, and without
 * the range each later page began reading at the newest (or oldest) entry again. `conditions` hold
 * no time bounds (filterSql's `timeApart`): `range` and the cursor are merged into one per side.
 */
export function keysetPageSql(
  arms: readonly SqlArm[], conditions: readonly string[], params: readonly SqlParam[], range: TimeRange, after: Position | null | undefined, order: "newest" | "oldest", limit: number,
): { sql: string; params: SqlParam[] } {
  const newest = order === "newest";
  const beyond = newest ? "<" : ">";
  const direction = newest ? "DESC" : "ASC";
  // One bound per side, the narrower: the cursor's timestamp (inclusive: ties are split by id) or the range's own.
  const bounds = timeBounds(newest ? range : { ...range, from: after ? Math.max(after.t, range.from ?? after.t) : range.from }, newest ? after?.t : undefined);
  const tie = after ? [`(timestamp ${beyond} ? OR (timestamp = ? AND id ${beyond} ?))`] : [];
  const tieParams: SqlParam[] = after ? [after.t, after.t, after.id] : [];
  const orderBy = `ORDER BY timestamp ${direction}, id ${direction}`;
  const select = (arm: SqlArm) => {
    const where = [arm.sql, ...conditions, ...bounds.sql, ...tie].join(" AND ");
    const armParams = [...arm.params, ...params, ...bounds.params, ...tieParams, limit];
    // An arm through another table pages that table's rows (its own index, its own columns), then reads their entries.
    if (arm.via) return { sql: `SELECT ${AUDIT_COLUMNS} FROM audit_log WHERE id IN (SELECT id FROM ${arm.via} WHERE ${where} ${orderBy} LIMIT ?) ${orderBy}`, params: armParams };
    return { sql: `SELECT ${AUDIT_COLUMNS} FROM audit_log WHERE ${where} ${orderBy} LIMIT ?`, params: armParams };
  };
  if (arms.length === 1) return select(arms[0]);
  const parts = arms.map(select);
  return {
    sql: `${parts.map((part, i) => `SELECT * FROM (${part.sql}) AS arm${i}`).join(" UNION ALL ")} ${orderBy} LIMIT ?`,
    params: [...parts.flatMap((part) => part.params), limit],
  };
}

/** `from` inclusive, `to` exclusive (epoch ms), as filterSql parses them. */
export interface TimeRange {
  from?: number;
  to?: number;
}

/**
 * At most one condition per side: `timestamp >= from`, and `timestamp < to` or, when it is lower,
 * `timestamp <= through`. Two bounds on one side would let SQLite narrow its index by the wider.
 */
export function timeBounds(range: TimeRange, through?: number): { sql: string[]; params: SqlParam[] } {
  const sql: string[] = [];
  const params: SqlParam[] = [];
  if (range.from !== undefined) sql.push("timestamp >= ?"), params.push(range.from);
  if (through !== undefined && (range.to === undefined || through < range.to)) sql.push("timestamp <= ?"), params.push(through);
  else if (range.to !== undefined) sql.push("timestamp < ?"), params.push(range.to);
  return { sql, params };
}

/** Every scope arm with every filter arm (none: the scope's arms as they are). */
export function armsWithin(scope: readonly SqlArm[], filter: readonly SqlArm[] | null): SqlArm[] {
  if (!filter) return [...scope];
  return scope.flatMap((outer) => filter.map((inner) => ({ sql: `${outer.sql} AND ${inner.sql}`, params: [...outer.params, ...inner.params], via: outer.via ?? inner.via })));
}

/**
 * Walks the entries that `edge` selects newest first, a window of `size` of them at a time: each
 * window is [the timestamp of its `size`th entry, the previous window's edge), so entries sharing
 * an edge's timestamp fall in one window, and `visit` reads the window with those time bounds.
 * On SQLite, which answers on the event loop, with a turn before each window; PostgreSQL reads
 * `range` in one window (the database works while the node serves others). `visit` returns true to
 * stop. Used where a statement would otherwise read a whole range of the trail in one piece.
 */
export async function walkTimeWindows(
  db: Database, edge: { sql: string[]; params: readonly SqlParam[] }, range: TimeRange, size: number,
  visit: (inWindow: { sql: string[]; params: SqlParam[] }) => Promise<boolean | void>,
): Promise<void> {
  const windowed = db.dialect === "sqlite";
  let upper = range.to;
  for (;;) {
    if (windowed) await nextTurn();
    const bounds = timeBounds({ from: range.from, to: upper });
    const end = windowed
      ? await db.get<{ timestamp: number | string }>(
          `SELECT timestamp FROM audit_log WHERE ${[...edge.sql, ...bounds.sql].join(" AND ")} ORDER BY timestamp DESC LIMIT 1 OFFSET ?`,
          [...edge.params, ...bounds.params, size - 1],
        )
      : undefined;
    // The edge lies within `range.from` (its own bound); without one this is the last window.
    if (await visit(timeBounds({ from: end ? Number(end.timestamp) : range.from, to: upper }))) return;
    if (!end) return;
    upper = Number(end.timestamp);
  }
}
