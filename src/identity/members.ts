import { createHash } from "node:crypto";
import type { LoopSlices } from "../shared/turn.js";
import type { Dialect, Queryable, SqlParam } from "../storage/contract.js";
import { insertMany } from "../storage/multi-row.js";
import { MEMBER_DIGESTS, putDigests } from "./digests.js";
import type { DirMember } from "./directory-client.js";

/** One group's member rows as the directory lists them, with a digest of the whole list. */
export interface GroupMembers {
  digest: string;
  members: readonly DirMember[];
}

interface MemberRow { group_id: string; member_type: string; member_id: string; added_at: string | null }

const keyOf = (memberType: string, memberId: string) => `${memberType}\u0000${memberId}`;

/**
 * Each group's members of a snapshot with their digest (computed before the sync's transaction):
 * the same rows in any order give the same digest; a repeated row counts once, as the table keeps it.
 */
export async function groupMembers(snapshot: ReadonlyMap<string, readonly DirMember[]>, slices: LoopSlices): Promise<Map<string, GroupMembers>> {
  const out = new Map<string, GroupMembers>();
  for (const [groupId, listed] of snapshot) {
    const distinct = new Map<string, DirMember>();
    for (const m of listed) {
      if (slices.due()) await slices.pause();
      distinct.set(keyOf(m.member_type, m.member_id), m);
    }
    if (slices.due(listed.length)) await slices.pause();
    const members = [...distinct.values()];
    const lines = members.map((m) => `${m.member_type}\u0000${m.member_id}\u0000${m.added_at ?? ""}`).sort();
    out.set(groupId, { digest: createHash("sha256").update(lines.join("\n")).digest("base64url"), members });
  }
  return out;
}

/**
 * Makes the tenant's membership rows the snapshot's. Only the groups whose digest differs from the
 * one last applied are read and written, and only the rows that differ: a sync runs per directory
 * change, and rewriting (or even reading) every membership row of a large tenant held a SQLite node
 * for most of a second each time (docs/benchmarks.md round 28). A tenant with rows but no digests
 * (applied before digests existed) is compared row by row once.
 */
export async function applyMembers(tx: Queryable, dialect: Dialect, tenantId: string, groups: ReadonlyMap<string, GroupMembers>): Promise<void> {
  const digests = new Map((await tx.all<{ group_id: string; digest: string }>("SELECT group_id, digest FROM directory_member_digests WHERE tenant_id = ?", [tenantId])).map((r) => [r.group_id, r.digest]));
  const unknown = digests.size === 0 && (await tx.get("SELECT 1 AS found FROM directory_members WHERE tenant_id = ? LIMIT 1", [tenantId])) !== undefined;
  if (unknown) {
    await applyRows(tx, tenantId, groups, await tx.all<MemberRow>("SELECT group_id, member_type, member_id, added_at FROM directory_members WHERE tenant_id = ?", [tenantId]));
  } else {
    for (const [groupId] of digests) {
      if (!groups.has(groupId)) await tx.run("DELETE FROM directory_members WHERE tenant_id = ? AND group_id = ?", [tenantId, groupId]);
    }
    for (const [groupId, group] of groups) {
      if (digests.get(groupId) === group.digest) continue;
      const stored = await tx.all<MemberRow>("SELECT group_id, member_type, member_id, added_at FROM directory_members WHERE tenant_id = ? AND group_id = ?", [tenantId, groupId]);
      await applyRows(tx, tenantId, new Map([[groupId, group]]), stored);
    }
  }
  // A group gone from the directory takes its digest; a group whose list moved gets its new one.
  const applied = new Map<string, string | null>();
  for (const [groupId] of digests) if (!groups.has(groupId)) applied.set(groupId, null);
  for (const [groupId, group] of groups) if (digests.get(groupId) !== group.digest) applied.set(groupId, group.digest);
  await putDigests(tx, dialect, MEMBER_DIGESTS, tenantId, applied);
}

/** Writes the difference between `stored` rows and the rows of `groups` (rows of other groups in `stored` are removed). */
async function applyRows(tx: Queryable, tenantId: string, groups: ReadonlyMap<string, GroupMembers>, stored: readonly MemberRow[]): Promise<void> {
  const have = new Map<string, MemberRow>();
  for (const row of stored) have.set(`${row.group_id}\u0000${keyOf(row.member_type, row.member_id)}`, row);
  const added: SqlParam[][] = [];
  for (const [groupId, group] of groups) {
    for (const m of group.members) {
      const key = `${groupId}\u0000${keyOf(m.member_type, m.member_id)}`;
      const row = have.get(key);
      have.delete(key);
      if (!row) added.push([tenantId, groupId, m.member_type, m.member_id, m.added_at]);
      else if (row.added_at !== m.added_at) {
        await tx.run("UPDATE directory_members SET added_at = ? WHERE tenant_id = ? AND group_id = ? AND member_type = ? AND member_id = ?", [m.added_at, tenantId, groupId, m.member_type, m.member_id]);
      }
    }
  }
  for (const row of have.values()) {
    await tx.run("DELETE FROM directory_members WHERE tenant_id = ? AND group_id = ? AND member_type = ? AND member_id = ?", [tenantId, row.group_id, row.member_type, row.member_id]);
  }
  await insertMany(tx, "directory_members", ["tenant_id", "group_id", "member_type", "member_id", "added_at"], added);
}
