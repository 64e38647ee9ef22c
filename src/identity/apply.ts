import { createHash } from "node:crypto";
import type { NewEvent } from "../events/outbox.js";
import type { LoopSlices } from "../shared/turn.js";
import type { DirectoryStatus, DirTenant, TenantSnapshot } from "./directory-client.js";
import { bucketOf, entryKey, type DirectoryEntry, type EntryKind, type StoredEntry } from "./store.js";
import type { SyncStats } from "./sync-store.js";

const TYPE_OF: Record<EntryKind, string> = { user: "user", service_account: "service_account", group: "group" };

/**
 * The tenant's snapshot as cache entries, with each member's groups resolved transitively; computed
 * before the sync's transaction, in slices of the loop (`slices`).
 */
export async function entriesOf(tenant: DirTenant, snapshot: TenantSnapshot, now: number, slices: LoopSlices): Promise<DirectoryEntry[]> {
  const groups = new Map(snapshot.groups.map((g) => [g.id, g]));
  // parents: group id → groups that list it as a member; direct: user/app id → groups listing it.
  const parents = new Map<string, string[]>();
  const direct = new Map<string, string[]>();
  for (const [groupId, members] of snapshot.members) {
    for (const m of members) {
      if (slices.due()) await slices.pause();
      const map = m.member_type === "group" ? parents : direct;
      const key = m.member_type === "group" ? m.member_id : `${m.member_type}:${m.member_id}`;
      const listed = map.get(key);
      if (listed) listed.push(groupId);
      else map.set(key, [groupId]);
    }
  }
  /** Every active group reachable upwards; a group that is not ACTIVE grants nothing and passes nothing on. */
  const closure = (start: readonly string[]): string[] => {
    const seen = new Set<string>();
    const queue = [...start];
    for (let next = 0; next < queue.length; next++) {
      const id = queue[next]!;
      if (seen.has(id) || groups.get(id)?.status !== "ACTIVE") continue;
      seen.add(id);
      for (const parent of parents.get(id) ?? []) queue.push(parent);
    }
    return [...seen].sort();
  };
  const distinct = (ids: readonly string[] | undefined) => [...new Set(ids ?? [])].sort();
  // Every entry is written out field by field, in one order: built with object spreads, a tenant's
  // 50,000 users took 1.4–1.8 s of the event loop, most of it those objects and the collector
  // (profiled; 0.4 s now, docs/benchmarks.md round 28).
  const entry = (kind: EntryKind, id: string, identityId: string, email: string | null, clientId: string | null, name: string | null, description: string | null,
    status: DirectoryStatus, mfaEnabled: boolean, roles: string[], directGroups: string[], groupIds: string[]): DirectoryEntry => ({
    tenantId: tenant.id, id, partnerId: tenant.partner_id, kind, identityId, email, clientId, name, description, status, mfaEnabled, roles,
    directGroups, groupIds, groups: groupIds.map((groupId) => `group:${groups.get(groupId)!.name}`), lastSyncedAt: now,
  });
  const entries: DirectoryEntry[] = [];
  for (const u of snapshot.users) {
    if (slices.due()) await slices.pause();
    const directGroups = distinct(direct.get(`user:${u.id}`));
    entries.push(entry("user", u.id, `user:${u.email || u.id}`, u.email || null, null, u.display_name, null, u.status, u.mfa_enabled, u.roles, directGroups, closure(directGroups)));
  }
  for (const a of snapshot.applications) {
    if (slices.due()) await slices.pause();
    const directGroups = distinct(direct.get(`application:${a.id}`));
    entries.push(entry("service_account", a.id, `sa:${a.client_id}`, null, a.client_id, a.name, null, a.status, false, [], directGroups, closure(directGroups)));
  }
  for (const g of snapshot.groups) {
    if (slices.due()) await slices.pause();
    entries.push(entry("group", g.id, `group:${g.name}`, null, null, g.name, g.description, g.status, false, [], distinct(parents.get(g.id)), closure(parents.get(g.id) ?? [])));
  }
  return entries;
}

