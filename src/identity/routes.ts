import type { FastifyInstance, FastifyRequest } from "fastify";
import { Type } from "@sinclair/typebox";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { Principal } from "../access/principal.js";
import { VaultError } from "../http/errors.js";
import { isoOrNull } from "../shared/time.js";
import { groupMembersPage } from "./group-members.js";
import type { EntryKind, GroupTreeMember, IdentityStore } from "./store.js";
import { callerTenants, groupView, ListQuery, notFound, PageQuery, requireVisibleTenant, resolveView, serviceAccountView, STATUS, userView } from "./views.js";

const tags = ["identity"];
const read = { scope: "identity:read", category: "identity_read", tenantOptional: true } as const;
const TenantParams = Type.Object({ tenant_id: Type.String({ maxLength: 64 }) });

export function principalOf(request: FastifyRequest): Principal {
  const principal = request.vault.principal;
  if (!principal) throw new VaultError("authentication_required", "Send Authorization: Bearer <token>");
  return principal;
}

/** The identity cache's read endpoints (spec/identity.md §3). */
export function registerDirectoryRoutes(app: FastifyInstance, store: IdentityStore): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get("/v1/identity/partners", {
    schema: { tags, summary: "Partners in the identity cache", querystring: Type.Object({ status: Type.Optional(STATUS), ...PageQuery }, { additionalProperties: false }) },
    config: { ...read, action: "identity_list" },
  }, async (request) => {
    const principal = principalOf(request);
    const { status, page = 1, page_size: size = 50 } = request.query;
    const all = await store.partners(principal.roles.includes("super_admin") ? null : principal.partnerId, status);
    const partners = all.slice((page - 1) * size, page * size).map((p) => ({ id: p.id, name: p.name, slug: p.slug, region: p.region, status: p.status, last_synced_at: isoOrNull(p.last_synced_at === null ? null : Number(p.last_synced_at)) }));
    return { partners, total: all.length, page, page_size: size };
  });

  const list = (kind: EntryKind, key: string, view: (e: Parameters<typeof userView>[0], counts: Map<string, number>) => unknown, summary: string, suffix: string) =>
    r.get(`/v1/identity/tenants/:tenant_id/${suffix}`, { schema: { tags, summary, params: TenantParams, querystring: ListQuery }, config: { ...read, action: "identity_list" } }, async (request) => {
      const principal = principalOf(request);
      const tenantId = request.params.tenant_id;
      await requireVisibleTenant(store, principal, tenantId);
      const { status, q, page = 1, page_size: size = 50 } = request.query;
      const { items, total } = await store.listEntries(tenantId, kind, { status, q, page, pageSize: size });
      const counts = kind === "group" ? await store.memberCounts(tenantId, items.map((e) => e.id)) : new Map<string, number>();
      return { [key]: items.map((e) => view(e, counts)), total, page, page_size: size };
    });
  list("user", "users", (e) => userView(e), "Users of a tenant in the identity cache", "users");
  list("group", "groups", (e, counts) => groupView(e, counts.get(e.id) ?? 0), "Groups of a tenant in the identity cache", "groups");
  list("service_account", "service_accounts", (e) => serviceAccountView(e), "Service accounts of a tenant in the identity cache", "service-accounts");

  r.get("/v1/identity/groups/:group_id/members", {
    schema: { tags, summary: "A group's members, nested groups resolved", params: Type.Object({ group_id: Type.String({ maxLength: 200 }) }), querystring: Type.Object(PageQuery, { additionalProperties: false }) },
    config: { ...read, action: "identity_list" },
  }, async (request) => {
    const principal = principalOf(request);
    const groupId = request.params.group_id;
    const group = await store.findEntry(await callerTenants(store, principal, request.vault.tenant?.tenantId ?? null), "group", { id: groupId });
    if (!group) throw notFound("group", groupId);
    const { page = 1, page_size: size = 50 } = request.query;
    const rowsOf = (id: string, visit: (row: GroupTreeMember) => void) => store.eachGroupMember(group.tenantId, id, visit);
    const { members, total } = await groupMembersPage(group.id, rowsOf, { offset: (page - 1) * size, limit: size });
    return { members, total, page, page_size: size };
  });

  r.get("/v1/identity/resolve/:identity_type/:identity_id", {
    schema: { tags, summary: "Resolve an identity from the cache, with its groups", params: Type.Object({ identity_type: Type.Union([Type.Literal("user"), Type.Literal("service_account"), Type.Literal("group")]), identity_id: Type.String({ maxLength: 300 }) }) },
    config: { ...read, action: "identity_resolve" },
  }, async (request) => {
    const principal = principalOf(request);
    const { identity_type: type, identity_id: raw } = request.params;
    const tenant = request.vault.tenant?.tenantId;
    const prefix = { user: "user:", service_account: "sa:", group: "group:" }[type];
    const canonical = raw.startsWith(prefix) ? raw : `${prefix}${raw}`;
    const entry = tenant ? await store.findEntry([tenant], type, { id: raw, identityId: canonical }) : undefined;
    if (!entry) throw notFound(type, raw);
    const vaultRoles = entry.kind === "user" ? await store.vaultRoles(principal.partnerId, entry.id) : [];
    return resolveView(entry, [...new Set([...entry.roles, ...vaultRoles])]);
  });
}

