import type { Database, SqlParam } from "../storage/contract.js";
import { LoopSlices } from "../shared/turn.js";
import { walkStretches } from "../storage/stretches.js";
import type { EntryKind } from "./store.js";

/**
 * Entries per statement of a filtered list: ~0.35 ms of SQLite's loop each. On PostgreSQL the
 * database scans while the node serves others, and stretches only cost time (100,000 users in
 * stretches of 20,000: 60–90 → ~100 ms per search), so there the whole kind is one stretch.
 */
const STRETCH = { sqlite: 1000, postgres: null } as const;

/** A search is a request: the loop turns every 2 ms of it (8 ms slices left turns of 17 ms, measured). */
const SLICE_MS = 2;

export interface Matching {
  /** Conditions every listed entry meets, joined by AND. */
  sql: string[];
  params: SqlParam[];
}

/**
 * The ids of a tenant's entries of `kind` that match, in id order, from the `offset`th match
 * (at most `limit` of them), and how many match in all. A substring search cannot use an index,
 * so it reads every entry of the kind; in one statement that held a SQLite node's loop 13–44 ms
 * at 100,000 users per search, for any `identity:read` caller (docs/benchmarks.md round 33). Here
 * it reads them along `(tenant_id, kind, id)` a stretch at a time, with turns of the loop between
 * (every 2 ms), each entry once: one statement finds where the stretch ends, the next lists its
 * matches.
 */
export async function matchingIds(
  db: Database, tenantId: string, kind: EntryKind, matching: Matching, window: { offset: number; limit: number },
): Promise<{ ids: string[]; total: number }> {
  const slices = new LoopSlices(SLICE_MS);
  const ids: string[] = [];
  let total = 0;
  const from = "FROM directory_identities WHERE tenant_id = ? AND kind = ?";
  const size: number | null = STRETCH[db.dialect];
  await walkStretches(db, { from, params: [tenantId, kind], key: ["id"], size, slices }, async (bounds) => {
    const hits = await db.all<{ id: string }>(`SELECT id ${from}${bounds.sql} AND ${matching.sql.join(" AND ")} ORDER BY id`, [tenantId, kind, ...bounds.params, ...matching.params]);
    for (const hit of hits) {
      if (total >= window.offset && ids.length < window.limit) ids.push(hit.id);
      total++;
    }
  });
  return { ids, total };
}

/** Entries per statement of a plain page's count and skip on SQLite: index entries only (~0.5 ms). */
const PLAIN_STRETCH = 10_000;

/**
 * A plain page (no filter) of a tenant's entries of `kind` on SQLite: the ids from the `offset`th
 * (at most `limit`) and how many there are. The total was one `COUNT` over the kind's index
 * entries and a deep page one `OFFSET` over them, each in one statement on the loop (8 and 11 ms
 * at 100,000 users, per request, for any `identity:read` caller; round 34). Here both go along
 * `(tenant_id, kind, id)` a stretch at a time with turns of the loop every 2 ms; a full stretch
 * holds exactly PLAIN_STRETCH entries (ids are unique), so only the last is counted.
 */
export async function plainPageIds(db: Database, tenantId: string, kind: EntryKind, window: { offset: number; limit: number }): Promise<{ ids: string[]; total: number }> {
  const slices = new LoopSlices(SLICE_MS);
  const from = "FROM directory_identities WHERE tenant_id = ? AND kind = ?";
  const ids: string[] = [];
  let total = 0;
  await walkStretches(db, { from, params: [tenantId, kind], key: ["id"], size: PLAIN_STRETCH, slices }, async (bounds, full) => {
    const params = [tenantId, kind, ...bounds.params];
    const inStretch = full ? PLAIN_STRETCH : Number((await db.get<{ n: number }>(`SELECT COUNT(*) AS n ${from}${bounds.sql}`, params))?.n ?? 0);
    const next = window.offset + ids.length;
    if (ids.length < window.limit && next < total + inStretch) {
      const rows = await db.all<{ id: string }>(`SELECT id ${from}${bounds.sql} ORDER BY id LIMIT ? OFFSET ?`, [...params, window.limit - ids.length, next - total]);
      ids.push(...rows.map((row) => row.id));
    }
    total += inStretch;
  });
  return { ids, total };
}
