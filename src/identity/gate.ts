import type { PrincipalRefiner } from "../access/authenticator.js";
import type { Principal, Role } from "../access/principal.js";
import type { AccessEpoch } from "../access/vault-tokens.js";
import { VaultError } from "../http/errors.js";
import type { DirectoryEntry, IdentityStore } from "./store.js";

const ROLES: readonly Role[] = ["tenant_admin", "partner_admin", "super_admin"];
const MAX_CACHED = 10_000;

interface Known {
  entry: DirectoryEntry | null;
  vaultRoles: string[];
}

/**
 * The directory's say over every credential, applied right after authentication: a credential
 * naming an identity the directory has disabled answers `token_revoked`; a known identity's groups
 * are the directory's (transitive) instead of the credential's; roles gain ScaiKey's and the
 * vault-assigned ones; a tenant not ACTIVE is refused. Everything read is cached per access epoch,
 * which every sync and role change moves, so all nodes apply a change from their next request.
 */
export class IdentityGate implements PrincipalRefiner {
  private readonly cache = new Map<string, Known>();
  private readonly tenants = new Map<string, string>();
  private cacheEpoch = -1;

  constructor(private readonly store: IdentityStore, private readonly access: AccessEpoch) {}

  async refine(principal: Principal): Promise<Principal> {
    const tenantId = principal.tenantId;
    if (principal.identityType === "system" || !tenantId) return principal;
    // The counters go on with the principal: the policy cache needs them too.
    const counters = principal.accessCounters ?? (await this.access.epochs());
    const epoch = counters.access;
    // Also moves the caches to this epoch.
    await this.requireActiveTenant(tenantId, epoch);
    const known = await this.lookup(principal.partnerId, tenantId, principal.identityId, epoch);
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
  async requireActiveTenant(tenantId: string, knownEpoch?: number): Promise<void> {
    // A sync moves the access epoch: a cached status is trusted only within the current one.
    const epoch = knownEpoch ?? (await this.access.epoch());
    if (epoch !== this.cacheEpoch) {
      this.cache.clear();
      this.tenants.clear();
      this.cacheEpoch = epoch;
    }
    const status = await this.tenantStatus(tenantId, epoch);
    if (status !== undefined && status !== "ACTIVE") {
      throw new VaultError("tenant_access_denied", "This tenant is suspended in the identity directory", { details: { reason: "tenant_suspended", tenant_id: tenantId } });
    }
  }

  /**
   * What a read finds is cached only if no request saw the epoch move while it ran: on PostgreSQL a
   * read waits for the network, and one that began before a sync committed could otherwise leave
   * the directory's old answer (an identity still ACTIVE) in the cache of the sync's epoch.
   */
  private async tenantStatus(tenantId: string, epoch: number): Promise<string | undefined> {
    if (this.tenants.has(tenantId)) return this.tenants.get(tenantId);
    const status = await this.store.tenantStatus(tenantId);
    if (status !== undefined && this.cacheEpoch === epoch) this.tenants.set(tenantId, status);
    return status;
  }

  private async lookup(partnerId: string, tenantId: string, identityId: string, epoch: number): Promise<Known> {
    const key = `${tenantId}\u0000${identityId}`;
    const cached = this.cache.get(key);
    if (cached) return cached;
    const entry = (await this.entryOf(tenantId, identityId)) ?? null;
    const known: Known = { entry, vaultRoles: entry?.kind === "user" ? await this.store.vaultRoles(partnerId, entry.id) : [] };
    // As for tenantStatus: not cached when the epoch moved while it was read.
    if (this.cacheEpoch !== epoch) return known;
    if (this.cache.size >= MAX_CACHED) this.cache.clear();
    this.cache.set(key, known);
    return known;
  }
}
