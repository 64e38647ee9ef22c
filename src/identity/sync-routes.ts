import type { FastifyInstance } from "fastify";
import { Type } from "@sinclair/typebox";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { isPartnerAdmin } from "../access/principal.js";
import { VaultError } from "../http/errors.js";
import type { IdentityStore } from "./store.js";
import { syncView, type IdentitySync } from "./sync.js";
import type { SyncStore } from "./sync-store.js";
import { principalOf } from "./routes.js";

const tags = ["identity"];

/** `POST /v1/identity/sync`, its history and one sync (spec/identity.md §3). */
export function registerSyncRoutes(app: FastifyInstance, deps: { store: IdentityStore; syncs: SyncStore; sync: IdentitySync }): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.post("/v1/identity/sync", {
    schema: { tags, summary: "Sync the identity cache from ScaiKey now", querystring: Type.Object({ partner_id: Type.Optional(Type.String({ maxLength: 64 })), tenant_id: Type.Optional(Type.String({ maxLength: 64 })) }, { additionalProperties: false }) },
    config: { scope: "identity:admin", action: "identity_sync", category: "identity_sync", tenantOptional: true },
  }, async (request, reply) => {
    const principal = principalOf(request);
    if (!deps.sync.configured) throw new VaultError("invalid_config", "No identity directory is configured (set SCAIKEY_URL, SCAIKEY_CLIENT_ID and SCAIKEY_CLIENT_SECRET)");
    const superAdmin = principal.roles.includes("super_admin");
    let partnerId = request.query.partner_id ?? null;
    let tenantId = request.query.tenant_id ?? null;
    if (partnerId && partnerId !== principal.partnerId && !superAdmin) throw new VaultError("tenant_access_denied", "Syncing another partner needs a super admin");
    if (tenantId) {
      const tenant = await deps.store.getTenant(tenantId);
      if (tenantId !== principal.tenantId && !isPartnerAdmin(principal)) throw new VaultError("tenant_access_denied", "This credential may not sync that tenant");
      if (tenant && tenant.partner_id !== principal.partnerId && !superAdmin) throw new VaultError("tenant_access_denied", "This credential may not sync that tenant");
      partnerId ??= tenant?.partner_id ?? principal.partnerId;
    } else if (!partnerId) {
      partnerId = principal.partnerId;
      if (!isPartnerAdmin(principal)) tenantId = principal.tenantId;
      if (!isPartnerAdmin(principal) && !tenantId) throw new VaultError("tenant_access_denied", "This credential belongs to no tenant to sync");
    } else if (!isPartnerAdmin(principal)) {
      // A partner-wide sync is for partner admins; anyone else syncs their own tenant.
      tenantId = principal.tenantId;
    }
    const record = await deps.sync.request({ partnerId: principal.partnerId, scope: { partnerId, tenantId }, trigger: "manual", triggeredBy: principal.identityId });
    request.vault.audit.extra = { sync_id: record.id, scope: { partner_id: partnerId, tenant_id: tenantId } };
    const view = syncView(record);
    return reply.code(202).send({ sync_id: view.sync_id, status: view.status === "pending" || view.status === "running" ? view.status : "running", started_at: view.started_at, scope: view.scope });
  });

  r.get("/v1/identity/sync/history", {
    schema: { tags, summary: "Recent identity syncs, newest first", querystring: Type.Object({ status: Type.Optional(Type.Union(["pending", "running", "completed", "failed"].map((s) => Type.Literal(s)))), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 20 })) }, { additionalProperties: false }) },
    config: { scope: "identity:read", action: "identity_list", category: "identity_read", tenantOptional: true },
  }, async (request) => {
    const principal = principalOf(request);
    const { items, total } = await deps.syncs.list(principal.roles.includes("super_admin") ? null : principal.partnerId, request.query.status, request.query.limit ?? 20);
    return { syncs: items.map(syncView), total };
  });

  r.get("/v1/identity/sync/:sync_id", {
    schema: { tags, summary: "One identity sync", params: Type.Object({ sync_id: Type.String({ maxLength: 64 }) }) },
    config: { scope: "identity:read", action: "identity_list", category: "identity_read", tenantOptional: true },
  }, async (request) => {
    const principal = principalOf(request);
    const sync = await deps.syncs.get(request.params.sync_id);
    const visible = sync && (principal.roles.includes("super_admin") || sync.scope.partnerId === null || sync.scope.partnerId === principal.partnerId || sync.partnerId === principal.partnerId);
    if (!sync || !visible) throw new VaultError("sync_not_found", "No such identity sync", { details: { sync_id: request.params.sync_id } });
    return syncView(sync);
  });
}