export interface EntryChange {
  entry: DirectoryEntry;
  /** The entry as stored before (undefined for a new one). */
  previous: DirectoryEntry | undefined;
  /** Whether the cache held the entry before this sync. */
  existed: boolean;
  /** The status transition, when it crosses ACTIVE. */
  transition: "disabled" | "enabled" | null;
}

/** The directory's entries with their comparison keys (store.ts entryKey), made before a sync's transaction. */
export interface NextEntries {
  entries: readonly DirectoryEntry[];
  keys: ReadonlyMap<string, string>;
}

/** The directory's entries of one bucket (store.ts bucketOf) and the digest of their ids and keys. */
export interface EntryBucket {
  digest: string;
  entries: DirectoryEntry[];
}

/**
 * Keys and buckets of the directory's entries. A bucket's digest, stored when a sync applies it,
 * says whether the directory changed anything in the bucket since: a sync reads and compares the
 * cache's entries of the buckets that moved only (docs/benchmarks.md round 29).
 */
export async function withKeys(entries: readonly DirectoryEntry[], slices: LoopSlices): Promise<NextEntries & { buckets: Map<number, EntryBucket> }> {
  const keys = new Map<string, string>();
  const buckets = new Map<number, EntryBucket>();
  for (const e of entries) {
    if (slices.due()) await slices.pause();
    keys.set(e.id, entryKey(e));
    const bucket = bucketOf(e.id);
    const listed = buckets.get(bucket);
    if (listed) listed.entries.push(e);
    else buckets.set(bucket, { digest: "", entries: [e] });
  }
  for (const bucket of buckets.values()) {
    if (slices.due(bucket.entries.length)) await slices.pause();
    // In id order, each line as JSON (which escapes every separator): the directory's order is not its content.
    bucket.entries.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const hash = createHash("sha256");
    for (const e of bucket.entries) hash.update(`${JSON.stringify([e.id, keys.get(e.id)])}\n`);
    bucket.digest = hash.digest("base64url");
  }
  return { entries, keys, buckets };
}

/** The part of `next` in `buckets` (the ones whose digest moved). */
export function inBuckets(next: NextEntries & { buckets: ReadonlyMap<number, EntryBucket> }, buckets: readonly number[]): NextEntries {
  const entries = buckets.flatMap((bucket) => next.buckets.get(bucket)?.entries ?? []);
  return { entries, keys: next.keys };
}

/** Stored entries that the sync changes or marks DELETED: the ones `diff` needs whole. */
export function touchedIds(stored: readonly StoredEntry[], next: NextEntries): string[] {
  return stored.filter((e) => (next.keys.has(e.id) ? next.keys.get(e.id) !== e.key : e.status !== "DELETED")).map((e) => e.id);
}

/**
 * What applying the snapshot does to the entries it changes: new and changed entries are written;
 * entries gone from the directory become DELETED; unchanged ones are counted (`seen`) and left out.
 * `whole` holds the stored entries of `touchedIds`. Counts go to `stats`.
 */
export function diff(stored: readonly StoredEntry[], whole: ReadonlyMap<string, DirectoryEntry>, next: NextEntries, now: number, stats: SyncStats): EntryChange[] {
  const before = new Map(stored.map((e) => [e.id, e]));
  const changes: EntryChange[] = [];
  const seen = new Set<string>();
  const record = (entry: DirectoryEntry, key: string | undefined, prior: StoredEntry | undefined) => {
    const changed = !prior || prior.key !== key;
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
    if (changed) changes.push({ entry, previous: prior ? wholeOf(prior) : undefined, existed: prior !== undefined, transition });
  };
  const wholeOf = (prior: StoredEntry) => {
    const entry = whole.get(prior.id);
    if (!entry) throw new Error(`entry ${prior.id} was not read whole`);
    return entry;
  };
  for (const entry of next.entries) {
    stats.seen++;
    seen.add(entry.id);
    record(entry, next.keys.get(entry.id), before.get(entry.id));
  }
  for (const prior of stored) {
    if (seen.has(prior.id) || prior.status === "DELETED") continue;
    record({ ...wholeOf(prior), status: "DELETED" as DirectoryStatus, lastSyncedAt: now }, undefined, prior);
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
