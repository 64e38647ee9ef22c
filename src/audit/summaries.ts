import { iso } from "../shared/time.js";
import { nextTurn } from "../shared/turn.js";
import type { Database } from "../storage/contract.js";
import { CountMerger, type Counted } from "./counts.js";
import { filterSql, type Filters, type SqlArm } from "./filters.js";
import { walkTimeWindows } from "./keyset.js";
import type { AuditRollups, OwnerSpan } from "./rollups.js";
import type { Visibility } from "./visibility.js";

/** The span of the per-secret and per-identity summaries, and the default of `GET /v1/audit/summary`. */
export const SUMMARY_DAYS = 30;
/** Entries per window of a SQLite summary's counting (see count): 10–35 ms of its time each, measured. */
const GROUP_WINDOW = 5_000;

/** Entries per kind: who did what, with which outcome. */
interface KindCount extends Counted {
  identity_id: string | null;
  identity_type: string | null;
  action: string;
  success: number;
  status: number;
}
const KIND_COLUMNS = ["identity_id", "identity_type", "action", "success", "status"] as const;

/** Entries per path (entries about a path only). */
interface PathCount extends Counted {
  secret_path: string;
}
interface NullPathCount extends Counted {
  secret_path: null;
}

/** Entries per path and kind. */
export interface Group extends KindCount {
  secret_path: string | null;
}
const GROUP_COLUMNS = ["secret_path", ...KIND_COLUMNS] as const;

/** Counts of the trail for summaries, limited to what the caller may see: never the entries themselves. */
export class AuditSummaries {
  constructor(private readonly db: Database, private readonly rollups: AuditRollups) {}

  /**
   * Visible (path, identity, action, outcome) groups with counts (see count): for the per-secret and
   * per-identity summaries, whose filters keep the groups few.
   */
  async groups(visibility: Visibility, filters: Filters): Promise<Group[]> {
    const merged = new CountMerger<Group>(GROUP_COLUMNS);
    for (const arm of visibility.scopeArms()) await this.count(arm, filters, GROUP_COLUMNS, [], merged);
    return merged.rows().filter((row) => visibility.canSee(row));
  }

  /**
   * The entries of one chain arm that match, counted per value of `columns` (with the first and
   * last time of each) into `into`; `extra` narrows further. Never loads the rows themselves. On
   * SQLite, counted window by window, newest first, each window GROUP_WINDOW of the arm's matching
   * entries (cut along the index the filters use, like the walk's), with a turn of the event loop
   * before each: as one GROUP BY, a 30-day summary of 1M entries held the node 2.0–2.4 s (answering
   * nobody); windowed, a request beside it waits at most ~260 ms. PostgreSQL counts in one
   * statement: its node stays responsive meanwhile, and windows cost it 3.5× the time. An arm that
   * names its time index (a summary's, filtered by time alone) is read along it on SQLite: grouped
   * by path alone, SQLite preferred the (tenant, path) index, which spares it a sort but reads the
   * tenant's whole trail for every window (80–110 ms a window at 1M entries; 17–20 s a summary).
   */
  private async count<Row extends Counted>(
    arm: SqlArm & { timeIndex?: string }, filters: Filters, columns: readonly string[], extra: SqlArm[], into: CountMerger<Row>, range?: { from: number; to: number },
  ): Promise<void> {
    const parsed = filterSql(filters, "", { timeApart: true });
    const { conditions, params } = parsed;
    const from = range ? range.from : parsed.from;
    const to = range ? range.to : parsed.to;
    const narrower = [...conditions, ...extra.map((e) => e.sql)];
    const narrowerParams = [...params, ...extra.flatMap((e) => e.params)];
    const along = this.db.dialect === "sqlite" && arm.timeIndex ? ` INDEXED BY ${arm.timeIndex}` : "";
    await walkTimeWindows(this.db, { sql: [arm.sql, ...conditions], params: [...arm.params, ...params] }, { from, to }, GROUP_WINDOW, async (inWindow) => {
      into.add(
        await this.db.all<Row>(
          `SELECT ${columns.join(", ")}, COUNT(*) AS n, MIN(timestamp) AS first_at, MAX(timestamp) AS last_at
             FROM audit_log${along} WHERE ${[arm.sql, ...narrower, ...inWindow.sql].join(" AND ")}
            GROUP BY ${columns.join(", ")}`,
          [...arm.params, ...narrowerParams, ...inWindow.params],
        ),
      );
    });
  }

