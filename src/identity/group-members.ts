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

/**
 * A group's members, nested groups resolved breadth first from the group: a member listed directly
 * is DIRECT; one reached through a nested group is INHERITED via the first nested group of the
 * top group on its path. Each group's rows are taken in (member_type, member_id) order, so the
 * answer, and so each page of it, is the same on every read and on both backends.
 */
export function resolveGroupMembers(groupId: string, rows: readonly GroupTreeMember[]): GroupMemberView[] {
  const byGroup = new Map<string, GroupTreeMember[]>();
  for (const row of rows) {
    const list = byGroup.get(row.group_id);
    if (list) list.push(row);
    else byGroup.set(row.group_id, [row]);
  }
  const order = (a: GroupTreeMember, b: GroupTreeMember) => (a.member_type === b.member_type ? compare(a.member_id, b.member_id) : compare(a.member_type, b.member_type));
  const out: GroupMemberView[] = [];
  const seen = new Set<string>();
  const visited = new Set<string>();
  const queue: Array<{ id: string; via: string | null }> = [{ id: groupId, via: null }];
  for (let next = 0; next < queue.length; next++) {
    const { id, via } = queue[next]!;
    if (visited.has(id)) continue;
    visited.add(id);
    for (const m of (byGroup.get(id) ?? []).sort(order)) {
      if (m.member_type === "group") {
        if (m.status === "ACTIVE") queue.push({ id: m.member_id, via: via ?? m.member_id });
        continue;
      }
      if (m.identity_id === null || seen.has(m.member_id)) continue;
      seen.add(m.member_id);
      const memberType = m.member_type === "user" ? "user" : "service_account";
      out.push({ user_id: m.member_id, identity_id: m.identity_id, member_type: memberType, email: m.email, membership_type: via ? "INHERITED" : "DIRECT", via_group_id: via, added_at: m.added_at });
    }
  }
  return out;
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
