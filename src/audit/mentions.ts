import { pathProblem } from "../secrets/paths.js";
import type { Dialect, Queryable, SqlParam } from "../storage/contract.js";
import { inJsonList } from "../storage/json-list.js";
import type { SqlArm } from "./filters.js";

/**
 * A batch read's entry is about no path: the paths it read, and those it was denied or failed on,
 * are lists in its extra_data. Each is also a row of `audit_path_mentions` (migration 0531),
 * written with the entry, so that one secret's trail finds the batch reads that named it along
 * (tenant, path, time) and reads only those. Before, it read every batch read of 30 days whose
 * extra_data held the path's text (a LIKE) and parsed each: 10,000 batch reads of 100 long paths
 * each cost 1.8–4.2 s and 300–660 MB per request of the trail (docs/benchmarks.md round 37).
 */
export const MENTIONS = "audit_path_mentions";

export interface PathMention {
  path: string;
  /** `read`: in `paths`; `failed`: in `denied_or_failed`. */
  outcome: "read" | "failed";
}

/** The paths a batch read names (entries about one path, and other actions, name none). */
export function mentionsOf(entry: { secretPath: string | null; action: string; extraData: Record<string, unknown> }): PathMention[] {
  if (entry.secretPath !== null || entry.action !== "read") return [];
  const mentions: PathMention[] = [];
  const seen = new Set<string>();
  const add = (list: unknown, outcome: PathMention["outcome"]) => {
    if (!Array.isArray(list)) return;
    for (const path of list) {
      // Only secret paths: a trail is asked for by one (a refused name may hold anything, NUL
      // included, which PostgreSQL's text refuses, and would fail the entry's write).
      if (typeof path !== "string" || seen.has(path) || pathProblem(path) !== null) continue;
      seen.add(path);
      mentions.push({ path, outcome });
    }
  };
  add(entry.extraData.paths, "read");
  add(entry.extraData.denied_or_failed, "failed");
  return mentions;
}

/** The columns a mention shares with its entry, named as audit_log names them, so filters apply to both. */
interface MentionedRow {
  id: string;
  partner_id: string;
  tenant_id: string | null;
  timestamp: number;
  action: string;
  identity_type: string | null;
  identity_id: string | null;
  success: number;
  status: number;
  mentions?: readonly PathMention[];
}

const COLUMNS = "id, path, outcome, partner_id, tenant_id, timestamp, action, identity_type, identity_id, success, status";
const PER_STATEMENT = 200;

/** In the entries' transaction, before their chain's lane is locked (the rows' ids and times are already set). */
export async function insertMentions(tx: Queryable, rows: readonly MentionedRow[]): Promise<void> {
  const params: SqlParam[] = [];
  let count = 0;
  const flush = async () => {
    if (count === 0) return;
    await tx.run(`INSERT INTO ${MENTIONS} (${COLUMNS}) VALUES ${new Array(count).fill("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)").join(", ")}`, params);
    params.length = 0;
    count = 0;
  };
  for (const row of rows) {
    for (const mention of row.mentions ?? []) {
      params.push(row.id, mention.path, mention.outcome, row.partner_id, row.tenant_id, row.timestamp, row.action, row.identity_type, row.identity_id, row.success, row.status);
      if (++count === PER_STATEMENT) await flush();
    }
  }
  await flush();
}

/** In the transaction that deletes the entries (retention). */
export async function forgetMentions(tx: Queryable, dialect: Dialect, entryIds: readonly string[]): Promise<void> {
  if (entryIds.length > 0) await tx.run(`DELETE FROM ${MENTIONS} WHERE ${inJsonList(dialect, "id")}`, [JSON.stringify(entryIds)]);
}

/** The `path` filter's second arm: batch reads that named the path, read from their mentions (keyset.ts). */
export function mentionArm(path: string): SqlArm {
  return { sql: "path = ?", params: [path], via: MENTIONS };
}
