import { Type } from "@sinclair/typebox";
import { isPartnerAdmin, type Principal } from "../access/principal.js";
import { VaultError } from "../http/errors.js";
import { isoOrNull } from "../shared/time.js";
import type { DirectoryEntry, IdentityStore } from "./store.js";

export const STATUS = Type.Union(["ACTIVE", "SUSPENDED", "DISABLED", "DELETED"].map((s) => Type.Literal(s)));
export const PageQuery = {
  page: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1 })),
  page_size: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
};
export const ListQuery = Type.Object({ status: Type.Optional(STATUS), q: Type.Optional(Type.String({ maxLength: 200 })), ...PageQuery }, { additionalProperties: false });

export const userView = (e: DirectoryEntry) => ({
  id: e.id, identity_id: e.identityId, tenant_id: e.tenantId, email: e.email, display_name: e.name, status: e.status, mfa_enabled: e.mfaEnabled, groups: e.directGroups, roles: e.roles, last_synced_at: isoOrNull(e.lastSyncedAt),
});
export const serviceAccountView = (e: DirectoryEntry) => ({
  id: e.id, identity_id: e.identityId, tenant_id: e.tenantId, client_id: e.clientId, name: e.name, status: e.status, groups: e.directGroups, last_synced_at: isoOrNull(e.lastSyncedAt),
});
export const groupView = (e: DirectoryEntry, memberCount: number) => ({
  id: e.id, identity_id: e.identityId, tenant_id: e.tenantId, name: e.name, description: e.description, status: e.status, member_count: memberCount, last_synced_at: isoOrNull(e.lastSyncedAt),
});
const TYPE = { user: "user", service_account: "service_account", group: "group" } as const;
export const resolveView = (e: DirectoryEntry, roles: string[]) => ({
  id: e.id, type: TYPE[e.kind], identity_id: e.identityId, tenant_id: e.tenantId, display_name: e.name, email: e.email, status: e.status, groups: e.groups, group_ids: e.groupIds, roles, last_synced_at: isoOrNull(e.lastSyncedAt),
});

/** A `{tenant_id}` in a path: the caller's own, or for a partner admin one of its partner's (super admins: any). */
export async function requireVisibleTenant(store: IdentityStore, principal: Principal, tenantId: string): Promise<void> {
  if (tenantId === principal.tenantId) return;
  if (!isPartnerAdmin(principal)) throw new VaultError("tenant_access_denied", "This credential may not read that tenant");
  const tenant = await store.getTenant(tenantId);
  if (!tenant) throw new VaultError("tenant_not_found", "No such tenant", { details: { tenant_id: tenantId } });
  if (tenant.partner_id !== principal.partnerId && !principal.roles.includes("super_admin")) throw new VaultError("tenant_access_denied", "This credential may not read that tenant");
}

/** The tenants whose directory a caller may look into: a partner admin's partner, else the request's tenant. */
export async function callerTenants(store: IdentityStore, principal: Principal, requestTenant: string | null): Promise<string[]> {
  if (isPartnerAdmin(principal)) return (await store.tenantsOf(principal.partnerId)).map((t) => t.id);
  return requestTenant ? [requestTenant] : [];
}

export function notFound(type: string, id: string): VaultError {
  return new VaultError("identity_not_found", `No ${type} ${id} in the identity cache of your tenant`, { details: { identity_type: type, identity_id: id } });
}
