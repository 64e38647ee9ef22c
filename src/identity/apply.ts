import type { NewEvent } from "../events/outbox.js";
import type { DirectoryStatus, DirTenant, TenantSnapshot } from "./directory-client.js";
import type { DirectoryEntry, EntryKind } from "./store.js";
import type { SyncStats } from "./sync-store.js";

const TYPE_OF: Record<EntryKind, string> = { user: "user", service_account: "service_account", group: "group" };

/** The tenant's snapshot as cache entries, with each member's groups resolved transitively. */
export function entriesOf(tenant: DirTenant, snapshot: TenantSnapshot, now: number): DirectoryEntry[] {
  const groups = new Map(snapshot.groups.map((g) => [g.id, g]));
  // parents: group id → groups that list it as a member; direct: user/app id → groups listing it.
  const parents = new Map<string, string[]>();
  const direct = new Map<string, string[]>();
  for (const [groupId, members] of snapshot.members) {
    for (const m of members) {
      const map = m.member_type === "group" ? parents : direct;
      const key = m.member_type === "group" ? m.member_id : `${m.member_type}:${m.member_id}`;
      map.set(key, [...(map.get(key) ?? []), groupId]);
    }
  }
  /** Every active group reachable upwards; a group that is not ACTIVE grants nothing and passes nothing on. */
  const closure = (start: readonly string[]): string[] => {
    const seen = new Set<string>();
    const queue = [...start];
    while (queue.length > 0) {
      const id = queue.shift()!;
      if (seen.has(id) || groups.get(id)?.status !== "ACTIVE") continue;
      seen.add(id);
      queue.push(...(parents.get(id) ?? []));
    }
    return [...seen].sort();
  };
  const base = { tenantId: tenant.id, partnerId: tenant.partner_id, lastSyncedAt: now };
  const withGroups = (key: string) => {
    const directGroups = [...new Set(direct.get(key) ?? [])].sort();
    const groupIds = closure(directGroups);
    return { directGroups, groupIds, groups: groupIds.map((id) => `group:${groups.get(id)!.name}`) };
  };
  return [
    ...snapshot.users.map((u): DirectoryEntry => ({
      ...base, id: u.id, kind: "user", identityId: `user:${u.email || u.id}`, email: u.email || null, clientId: null, name: u.display_name, description: null,
      status: u.status, mfaEnabled: u.mfa_enabled, roles: u.roles, ...withGroups(`user:${u.id}`),
    })),
    ...snapshot.applications.map((a): DirectoryEntry => ({
      ...base, id: a.id, kind: "service_account", identityId: `sa:${a.client_id}`, email: null, clientId: a.client_id, name: a.name, description: null,
      status: a.status, mfaEnabled: false, roles: [], ...withGroups(`application:${a.id}`),
    })),
    ...snapshot.groups.map((g): DirectoryEntry => {
      const groupIds = closure(parents.get(g.id) ?? []);
      return {
        ...base, id: g.id, kind: "group", identityId: `group:${g.name}`, email: null, clientId: null, name: g.name, description: g.description, status: g.status, mfaEnabled: false, roles: [],
        directGroups: [...new Set(parents.get(g.id) ?? [])].sort(), groupIds, groups: groupIds.map((id) => `group:${groups.get(id)!.name}`),
      };
    }),
  ];
}

const comparable = (e: DirectoryEntry) => JSON.stringify([e.kind, e.identityId, e.email, e.clientId, e.name, e.description, e.status, e.mfaEnabled, e.roles, e.directGroups, e.groupIds]);

export interface EntryChange {
  entry: DirectoryEntry;
  previous: DirectoryEntry | undefined;
  /** true: written (new or different); the status transition, when it crosses ACTIVE. */
  changed: boolean;
  transition: "disabled" | "enabled" | null;
}

/**
 * What applying the snapshot does to each entry: new and changed entries are written; entries gone
 * from the directory become DELETED. Counts go to `stats`.
 */
export function diff(previous: readonly DirectoryEntry[], next: readonly DirectoryEntry[], now: number, stats: SyncStats): EntryChange[] {
  const before = new Map(previous.map((e) => [e.id, e]));
  const changes: EntryChange[] = [];
  const seen = new Set<string>();
  const record = (entry: DirectoryEntry, prior: DirectoryEntry | undefined) => {
    const changed = !prior || comparable(prior) !== comparable(entry);
    const wasActive = prior ? prior.status === "ACTIVE" : null;
    const isActive = entry.status === "ACTIVE";
    let transition: EntryChange["transition"] = null;
    if (wasActive === true && !isActive) transition = "disabled";
    else if (wasActive === false && isActive) transition = "enabled";
    if (!prior) stats.added++;
    else if (changed) stats.updated++;
    if (changed && !isActive && prior?.status !== entry.status) {
      if (entry.status === "DELETED") stats.deleted++;
      else stats.disabled++;
    }
    changes.push({ entry, previous: prior, changed, transition });
  };
  for (const entry of next) {
    stats.seen++;
    seen.add(entry.id);
    record(entry, before.get(entry.id));
  }
  for (const prior of previous) {
    if (seen.has(prior.id) || prior.status === "DELETED") continue;
    record({ ...prior, status: "DELETED" as DirectoryStatus, lastSyncedAt: now }, prior);
  }
  return changes;
}

export function statusEvent(change: EntryChange): NewEvent | null {
  if (!change.transition) return null;
  const e = change.entry;
  return {
    event_type: change.transition === "disabled" ? "identity.disabled" : "identity.enabled",
    tenant_id: e.tenantId,
    partner_id: e.partnerId,
    identity_id: e.identityId,
    path: null,
    data: { identity_id: e.identityId, identity_type: TYPE_OF[e.kind], directory_id: e.id, status: e.status, previous_status: change.previous?.status ?? null },
    request_id: null,
  };
}
