import type { PrincipalRefiner } from "../access/authenticator.js";
import type { Principal, Role } from "../access/principal.js";
import { ReachLog } from "../access/reach-log.js";
import type { AccessEpoch, AccessEpochs } from "../access/vault-tokens.js";
import { VaultError } from "../http/errors.js";
import { LruMap } from "../shared/lru.js";
import type { DirectoryEntry, IdentityStore } from "./store.js";

const ROLES: readonly Role[] = ["tenant_admin", "partner_admin", "super_admin"];
const MAX_CACHED = 10_000;

interface Known {
  entry: DirectoryEntry | null;
  vaultRoles: string[];
}

/** A cached answer about one tenant, tagged with the directory counter read before it was read. */
interface Tagged<T> {
  value: T;
  tenantId: string;
  directory: number;
}

/**
 * The directory's say over every credential, applied right after authentication: a credential
 * naming an identity the directory has disabled answers `token_revoked`; a known identity's groups
 * are the directory's (transitive) instead of the credential's; roles gain ScaiKey's and the
 * vault-assigned ones; a tenant not ACTIVE is refused. What is read is cached per tenant: a sync
 * or role assignment that changed a tenant's directory moves the directory counter and names the
 * tenant, and every node drops that tenant's answers from its next request on (other tenants'
 * stay); the access epoch (a partner's status) still drops everything.
 */
export class IdentityGate implements PrincipalRefiner {
  private readonly cache = new LruMap<string, Tagged<Known>>(MAX_CACHED);
  private readonly tenants = new LruMap<string, Tagged<string>>(MAX_CACHED);
  private cacheEpoch = -1;
  private readonly changes: ReachLog;

  constructor(private readonly store: IdentityStore, private readonly access: AccessEpoch) {
    this.changes = new ReachLog((seq) => access.directoryChangesSince(seq));
  }

  async refine(principal: Principal): Promise<Principal> {
    const tenantId = principal.tenantId;
    if (principal.identityType === "system" || !tenantId) return principal;
    // The counters go on with the principal: the policy cache needs them too.
    const counters = principal.accessCounters ?? (await this.access.epochs());
    // Also moves the caches to these counters.
    await this.requireActiveTenant(tenantId, counters);
    const known = await this.lookup(principal.partnerId, tenantId, principal.identityId, counters);
    if (!known.entry) return { ...principal, accessCounters: counters };
    if (known.entry.status !== "ACTIVE") {
      throw new VaultError("token_revoked", "The identity this credential names is disabled in the directory", { details: { reason: "identity_disabled" } });
    }
    // Exchanged tokens carry no roles at all (spec/identity.md §1).
    const extra = principal.credentialKind === "exchange" ? [] : [...known.entry.roles, ...known.vaultRoles];
    const roles = [...new Set([...principal.roles, ...extra.filter((r): r is Role => (ROLES as readonly string[]).includes(r))])];
    return { ...principal, groups: known.entry.groups, roles, displayName: principal.displayName ?? known.entry.name, accessCounters: counters };
  }

  /** The directory entry of the caller's tenant, checked also under its ScaiKey id (`user:usr_…`). */
  async entryOf(tenantId: string, identityId: string): Promise<DirectoryEntry | undefined> {
    const directoryId = /^(?:user|sa):((?:usr|app)_[A-Za-z0-9_-]+)$/.exec(identityId)?.[1] ?? null;
    return this.store.findForCredential(tenantId, identityId, directoryId);
  }

  /**
   * A tenant not ACTIVE in the directory refuses every request in it (data kept), whether it is
   * the credential's own tenant or one a partner admin names (X-Tenant-ID, /v1/t/…).
   */
  async requireActiveTenant(tenantId: string, known?: AccessEpochs): Promise<void> {
    const counters = known ?? (await this.access.epochs());
    await this.moveTo(counters);
    const status = await this.cached(this.tenants, tenantId, tenantId, counters, () => this.store.tenantStatus(tenantId));
    if (status !== undefined && status !== "ACTIVE") {
      throw new VaultError("tenant_access_denied", "This tenant is suspended in the identity directory", { details: { reason: "tenant_suspended", tenant_id: tenantId } });
    }
  }

  /** Drops what the counters say changed: everything when the access epoch moved, else the tenants the directory changes reached. */
  private async moveTo(counters: AccessEpochs): Promise<void> {
    // Counters only grow; ones read before the last move (a long-lived caller's) clear nothing.
    if (counters.access > this.cacheEpoch) {
      this.cache.clear();
      this.tenants.clear();
      this.cacheEpoch = counters.access;
    }
    if (!this.changes.behind(counters.directory)) return;
    await this.changes.catchUp(counters.directory, this.cache.size === 0 && this.tenants.size === 0);
    for (const map of [this.cache, this.tenants] as LruMap<string, Tagged<unknown>>[]) {
      for (const [key, tagged] of map) if (this.changes.changedAfter(tagged.directory, `t:${tagged.tenantId}`)) map.delete(key);
    }
  }

  private async lookup(partnerId: string, tenantId: string, identityId: string, counters: AccessEpochs): Promise<Known> {
    return this.cached(this.cache, `${tenantId}\u0000${identityId}`, tenantId, counters, async () => {
      const entry = (await this.entryOf(tenantId, identityId)) ?? null;
      return { entry, vaultRoles: entry?.kind === "user" ? await this.store.vaultRoles(partnerId, entry.id) : [] };
    });
  }

  /**
   * A cached answer unless a change to its tenant's directory came after it was read. What a read
   * finds is tagged with the counters read before it; on PostgreSQL a read waits for the network,
   * and one that began before a sync committed must not leave the old answer (an identity still
   * ACTIVE) in the cache as current: it is not cached when the access epoch moved meanwhile, and a
   * directory change to its tenant after its tag makes it stale.
   */
  private async cached<T>(map: LruMap<string, Tagged<T>>, key: string, tenantId: string, counters: AccessEpochs, read: () => Promise<T>): Promise<T> {
    const hit = map.get(key);
    if (hit && !this.changes.changedAfter(hit.directory, `t:${tenantId}`)) return hit.value;
    const value = await read();
    if (value === undefined || this.cacheEpoch !== counters.access) return value;
    map.set(key, { value, tenantId, directory: counters.directory });
    return value;
  }
}
