import { validationError } from "../http/errors.js";
import type { SqlParam } from "../storage/contract.js";
import { mentionArm } from "./mentions.js";

export interface Filters {
  from?: string;
  to?: string;
  action?: string;
  identity_id?: string;
  identity_type?: string;
  path_prefix?: string;
  /** One secret's entries, batch reads that name it included (the per-secret trail). */
  path?: string;
  /** Entries whose secret_path is exactly this. */
  exactPath?: string;
  success?: boolean;
  source_ip?: string;
  request_id?: string;
}

const ACTION = /^[a-z][a-z0-9_.]{0,63}$/;

/** ISO 8601 → epoch ms; a bad value is a field error naming the parameter. */
export function parseTime(field: string, value: string | undefined): number | undefined {
  if (value === undefined || value === "") return undefined;
  const ms = /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(value) ? Date.parse(value) : NaN;
  if (!Number.isFinite(ms)) throw validationError({ [field]: "must be an ISO 8601 time such as 2026-04-23T00:00:00Z" });
  return ms;
}

/**
 * The least string above every string that starts with `prefix`, in code point order (which is
 * UTF-8 byte order): the prefix with its last code point raised by one (past the surrogates,
 * which are not characters), dropping trailing U+10FFFF. Null when no such string exists.
 */
export function prefixEnd(prefix: string): string | null {
  const points = Array.from(prefix, (c) => c.codePointAt(0)!);
  while (points.length > 0) {
    const last = points.pop()!;
    if (last === 0x10ffff) continue;
    points.push(last === 0xd7ff ? 0xe000 : last + 1);
    return String.fromCodePoint(...points);
  }
  return null;
}

/**
 * The SQL conditions (ANDed) and parameters for a filter set; `from` inclusive, `to` exclusive.
 * `prefixColumn`: what `path_prefix` is compared on (default `secret_path`); an expression of it
 * keeps the path index from serving the range (the PostgreSQL time walk in query.ts).
 */
/** A condition with its parameters, to be ANDed; a list of them, one per query to merge (keyset.ts). */
export interface SqlArm {
  sql: string;
  params: SqlParam[];
  /**
   * The table the arm's conditions select entry ids from, where not audit_log itself (a batch
   * read's path mentions, mentions.ts): it names the columns it shares with audit_log alike.
   */
  via?: string;
}

/** The arms as one condition: any of them (for a single statement, where no merge is wanted). */
export function anyOf(arms: readonly SqlArm[]): SqlArm {
  if (arms.length === 1) return arms[0];
  return { sql: `(${arms.map((arm) => `(${arm.sql})`).join(" OR ")})`, params: arms.flatMap((arm) => arm.params) };
}

/**
 * `pathAsArms`: the `path` filter (the entry is about the path, or a batch read names it) comes
 * back as two arms instead of one OR in `conditions`, for a caller that reads each arm along its
 * own index (keyset.ts): an OR there made SQLite read the tenant's whole trail for a path with
 * few entries (1.9 s at 1M entries). `timeApart`: `from` and `to` come back as numbers only, for a
 * caller that merges them with bounds of its own: given two bounds on one side, SQLite narrows its
 * index by one and filters by the other, and may pick the wider (a summary's windows then each
 * read back to `from`: 2 s became 21 s at 1M entries).
 */
export function filterSql(
  filters: Filters, fieldPrefix = "", options: { prefixColumn?: string; pathAsArms?: boolean; timeApart?: boolean } = {},
): { conditions: string[]; params: SqlParam[]; from?: number; to?: number; pathArms: SqlArm[] | null } {
  const conditions: string[] = [];
  const params: SqlParam[] = [];
  const from = parseTime(`${fieldPrefix}from`, filters.from);
  const to = parseTime(`${fieldPrefix}to`, filters.to);
  if (from !== undefined && to !== undefined && from > to) throw validationError({ [`${fieldPrefix}from`]: "must not be after to" });
  if (from !== undefined && !options.timeApart) conditions.push("timestamp >= ?"), params.push(from);
  if (to !== undefined && !options.timeApart) conditions.push("timestamp < ?"), params.push(to);
  if (filters.action !== undefined) {
    const actions = filters.action.split(",").map((a) => a.trim()).filter(Boolean);
    if (actions.length === 0 || actions.some((a) => !ACTION.test(a))) throw validationError({ [`${fieldPrefix}action`]: "must be one action or several comma-separated" });
    conditions.push(`action IN (${actions.map(() => "?").join(", ")})`);
    params.push(...actions);
  }
  if (filters.identity_id !== undefined) conditions.push("identity_id = ?"), params.push(filters.identity_id);
  if (filters.identity_type !== undefined) conditions.push("identity_type = ?"), params.push(filters.identity_type);
  if (filters.exactPath !== undefined) conditions.push("secret_path = ?"), params.push(filters.exactPath);
  let pathArms: SqlArm[] | null = null;
  if (filters.path !== undefined) {
    // A batch read names its paths in extra_data; each is also a row of its mentions (mentions.ts).
    // Read as two arms only: one OR over both would have SQLite read the tenant's whole trail.
    if (!options.pathAsArms) throw new Error("the path filter is read as arms");
    pathArms = [{ sql: "secret_path = ?", params: [filters.path] }, mentionArm(filters.path)];
  }
  if (filters.path_prefix !== undefined && filters.path_prefix !== "") {
    // A range, not substr(): the (tenant_id, secret_path, timestamp) index serves it, so the query
    // reads only the prefix's entries however large the trail grows (migration 0093 makes the
    // comparison byte-wise on PostgreSQL too).
    const end = prefixEnd(filters.path_prefix);
    const column = options.prefixColumn ?? "secret_path";
    conditions.push(end === null ? `${column} >= ?` : `${column} >= ? AND ${column} < ?`);
    params.push(filters.path_prefix, ...(end === null ? [] : [end]));
  }
  if (filters.success !== undefined) conditions.push("success = ?"), params.push(filters.success ? 1 : 0);
  if (filters.source_ip !== undefined) conditions.push("source_ip = ?"), params.push(filters.source_ip);
  if (filters.request_id !== undefined) conditions.push("request_id = ?"), params.push(filters.request_id);
  return { conditions, params, from, to, pathArms };
}
