import type { Principal } from "../access/principal.js";
import { isPartnerAdmin } from "../access/principal.js";
import type { TenantRef } from "../http/context.js";
import { VaultError } from "../http/errors.js";
import type { TenancyStore } from "./store.js";

const TENANT_ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * The tenant of a request: the `/v1/t/{tenant_id}` prefix, else `X-Tenant-ID`, else the token's
 * own tenant. Naming a tenant other than one's own is for partner admins, within their partner;
 * anyone else learns only `tenant_access_denied`, never whether the tenant exists.
 */
export class TenantResolver {
  private readonly known = new Map<string, TenantRef>();

  /**
   * `checkNamed` refuses a named tenant that may not be used now (a tenant suspended in the
   * identity directory, src/identity/gate.ts); the credential's own tenant is checked by the gate.
   */
  constructor(private readonly store: TenancyStore, private readonly checkNamed?: (tenantId: string, principal: Principal) => Promise<void>) {}

  async resolve(principal: Principal, named: string | null): Promise<TenantRef | null> {
    if (named === null) {
      return principal.tenantId ? { tenantId: principal.tenantId, partnerId: principal.partnerId } : null;
    }
    if (named === principal.tenantId) return { tenantId: named, partnerId: principal.partnerId };
    if (!isPartnerAdmin(principal) || !TENANT_ID.test(named)) {
      throw new VaultError("tenant_access_denied", "This credential may not act in that tenant");
    }
    const tenant = await this.lookup(named);
    if (!tenant) throw new VaultError("tenant_not_found", "No such tenant", { details: { tenant_id: named } });
    if (tenant.partnerId !== principal.partnerId && !principal.roles.includes("super_admin")) {
      throw new VaultError("tenant_access_denied", "This credential may not act in that tenant");
    }
    await this.checkNamed?.(tenant.tenantId, principal);
    return tenant;
  }

  /** Tenants are never deleted or moved, so a found tenant can be remembered. */
  private async lookup(id: string): Promise<TenantRef | undefined> {
    const cached = this.known.get(id);
    if (cached) return cached;
    const tenant = await this.store.getTenant(id);
    if (!tenant) return undefined;
    const ref = { tenantId: tenant.id, partnerId: tenant.partnerId };
    this.known.set(id, ref);
    return ref;
  }
}
