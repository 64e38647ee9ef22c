import { nextTurn } from "../shared/turn.js";
import type { Database, SqlParam } from "./contract.js";

/** Rows one page may look at: a filter that matches little gets short pages, not a walk of the table's history. */
export const PAGE_SCAN_LIMIT = 20_000;
/** Rows per step of that walk: a bounded index read between yields to the event loop. */
export const PAGE_WINDOW = 2_000;

export interface Condition {
  sql: string;
  params: SqlParam[];
}

export interface PageSpec {
  table: string;
  /** The index that orders the walk: named to SQLite (`INDEXED BY`), whose planner would otherwise take another for a filter. */
  index: string;
  columns: string;
  /** What the ordering index serves: its leading columns, equal to one value each (a tenant, an owner). */
  scope: Condition[];
  /** What it does not (a kind, a state, "not revoked"): checked on the rows inside each window only. */
  filters: Condition[];
  /** The index's trailing columns that order the list (the last one unique), all one direction. */
  order: readonly [string] | readonly [string, string];
  descending: boolean;
  /** The position after which the page starts: the order columns' values, as `next` gave them. */
  after: readonly SqlParam[] | null;
  limit: number;
}

export interface BoundedPage<Row> {
  rows: Row[];
  /** Where the next page starts, or null at the end: the last row's position, or where the walk stopped. */
  next: SqlParam[] | null;
}

/**
 * One page of a list ordered along an index, whose filters that index cannot serve. Without a bound
 * a filter matching few rows reads the scope's whole history for one page (a tenant's million
 * tokens for `kind=personal`: 2 s of a SQLite node frozen, docs/benchmarks.md round 24). The walk
 * goes in windows of at most PAGE_WINDOW rows along the index — each step finds the window's last position,
 * then the matches inside it — and stops at `limit` rows, the end, or PAGE_SCAN_LIMIT rows looked
 * at: then the page is short (even empty) and `next` says where the walk resumes, as the audit
 * query does (src/audit/query.ts).
 */
export async function boundedPage<Row extends object>(db: Database, spec: PageSpec): Promise<BoundedPage<Row>> {
  const from = db.dialect === "sqlite" ? `${spec.table} INDEXED BY ${spec.index}` : spec.table;
  const order = spec.order.map((column) => `${column}${spec.descending ? " DESC" : ""}`).join(", ");
  const scope = spec.scope.map((c) => c.sql);
  const scopeParams = spec.scope.flatMap((c) => c.params);
  const positionOf = (row: object) => spec.order.map((column) => (row as Record<string, unknown>)[column] as SqlParam);
  const select = (extra: Condition[], limit: number) =>
    db.all<Row>(
      `SELECT ${spec.columns} FROM ${from} WHERE ${[...scope, ...extra.map((c) => c.sql)].join(" AND ")} ORDER BY ${order} LIMIT ?`,
      [...scopeParams, ...extra.flatMap((c) => c.params), limit],
    );
  const finish = (rows: Row[]): BoundedPage<Row> =>
    rows.length > spec.limit ? { rows: rows.slice(0, spec.limit), next: positionOf(rows[spec.limit - 1]) } : { rows, next: null };

  let position = spec.after;
  if (spec.filters.length === 0) return finish(await select(position ? [beyond(spec, position)] : [], spec.limit + 1));

  const rows: Row[] = [];
  // The first window fits twice the page (a filter most rows pass needs no more); each next one is
  // twice as large, up to PAGE_WINDOW.
  let window = Math.min(PAGE_WINDOW, 2 * (spec.limit + 1));
  for (let scanned = 0; ; scanned += window, window = Math.min(PAGE_WINDOW, 2 * window)) {
    // Between windows: on SQLite nothing else would let the node read a socket until the walk ends.
    if (scanned > 0) await nextTurn();
    // Every row up to the last window's edge has been looked at: the next page starts past it.
    if (scanned >= PAGE_SCAN_LIMIT && position) return { rows, next: [...position] };
    const past = position ? [beyond(spec, position)] : [];
    const edge = await db.get<Record<string, unknown>>(
      `SELECT ${spec.order.join(", ")} FROM ${from} WHERE ${[...scope, ...past.map((c) => c.sql)].join(" AND ")} ORDER BY ${order} LIMIT 1 OFFSET ?`,
      [...scopeParams, ...past.flatMap((c) => c.params), window - 1],
    );
    const within = edge ? [...past, upTo(spec, positionOf(edge))] : past;
    rows.push(...(await select([...within, ...spec.filters], spec.limit + 1 - rows.length)));
    if (rows.length > spec.limit || !edge) return finish(rows);
    position = positionOf(edge);
  }
}

/** Strictly after `position` in the walk's order. The leading column also as a plain range: SQLite narrows an index only by that, never by the OR beside it. */
function beyond(spec: PageSpec, position: readonly SqlParam[]): Condition {
  return compare(spec.order, position, spec.descending ? "<" : ">", false);
}

/** At or before `edge` in the walk's order. */
function upTo(spec: PageSpec, edge: readonly SqlParam[]): Condition {
  return compare(spec.order, edge, spec.descending ? ">" : "<", true);
}

function compare(columns: PageSpec["order"], values: readonly SqlParam[], op: "<" | ">", inclusive: boolean): Condition {
  if (columns.length === 1) return { sql: `${columns[0]} ${op}${inclusive ? "=" : ""} ?`, params: [values[0]] };
  return {
    sql: `${columns[0]} ${op}= ? AND (${columns[0]} ${op} ? OR (${columns[0]} = ? AND ${columns[1]} ${op}${inclusive ? "=" : ""} ?))`,
    params: [values[0], values[0], values[0], values[1]],
  };
}

/**
 * The same bound for a page whose filter is code, not SQL (a caller's policy, a tag in JSON
 * metadata): `read` answers up to `n` rows after a position in the list's order, `keep` says which
 * rows the page shows. Stops with more than `limit` kept, at the end, or after PAGE_SCAN_LIMIT rows
 * looked at — then the page is short and `next` is the last row looked at.
 */
export async function boundedScan<Row, Position>(
  read: (after: Position | null, n: number) => Promise<Row[]>, positionOf: (row: Row) => Position, keep: (row: Row) => boolean, after: Position | null, limit: number,
): Promise<{ rows: Row[]; next: Position | null }> {
  const kept: Row[] = [];
  let position = after;
  let chunk = Math.min(PAGE_WINDOW, 2 * (limit + 1));
  for (let scanned = 0; ; scanned += chunk, chunk = Math.min(PAGE_WINDOW, 2 * chunk)) {
    if (scanned > 0) await nextTurn();
    if (scanned >= PAGE_SCAN_LIMIT && position !== null) return { rows: kept, next: position };
    const rows = await read(position, chunk);
    for (const row of rows) {
      if (!keep(row)) continue;
      kept.push(row);
      if (kept.length > limit) return { rows: kept.slice(0, limit), next: positionOf(kept[limit - 1]) };
    }
    if (rows.length < chunk) return { rows: kept, next: null };
    position = positionOf(rows[rows.length - 1]);
  }
}
