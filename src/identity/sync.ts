import type { AccessEpoch } from "../access/vault-tokens.js";
import { revokeTokens } from "../access/token-store.js";
import type { AuditRecorder } from "../audit/recorder.js";
import type { Keyring } from "../crypto/keyring.js";
import type { EventOutbox, NewEvent, VaultEvent } from "../events/outbox.js";
import { newSortableId } from "../shared/ids.js";
import { LoopSlices } from "../shared/turn.js";
import type { Database } from "../storage/contract.js";
import { diff, entriesOf, inBuckets, statusEvent, touchedIds, withKeys } from "./apply.js";
import { DirectoryError, type DirectoryClient, type DirTenant } from "./directory-client.js";
import { applyMembers, groupMembers } from "./members.js";
import type { IdentityStore } from "./store.js";
import { emptyStats, type SyncRecord, type SyncScope, type SyncStats, type SyncStore, type SyncTrigger } from "./sync-store.js";

export interface SyncDeps {
  db: Database;
  store: IdentityStore;
  syncs: SyncStore;
  directory: DirectoryClient | null;
  keyring: Keyring;
  access: AccessEpoch;
  events: EventOutbox;
  audit: AuditRecorder;
  /** Partner whose audit chain records a sync that touched no partner. */
  fallbackPartnerId: string;
  log: (message: string, extra?: Record<string, unknown>) => void;
}

const ACTOR = "system:identity-sync";

/** A sync's public shape (spec/identity.md §3). */
export function syncView(s: SyncRecord) {
  return {
    sync_id: s.id, status: s.status, trigger: s.trigger, scope: { partner_id: s.scope.partnerId, tenant_id: s.scope.tenantId }, triggered_by: s.triggeredBy,
    started_at: new Date(s.startedAt).toISOString(), completed_at: s.completedAt === null ? null : new Date(s.completedAt).toISOString(),
    duration_ms: s.completedAt === null ? null : s.completedAt - s.startedAt, stats: s.stats, errors: s.errors,
  };
}

/**
 * Directory syncs: fetch each tenant whole, then apply it in one transaction that also moves the
 * access epoch (so every node sees the result from its next request), revokes the tokens of
 * deleted identities and writes the status events. A tenant whose fetch fails is left as it was.
 */
export class IdentitySync {
  private readonly running = new Set<Promise<void>>();

  constructor(private readonly deps: SyncDeps) {}

  get configured(): boolean {
    return this.deps.directory !== null;
  }

  /** Starts (or joins) a sync of the scope; it runs in the background on this node. */
  async request(input: { partnerId: string | null; scope: SyncScope; trigger: SyncTrigger; triggeredBy: string }): Promise<SyncRecord> {
    const { record, created } = await this.deps.syncs.claim({ ...input, rerun: input.trigger === "webhook" });
    if (created) this.track(this.run(record));
    return record;
  }

  private track(work: Promise<void>): void {
    this.running.add(work);
    void work.finally(() => this.running.delete(work));
  }

