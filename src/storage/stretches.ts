import type { LoopSlices } from "../shared/turn.js";
import type { Database, SqlParam } from "./contract.js";

/** Conditions to AND into a statement (each with a leading " AND "), and their parameters. */
export interface Bounds {
  sql: string;
  params: SqlParam[];
}

export interface StretchWalk {
  /** `FROM … WHERE …` of the rows walked, ending in a condition (stretch bounds are ANDed after it). */
  from: string;
  params: readonly SqlParam[];
  /** Columns of the index walked, in its order; the walk goes by their values (a row value when several). */
  key: readonly string[];
  /** Where the walk begins, on the key (` AND created_at >= ?`); none: at the start of `from`. */
  start?: Bounds;
  /** Rows per stretch; null: the whole walk is one stretch, read by `visit` alone. */
  size: number | null;
  /** Runs each statement of the walk (an audit walk's `SliceWalk.read`); by default, as it is. */
  read?: <T>(statement: () => Promise<T>) => Promise<T>;
  /** The loop's slices the walk takes: between stretches a turn when `size` more rows make one due. */
  slices?: LoopSlices;
}

/**
 * Walks rows along an index a stretch at a time: one statement finds the key of the stretch's
 * `size`th row, then `visit` reads the stretch with the bounds given (after the previous end, up
 * to and including this one); rows sharing a key value with a stretch's end stay in that stretch.
 * Each statement reads at most a stretch, so on SQLite, which answers on the event loop, no
 * statement holds the node for the whole range. `visit` returns true to stop the walk; `full` says
 * the stretch ends at its `size`th row (over a unique key it holds exactly `size` rows).
 */
export async function walkStretches(db: Database, walk: StretchWalk, visit: (bounds: Bounds, full: boolean) => Promise<boolean | void>): Promise<void> {
  const read = walk.read ?? (<T>(statement: () => Promise<T>) => statement());
  const columns = walk.key.join(", ");
  const tuple = walk.key.length === 1 ? columns : `(${columns})`;
  const marks = walk.key.length === 1 ? "?" : `(${walk.key.map(() => "?").join(", ")})`;
  let after: SqlParam[] | null = null;
  for (;;) {
    const lower: Bounds = after ? { sql: ` AND ${tuple} > ${marks}`, params: after } : (walk.start ?? { sql: "", params: [] });
    const end: Record<string, SqlParam> | undefined = walk.size === null ? undefined : await read(() => db.get<Record<string, SqlParam>>(
      `SELECT ${columns} ${walk.from}${lower.sql} ORDER BY ${columns} LIMIT 1 OFFSET ${walk.size! - 1}`,
      [...walk.params, ...lower.params],
    ));
    const through = end ? walk.key.map((column) => end[column]) : null;
    const upper: Bounds = through ? { sql: ` AND ${tuple} <= ${marks}`, params: through } : { sql: "", params: [] };
    if (await visit({ sql: `${lower.sql}${upper.sql}`, params: [...lower.params, ...upper.params] }, through !== null)) return;
    if (!through) return;
    after = through;
    if (walk.slices?.due(walk.size ?? 1)) await walk.slices.pause();
  }
}
