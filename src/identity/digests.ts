import type { Dialect, Queryable } from "../storage/contract.js";
import { inJsonList } from "../storage/json-list.js";
import { insertMany } from "../storage/multi-row.js";

/** A digest table of the directory cache: per tenant, a digest per key as a sync last applied it. */
export interface DigestTable {
  table: "directory_entry_digests" | "directory_member_digests";
  key: "bucket" | "group_id";
  keyType: "integer" | "text";
}

/** Each bucket's digest of the directory's entries (apply.ts withKeys). */
export const ENTRY_DIGESTS: DigestTable = { table: "directory_entry_digests", key: "bucket", keyType: "integer" };
/** Each group's digest of its member list (members.ts groupMembers). */
export const MEMBER_DIGESTS: DigestTable = { table: "directory_member_digests", key: "group_id", keyType: "text" };

/**
 * Records the digests a sync applied (`null`: the key has none now) in one delete and a few
 * multi-row inserts, whatever their number: an upsert per key cost PostgreSQL a round trip each,
 * 256 buckets and one per group on a tenant's first sync.
 */
export async function putDigests(tx: Queryable, dialect: Dialect, digests: DigestTable, tenantId: string, applied: ReadonlyMap<string | number, string | null>): Promise<void> {
  if (applied.size === 0) return;
  await tx.run(`DELETE FROM ${digests.table} WHERE tenant_id = ? AND ${inJsonList(dialect, digests.key, digests.keyType)}`, [tenantId, JSON.stringify([...applied.keys()])]);
  const rows = [...applied].flatMap(([key, digest]) => (digest === null ? [] : [[tenantId, key, digest]]));
  await insertMany(tx, digests.table, ["tenant_id", digests.key, "digest"], rows);
}