  /** Waits for this node's syncs to end (shutdown). */
  async drain(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  private async run(record: SyncRecord): Promise<void> {
    const stats = emptyStats();
    const errors: SyncRecord["errors"] = [];
    const partners = new Set<string>();
    let failed = false;
    try {
      await this.deps.syncs.markRunning(record.id);
      await this.fetchAndApply(record.scope, stats, errors, partners);
    } catch (error) {
      failed = true;
      errors.push({ tenant_id: record.scope.tenantId, message: messageOf(error) });
    }
    const status = failed ? "failed" : "completed";
    const now = Date.now();
    let rerun = false;
    try {
      const finished: SyncRecord = { ...record, status, stats, errors, completedAt: now };
      const audited = record.partnerId ? [record.partnerId] : partners.size > 0 ? [...partners] : [this.deps.fallbackPartnerId];
      const published: VaultEvent[] = [];
      await this.deps.db.transaction(async (tx) => {
        rerun = await this.deps.syncs.finish(record.id, status, stats, errors, now, tx);
        for (const partnerId of audited) {
          const view = syncView(finished);
          await this.deps.audit.recordSystem(tx, { partnerId, tenantId: null, action: "identity_sync", identityId: ACTOR, secretPath: null, success: !failed, requestId: newSortableId("req"), extraData: { sync: view } });
          published.push(await this.deps.events.append(tx, { event_type: `identity.sync.${status}`, tenant_id: null, partner_id: partnerId, identity_id: ACTOR, path: null, data: view, request_id: null }));
        }
      });
      this.deps.events.published(published);
    } catch (error) {
      this.deps.log("identity sync could not be recorded", { sync_id: record.id, error: messageOf(error) });
    }
    if (rerun) {
      const next = await this.deps.syncs.claim({ partnerId: record.partnerId, scope: record.scope, trigger: record.trigger, triggeredBy: record.triggeredBy, rerun: false }).catch(() => null);
      if (next?.created) await this.run(next.record);
    }
  }

  private async fetchAndApply(scope: SyncScope, stats: SyncStats, errors: SyncRecord["errors"], touched: Set<string>): Promise<void> {
    const directory = this.deps.directory;
    if (!directory) throw new DirectoryError("no directory is configured", null);
    const partners = (await directory.partners()).filter((p) => !scope.partnerId || p.id === scope.partnerId);
    for (const partner of partners) {
      let tenants: DirTenant[];
      try {
        tenants = (await directory.tenants(partner.id)).filter((t) => !scope.tenantId || t.id === scope.tenantId);
      } catch (error) {
        errors.push({ tenant_id: null, message: `partner ${partner.id}: ${messageOf(error)}` });
        continue;
      }
      const now = Date.now();
      await this.deps.db.transaction(async (tx) => {
        const before = (await this.deps.store.partners(partner.id, undefined, tx))[0];
        await this.deps.store.upsertPartner(partner, now, tx);
        if (before && before.status !== partner.status) await this.deps.access.bumpEpoch(tx);
      });
      touched.add(partner.id);
      for (const tenant of tenants) {
        try {
          const snapshot = await directory.tenantSnapshot(tenant.id);
          await this.applyTenant(tenant, snapshot, stats);
        } catch (error) {
          errors.push({ tenant_id: tenant.id, message: messageOf(error) });
        }
      }
    }
  }

  private async applyTenant(tenant: DirTenant, snapshot: Parameters<typeof entriesOf>[1], total: SyncStats): Promise<void> {
    const { db, store, keyring, access, events } = this.deps;
    const now = Date.now();
    const stats = emptyStats();
    const published: VaultEvent[] = [];
    // What the snapshot makes of the cache is computed before the transaction (on SQLite a
    // transaction holds the event loop from BEGIN to COMMIT), in slices of the loop: it grows with
    // the directory (50,000 users held a node 0.4 s in one piece).
    const slices = new LoopSlices();
    const next = await withKeys(await entriesOf(tenant, snapshot, now, slices), slices);
    const groups = await groupMembers(snapshot.members, slices);
    await slices.pause();
    await db.transaction(async (tx) => {
      const before = await store.getTenant(tenant.id, tx);
      if (before && before.partner_id !== tenant.partner_id) throw new DirectoryError(`tenant ${tenant.id} belongs to another partner here`, null);
      if (await store.upsertTenant(tenant, now, tx)) await keyring.ensureTenantKey(tenant.id, tenant.partner_id, tx);
      // Only the buckets whose digest moved are read and compared; a cache made before buckets is
      // compared whole once and its rows given their buckets.
      const digests = await store.entryDigests(tenant.id, tx);
      const unbucketed = await store.hasUnbucketed(tenant.id, tx);
      const moves = new Map<number, string | null>();
      for (const [bucket, { digest }] of next.buckets) if (digests.get(bucket) !== digest) moves.set(bucket, digest);
      for (const bucket of digests.keys()) if (!next.buckets.has(bucket)) moves.set(bucket, null);
      const movedBuckets = [...moves.keys()];
      const stored = await store.storedEntries(tenant.id, unbucketed ? "all" : movedBuckets, tx);
      if (unbucketed) await store.setBuckets(tenant.id, stored.map((e) => e.id), tx);
      const compared = unbucketed ? next : inBuckets(next, movedBuckets);
      const changes = diff(stored, await store.entriesById(tenant.id, touchedIds(stored, compared), tx), compared, now, stats);
      stats.seen += next.entries.length - compared.entries.length;
      let moved = !before || before.status !== tenant.status;
      // Only what changed is written: an unchanged entry's last sync is its tenant's (store.ts
      // ENTRY_VIEW), so a sync that finds nothing new writes no entry row.
      await store.insertEntries(changes.filter((change) => !change.existed).map((change) => change.entry), tx);
      for (const change of changes) {
        if (change.existed) await store.updateEntry(change.entry, tx);
        moved = true;
        if (change.entry.status === "DELETED" && change.entry.kind !== "group") {
          // Deleted is for good: its vault tokens are revoked, not merely refused.
          stats.tokens_revoked += await revokeTokens(tx, { tenantId: tenant.id, identityId: change.entry.identityId }, now);
        }
        const event: NewEvent | null = statusEvent(change);
        if (event) published.push(await events.append(tx, event));
      }
      // A membership that changes also changes its member's groups, an entry change: `moved`.
      await applyMembers(tx, db.dialect, tenant.id, groups);
      await store.putEntryDigests(tenant.id, moves, tx);
      // Every node drops what it cached of this tenant's directory, and of no other tenant's.
      if (moved) await access.bumpDirectory(tx, tenant.id);
    });
    events.published(published);
    for (const key of Object.keys(total) as Array<keyof SyncStats>) total[key] += stats[key];
  }
}

function messageOf(error: unknown): string {
  if (error instanceof DirectoryError) return error.message;
  return `${(error as Error)?.name ?? "Error"}: the tenant could not be applied`;
}
