import type { FastifyInstance, FastifyRequest } from "fastify";
import { Type } from "@sinclair/typebox";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { isPartnerAdmin, type Principal } from "../access/principal.js";
import type { AuditRecorder } from "../audit/recorder.js";
import type { Keyring } from "../crypto/keyring.js";
import type { Caller } from "../http/context.js";
import { VaultError } from "../http/errors.js";
import { decodeCursor, encodeCursor } from "../shared/cursor.js";
import { newId } from "../shared/ids.js";
import { iso } from "../shared/time.js";
import { isUniqueViolation, type Database } from "../storage/contract.js";
import type { Tenant, TenancyStore } from "./store.js";

const tags = ["identity"];

const CreateTenantBody = Type.Object(
  {
    id: Type.Optional(Type.String({ pattern: "^tnt_[A-Za-z0-9_-]{1,60}$", description: "tnt_…; generated when absent" })),
    name: Type.String({ minLength: 1, maxLength: 256 }),
  },
  { additionalProperties: false },
);

const ListTenantsQuery = Type.Object(
  {
    partner_id: Type.Optional(Type.String({ maxLength: 64 })),
    status: Type.Optional(Type.Union(["ACTIVE", "SUSPENDED", "DISABLED", "DELETED"].map((s) => Type.Literal(s)))),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
    cursor: Type.Optional(Type.String({ maxLength: 512 })),
  },
  { additionalProperties: false },
);

const tenantView = (tenant: Tenant) => ({
  id: tenant.id, partner_id: tenant.partnerId, name: tenant.name, status: tenant.status ?? "ACTIVE", created_at: iso(tenant.createdAt),
  // identity domain (spec/identity.md §3)
  slug: tenant.slug ?? null, source: tenant.source ?? "local", last_synced_at: tenant.lastSyncedAt ? iso(tenant.lastSyncedAt) : null,
});

export interface TenancyRouteDeps {
  db: Database;
  tenancy: TenancyStore;
  keyring: Keyring;
  audit: AuditRecorder;
}

function principalOf(request: FastifyRequest): Principal {
  const principal = request.vault.principal;
  if (!principal) throw new VaultError("authentication_required", "Send Authorization: Bearer <token>");
  return principal;
}

/** `POST/GET /v1/identity/tenants`: tenants of the caller's partner (created by partner admins). */
export function registerTenancyRoutes(app: FastifyInstance, deps: TenancyRouteDeps): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.post("/v1/identity/tenants", {
    schema: { tags, summary: "Create a tenant in the caller's partner", body: CreateTenantBody },
    config: { scope: "identity:admin", action: "tenant_create", tenantOptional: true },
  }, async (request, reply) => {
    const principal = principalOf(request);
    if (!isPartnerAdmin(principal)) throw new VaultError("forbidden", "Only partner admins may create tenants");
    const tenant: Tenant = { id: request.body.id ?? newId("tnt"), partnerId: principal.partnerId, name: request.body.name, createdAt: Date.now() };
    request.vault.audit.extra = { tenant_id: tenant.id };
    const caller: Caller = { principal, tenant: request.vault.tenant ?? { tenantId: tenant.id, partnerId: tenant.partnerId }, requestId: request.vault.requestId, ctx: request.vault };
    try {
      await deps.db.transaction(async (tx) => {
        if (await deps.tenancy.getTenant(tenant.id, tx)) throw new VaultError("already_exists", `Tenant ${tenant.id} already exists`, { details: { id: tenant.id } });
        await deps.tenancy.insertTenant(tenant, tx);
        await deps.keyring.ensureTenantKey(tenant.id, tenant.partnerId, tx);
        await deps.audit.recordInTransaction(tx, caller, 201);
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw new VaultError("already_exists", `Tenant ${tenant.id} already exists`, { details: { id: tenant.id } });
      throw error;
    }
    return reply.code(201).send(tenantView(tenant));
  });

  r.get("/v1/identity/tenants", {
    schema: { tags, summary: "Tenants the caller may see", querystring: ListTenantsQuery },
    config: { scope: "identity:read", action: "tenant_list", category: "identity_read", tenantOptional: true },
  }, async (request) => {
    const principal = principalOf(request);
    const { partner_id: partnerId, status, limit = 100, cursor } = request.query;
    if (partnerId !== undefined && partnerId !== principal.partnerId && !principal.roles.includes("super_admin")) {
      throw new VaultError("tenant_access_denied", "This credential may not list another partner's tenants");
    }
    // Everyone but a partner admin sees only the tenant of their own credential.
    if (!isPartnerAdmin(principal)) {
      const own = principal.tenantId ? await deps.tenancy.getTenant(principal.tenantId) : undefined;
      const data = own && (!status || own.status === status) ? [tenantView(own)] : [];
      return { data, cursor: null, has_more: false, tenants: data, total: data.length };
    }
    const after = decodeCursor<{ i: string }>(cursor, { i: "string" });
    const rows = await deps.tenancy.listTenants(partnerId ?? principal.partnerId, after?.i ?? null, limit + 1, status);
    const page = rows.slice(0, limit);
    const hasMore = rows.length > limit;
    const data = page.map(tenantView);
    const total = await deps.tenancy.countTenants(partnerId ?? principal.partnerId, status);
    return { data, cursor: hasMore ? encodeCursor({ i: page[page.length - 1].id }) : null, has_more: hasMore, tenants: data, total };
  });
}
