import { nextTurn } from "../shared/turn.js";
import type { Database, SqlParam } from "./contract.js";

/** Rowids per statement on SQLite: ~2 ms of the loop at most (a million secrets in 50 statements). */
const ROWIDS = 20_000;

/**
 * How many of `table`'s rows meet `where`, for a gauge read at scrape time. One COUNT over a table
 * of a million secrets held a SQLite node's loop 82–86 ms at each reading (docs/benchmarks.md round
 * 33); SQLite counts here along the table's rowids a stretch at a time, with a turn of the loop
 * between. Rows written during the count may or may not be in it, as with any reading of a gauge.
 * PostgreSQL counts in one statement: the database scans while the node serves others.
 */
export async function countInStretches(db: Database, table: string, where: string, params: readonly SqlParam[] = [], rowids = ROWIDS): Promise<number> {
  if (db.dialect !== "sqlite") return Number((await db.get<{ n: number | string }>(`SELECT COUNT(*) AS n FROM ${table} WHERE ${where}`, params))?.n ?? 0);
  // Each end alone: SQLite reads a lone MIN or MAX off the b-tree's edge, but both in one SELECT by a scan (50 ms at a million).
  const span = await db.get<{ low: number | null; high: number | null }>(`SELECT (SELECT MIN(rowid) FROM ${table}) AS low, (SELECT MAX(rowid) FROM ${table}) AS high`);
  if (span?.low === null || span?.low === undefined || span.high === null) return 0;
  let count = 0;
  for (let from = span.low; from <= span.high; from += rowids) {
    if (from > span.low) await nextTurn();
    const row = await db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table} WHERE rowid >= ? AND rowid < ? AND (${where})`, [from, from + rowids, ...params]);
    count += Number(row?.n ?? 0);
  }
  return count;
}

/** Index entries per statement on SQLite for `countAlongIndex`: ~1 ms of the loop. */
const INDEX_STRETCH = 10_000;

/**
 * How many rows of `table` meet `where`, an equality that leads one of its indexes (`policy_id =
 * ?`). SQLite walks that index's entries in rowid order, `stretch` per statement with a turn of the
 * loop between: a rotation policy over a million secrets counted in one statement held a SQLite
 * node ~100 ms at every read of the policy (docs/benchmarks.md round 33). PostgreSQL counts in one
 * statement. Outside transactions only: on SQLite a turn taken inside one would hold the writer.
 */
export async function countAlongIndex(db: Database, table: string, where: string, params: readonly SqlParam[], stretch = INDEX_STRETCH): Promise<number> {
  if (db.dialect !== "sqlite") return Number((await db.get<{ n: number | string }>(`SELECT COUNT(*) AS n FROM ${table} WHERE ${where}`, params))?.n ?? 0);
  let counted = 0;
  let after = Number.MIN_SAFE_INTEGER;
  for (;;) {
    const end = await db.get<{ rowid: number }>(`SELECT rowid FROM ${table} WHERE ${where} AND rowid > ? ORDER BY rowid LIMIT 1 OFFSET ${stretch - 1}`, [...params, after]);
    if (!end) {
      const rest = await db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table} WHERE ${where} AND rowid > ?`, [...params, after]);
      return counted + Number(rest?.n ?? 0);
    }
    counted += stretch;
    after = end.rowid;
    await nextTurn();
  }
}
