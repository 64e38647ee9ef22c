import type { FastifyInstance } from "fastify";
import { Type } from "@sinclair/typebox";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { isPartnerAdmin } from "../access/principal.js";
import type { AccessEpoch } from "../access/vault-tokens.js";
import type { AuditRecorder } from "../audit/recorder.js";
import type { Caller } from "../http/context.js";
import { VaultError } from "../http/errors.js";
import type { Database } from "../storage/contract.js";
import type { IdentityStore } from "./store.js";
import { callerTenants, notFound } from "./views.js";
import { principalOf } from "./routes.js";

const tags = ["identity"];
export const ROLE_CATALOGUE = [
  { name: "tenant_admin", description: "Administers one tenant", scope: "tenant" },
  { name: "partner_admin", description: "Administers every tenant of a partner", scope: "partner" },
  { name: "super_admin", description: "Administers the whole platform", scope: "platform" },
] as const;
const ROLE_NAMES: readonly string[] = ROLE_CATALOGUE.map((r) => r.name);
const Params = Type.Object({ user_id: Type.String({ maxLength: 300 }) });

/** `GET /v1/identity/roles`, `GET|PUT /v1/identity/users/{user_id}/roles` (vault-assigned roles, spec §3). */
export function registerRoleRoutes(app: FastifyInstance, deps: { db: Database; store: IdentityStore; audit: AuditRecorder; access: AccessEpoch }): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get("/v1/identity/roles", { schema: { tags, summary: "Admin roles that can be assigned" }, config: { action: "identity_list", category: "identity_read", tenantOptional: true } }, async () => ({ roles: ROLE_CATALOGUE }));

  const findUser = async (request: Parameters<typeof principalOf>[0], userId: string) => {
    const principal = principalOf(request);
    const canonical = userId.startsWith("user:") ? userId : `user:${userId}`;
    const user = await deps.store.findEntry(await callerTenants(deps.store, principal, request.vault.tenant?.tenantId ?? null), "user", { id: userId, identityId: canonical });
    if (!user) throw notFound("user", userId);
    return { principal, user };
  };
  const rolesView = (user: { id: string; identityId: string; roles: string[] }, vault: string[]) => {
    const sources: Record<string, string> = {};
    for (const role of user.roles) sources[role] = "scaikey";
    for (const role of vault) sources[role] ??= "vault";
    return { user_id: user.id, identity_id: user.identityId, roles: Object.keys(sources), sources };
  };

  r.get("/v1/identity/users/:user_id/roles", { schema: { tags, summary: "A user's roles and where each comes from", params: Params }, config: { scope: "identity:read", action: "identity_resolve", category: "identity_read", tenantOptional: true } }, async (request) => {
    const { principal, user } = await findUser(request, request.params.user_id);
    return rolesView(user, await deps.store.vaultRoles(principal.partnerId, user.id));
  });

  r.put("/v1/identity/users/:user_id/roles", {
    schema: { tags, summary: "Set a user's vault-assigned roles", params: Params, body: Type.Object({ roles: Type.Array(Type.String({ maxLength: 64 }), { maxItems: 8 }) }, { additionalProperties: false }) },
    config: { scope: "identity:admin", action: "role_assign", category: "identity_read", tenantOptional: true },
  }, async (request) => {
    const { principal, user } = await findUser(request, request.params.user_id);
    const roles = [...new Set(request.body.roles)];
    const unknown = roles.find((role) => !ROLE_NAMES.includes(role));
    if (unknown) throw new VaultError("invalid_role", `Unknown role ${unknown}; use ${ROLE_NAMES.join(", ")}`, { details: { role: unknown } });
    if (!isPartnerAdmin(principal)) throw new VaultError("forbidden", "Only partner or super admins may assign roles");
    if (user.identityId === principal.identityId) throw new VaultError("forbidden", "No one may change their own roles");
    const previous = await deps.store.vaultRoles(principal.partnerId, user.id);
    const touchesSuper = roles.includes("super_admin") !== previous.includes("super_admin");
    if (touchesSuper && !principal.roles.includes("super_admin")) throw new VaultError("forbidden", "Only a super admin may grant or remove super_admin");
    request.vault.audit.extra = { user_id: user.id, identity_id: user.identityId, roles, previous_roles: previous };
    const caller: Caller = { principal, tenant: request.vault.tenant ?? { tenantId: user.tenantId, partnerId: principal.partnerId }, requestId: request.vault.requestId, ctx: request.vault };
    await deps.db.transaction(async (tx) => {
      await deps.store.setVaultRoles(principal.partnerId, user.id, roles, principal.identityId, Date.now(), tx);
      // Roles change what every node lets this user do: from the next request on.
      await deps.access.bumpDirectory(tx, user.tenantId);
      await deps.audit.recordInTransaction(tx, caller, 200);
    });
    return rolesView(user, roles);
  });
}
