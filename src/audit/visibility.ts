import type { Authorizer } from "../access/authorizer.js";
import { isPartnerAdmin } from "../access/principal.js";
import type { Caller } from "../http/context.js";
import { anyOf, type SqlArm } from "./filters.js";
import { ownerOf, type ChainOwner } from "./owners.js";

/**
 * What part of the trail a caller may see. Entries about a secret path: when the caller's
 * policies grant `read` (or `admin`) on that path. Entries about no path (policy changes, token
 * issuance, failed logins): admins see them all, anyone else only their own. Partner admins also
 * see their partner's chain (entries with tenant_id null, such as failed authentication).
 */
export interface Visibility {
  partnerId: string;
  tenantId: string;
  includePartnerChain: boolean;
  isAdmin: boolean;
  identityId: string;
  canReadPath(path: string): boolean;
  canSee(row: { secret_path: string | null; identity_id: string | null }): boolean;
  /** SQL restricting rows to the chains the caller may see, with its parameters (the arms below, ORed). */
  scopeSql(): SqlArm;
  /** The same restriction as arms (its tenant; a partner admin's partner chain), each served by a time index of its own (keyset.ts). */
  scopeArms(): SqlArm[];
  /** Whose chains those arms select, in the same order. */
  owners(): ChainOwner[];
}

export async function visibilityFor(authorizer: Authorizer, caller: Caller): Promise<Visibility> {
  const evaluate = await authorizer.forCaller(caller);
  const { principal, tenant } = caller;
  const partnerAdmin = isPartnerAdmin(principal);
  const isAdmin = partnerAdmin || principal.roles.includes("tenant_admin") || principal.scopes.has("admin");
  const cache = new Map<string, boolean>();
  const canReadPath = (path: string): boolean => {
    let allowed = cache.get(path);
    if (allowed === undefined) {
      allowed = evaluate(path, "read").allowed;
      if (cache.size < 100_000) cache.set(path, allowed);
    }
    return allowed;
  };
  // Its tenant's entries; a partner admin's also its partner's own chain (tenant_id null).
  const owners: ChainOwner[] = [
    { tenant_id: tenant.tenantId, partner_id: tenant.partnerId },
    ...(partnerAdmin ? [{ tenant_id: null, partner_id: tenant.partnerId }] : []),
  ];
  // Plain arms: the time index is for reads by time alone (summaries), not every filtered query.
  const arms: SqlArm[] = owners.map((owner) => {
    const { sql, params } = ownerOf(owner).scope;
    return { sql, params };
  });
  return {
    partnerId: tenant.partnerId,
    tenantId: tenant.tenantId,
    includePartnerChain: partnerAdmin,
    isAdmin,
    identityId: principal.identityId,
    canReadPath,
    canSee: (row) => (row.secret_path !== null ? canReadPath(row.secret_path) : isAdmin || row.identity_id === principal.identityId),
    scopeSql: () => anyOf(arms),
    scopeArms: () => [...arms],
    owners: () => [...owners],
  };
}