  /**
   * A summary's counts per `columns` over [from, to): for each chain the caller sees, its whole
   * days counted by the rollups (rollups.ts) and the rest (the partial days at the ends, days not
   * counted yet) entry by entry.
   */
  private async summaryCount<Row extends Counted>(spans: OwnerSpan[], columns: readonly string[], extra: SqlArm[]): Promise<Row[]> {
    const merged = new CountMerger<Row>(columns);
    for (const span of spans) {
      for (const raw of span.raw) await this.count(span.scope, {}, columns, extra, merged, raw);
      if (span.rolled) await this.rollups.count<Row>(span.key, span.rolled, columns, extra, (rows) => merged.add(rows));
    }
    return merged.rows();
  }

  /**
   * The summary's counts: entries per visible path, and per (identity, action, outcome) of the
   * visible entries. When the caller may read every path the range mentions (an admin, a reader of
   * everything), these are two narrow counts, the second restricted in SQL exactly as canSee does
   * for entries about no path. Counting one group per (path, identity, action, outcome) instead
   * returned ~100,000 groups for 1M entries and held a PostgreSQL node ~0.5 s parsing and merging
   * them. A caller who may read only some of the paths is counted by those groups, each checked.
   */
  private async summaryCounts(visibility: Visibility, from: number, to: number): Promise<{ paths: PathCount[]; kinds: KindCount[] }> {
    const spans = await this.rollups.spans(visibility.owners(), from, to);
    // Entries about no path make one group here, dropped after: as a condition, `secret_path IS NOT
    // NULL` is a range on the (tenant, path) index, which SQLite then reads whole.
    const paths = (await this.summaryCount<PathCount | NullPathCount>(spans, ["secret_path"], [])).filter((row): row is PathCount => row.secret_path !== null);
    let everyPathVisible = true;
    for (const [i, row] of paths.entries()) {
      // Each path's policy decision is a few microseconds; 100,000 of them would hold the node.
      if (i % GROUP_WINDOW === GROUP_WINDOW - 1) await nextTurn();
      if (!visibility.canReadPath(row.secret_path)) {
        everyPathVisible = false;
        break;
      }
    }
    if (!everyPathVisible) {
      const groups = (await this.summaryCount<Group>(spans, GROUP_COLUMNS, [])).filter((row) => visibility.canSee(row));
      return { paths: groups.filter((g): g is Group & PathCount => g.secret_path !== null), kinds: groups };
    }
    // canSee for an entry about no path: an admin sees it, anyone else only its own.
    const ownUnlessAdmin: SqlArm[] = visibility.isAdmin ? [] : [{ sql: "(secret_path IS NOT NULL OR identity_id = ?)", params: [visibility.identityId] }];
    return { paths, kinds: await this.summaryCount<KindCount>(spans, KIND_COLUMNS, ownUnlessAdmin) };
  }

  async summary(visibility: Visibility, range: { from?: string; to?: string }) {
    const now = Date.now();
    const from = range.from ?? iso(now - SUMMARY_DAYS * 86_400_000);
    const to = range.to ?? iso(now);
    const bounds = filterSql({ from, to }, "", { timeApart: true });
    // An empty `from` or `to` (accepted as no bound, as by the other audit queries) spans everything.
    const { paths, kinds } = await this.summaryCounts(visibility, bounds.from ?? 0, bounds.to ?? Number.MAX_SAFE_INTEGER);
    const count = (list: KindCount[]) => list.reduce((sum, g) => sum + Number(g.n), 0);
    const tally = <T extends Counted>(list: T[], key: (g: T) => string | null) => {
      const out = new Map<string, number>();
      for (const g of list) {
        const k = key(g);
        if (k !== null) out.set(k, (out.get(k) ?? 0) + Number(g.n));
      }
      return out;
    };
    const top = (map: Map<string, number>, name: string) =>
      [...map.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, 10).map(([k, events]) => ({ [name]: k, events }));
    const identities = tally(kinds, (g) => g.identity_id);
    const pathTotals = tally(paths, (g) => g.secret_path);
    return {
      from,
      to,
      total_events: count(kinds),
      successful_events: count(kinds.filter((g) => Number(g.success) === 1)),
      failed_events: count(kinds.filter((g) => Number(g.success) !== 1)),
      denied_events: count(kinds.filter((g) => Number(g.status) === 401 || Number(g.status) === 403)),
      unique_identities: identities.size,
      unique_paths: pathTotals.size,
      by_action: Object.fromEntries(tally(kinds, (g) => g.action)),
      by_identity_type: Object.fromEntries(tally(kinds, (g) => g.identity_type ?? "anonymous")),
      top_identities: top(identities, "identity_id"),
      top_paths: top(pathTotals, "path"),
    };
  }
}
