import { LoopSlices } from "../shared/turn.js";
import type { GroupTreeMember } from "./store.js";

export interface GroupMemberView {
  user_id: string;
  identity_id: string;
  member_type: "user" | "service_account";
  email: string | null;
  membership_type: "DIRECT" | "INHERITED";
  via_group_id: string | null;
  added_at: string | null;
}

/** Hands one group's member rows to `visit`, in (member_type, member_id) order. */
export type GroupRows = (groupId: string, visit: (row: GroupTreeMember) => void) => Promise<void>;

/**
 * A page of a group's members, nested groups resolved breadth first from the group: a member
 * listed directly is DIRECT; one reached through a nested group is INHERITED via the first nested
 * group of the top group on its path; a member reached twice is listed once, where it was first
 * reached. Each group's rows come in (member_type, member_id) order, so the answer, and so each
 * page of it, is the same on every read and on both backends. The total needs the whole tree, but
 * only the page's views are kept, and the rows come a group (on SQLite a stretch) at a time with
 * turns of the loop between: the whole tree in one statement and one sort held a SQLite node
 * ~0.5 s per page of a group of 100,000 (docs/benchmarks.md round 34).
 */
export async function groupMembersPage(groupId: string, rowsOf: GroupRows, window: { offset: number; limit: number }): Promise<{ members: GroupMemberView[]; total: number }> {
  const slices = new LoopSlices(2);
  const members: GroupMemberView[] = [];
  let total = 0;
  const seen = new Set<string>();
  const visited = new Set<string>();
  const queue: Array<{ id: string; via: string | null }> = [{ id: groupId, via: null }];
  for (let next = 0; next < queue.length; next++) {
    const { id, via } = queue[next]!;
    if (visited.has(id)) continue;
    visited.add(id);
    let rows = 0;
    await rowsOf(id, (m) => {
      rows++;
      if (m.member_type === "group") {
        if (m.status === "ACTIVE") queue.push({ id: m.member_id, via: via ?? m.member_id });
        return;
      }
      if (m.identity_id === null || seen.has(m.member_id)) return;
      seen.add(m.member_id);
      if (total++ < window.offset || members.length >= window.limit) return;
      const memberType = m.member_type === "user" ? "user" : "service_account";
      members.push({ user_id: m.member_id, identity_id: m.identity_id, member_type: memberType, email: m.email, membership_type: via ? "INHERITED" : "DIRECT", via_group_id: via, added_at: m.added_at });
    });
    if (slices.due(rows + 1)) await slices.pause();
  }
  return { members, total };
}

/** The order of a group's rows: by member type, then id, as code units (not a database's collation). */
export const memberOrder = (a: GroupTreeMember, b: GroupTreeMember) => (a.member_type === b.member_type ? compare(a.member_id, b.member_id) : compare(a.member_type, b.member_type));

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
