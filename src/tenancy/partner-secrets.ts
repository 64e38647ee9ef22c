import type { FastifyInstance, FastifyRequest } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { isPartnerAdmin } from "../access/principal.js";
import type { Caller } from "../http/context.js";
import { VaultError } from "../http/errors.js";
import { splitSecretUrl } from "../secrets/paths.js";
import type { SecretsReader } from "../secrets/reader.js";
import type { SecretsService } from "../secrets/service.js";
import { DeleteSecretQuery, ListSecretsQuery, ReadSecretQuery, SecretListResponse, SecretObject, WriteSecretBody } from "../secrets/schemas.js";

const BASE = "/v1/partner/secrets/";
const tags = ["partner secrets"];

/**
 * The partner is the owner of partner secrets: the secrets service and reader key rows by the
 * caller's tenant, so a caller whose tenant is the partner id reads and writes the partner's own
 * namespace (partner and tenant ids never collide: `ptn_` vs `tnt_`). Policy evaluation in that
 * namespace sees only `scope: partner` policies, since no tenant policy belongs to a partner id.
 * The request context keeps the real tenant, so the audit entry names where the call came from.
 */
function partnerCaller(request: FastifyRequest, write: boolean): Caller {
  const ctx = request.vault;
  const principal = ctx.principal;
  if (!principal) throw new VaultError("authentication_required", "Send Authorization: Bearer <token>");
  if (write && !isPartnerAdmin(principal)) throw new VaultError("forbidden", "Only partner admins may change partner secrets");
  const partnerId = ctx.tenant?.partnerId ?? principal.partnerId;
  return { principal, tenant: { tenantId: partnerId, partnerId }, requestId: ctx.requestId, ctx };
}

const pathOf = (request: FastifyRequest) => splitSecretUrl(request.url, BASE).path;

/** Reads are audited by the pipeline after the handler, so the entry can still be marked. */
function marked<T>(request: FastifyRequest, result: T): T {
  request.vault.audit.extra = { ...request.vault.audit.extra, partner_secret: true };
  return result;
}

export function registerPartnerSecretRoutes(app: FastifyInstance, service: SecretsService, reader: SecretsReader): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const plain = { secretAction: "none" };
  const docPath = "/v1/partner/secrets/{path}";

  r.get("/v1/partner/secrets", {
    schema: { tags, summary: "List partner secrets", querystring: ListSecretsQuery, response: { 200: SecretListResponse } },
    config: { scope: "secrets:list", action: "list", category: "list", tenantOptional: true },
  }, async (request) => marked(request, await reader.list(partnerCaller(request, false), request.query)));

  r.get("/v1/partner/secrets/*", {
    constraints: plain,
    schema: { tags, summary: "Read a partner secret", querystring: ReadSecretQuery, response: { 200: SecretObject } },
    config: { scope: "secrets:read", action: "read", category: "read", tenantOptional: true, docPath },
  }, async (request, reply) => {
    const q = request.query.version;
    const secret = await reader.read(partnerCaller(request, false), pathOf(request), q === undefined ? undefined : q === "previous" ? "previous" : Number(q));
    reply.header("ETag", `"${secret.version}"`);
    return marked(request, secret);
  });

  r.put("/v1/partner/secrets/*", {
    constraints: plain,
    schema: { tags, summary: "Write a partner secret (partner admins)", body: WriteSecretBody, response: { 200: SecretObject, 201: SecretObject } },
    config: { scope: "secrets:write", action: "write", category: "write", tenantOptional: true, docPath },
  }, async (request, reply) => {
    const result = await service.write(partnerCaller(request, true), pathOf(request), request.body, undefined);
    reply.header("ETag", `"${result.secret.version}"`);
    return reply.code(result.created ? 201 : 200).send(result.secret);
  });

  r.delete("/v1/partner/secrets/*", {
    constraints: plain,
    schema: { tags, summary: "Delete a partner secret (partner admins)", querystring: DeleteSecretQuery },
    config: { scope: "secrets:delete", action: "delete", category: "delete", tenantOptional: true, docPath },
  }, async (request) => service.delete(partnerCaller(request, true), pathOf(request), request.query.permanent === true));

  r.get("/v1/partner/secrets/*", {
    constraints: { secretAction: "versions" },
    schema: { tags, summary: "A partner secret's versions" },
    config: { scope: "secrets:list", action: "list", category: "list", tenantOptional: true, docPath: `${docPath}/versions` },
  }, async (request) => marked(request, await reader.versions(partnerCaller(request, false), pathOf(request))));

  r.get("/v1/partner/secrets/*", {
    constraints: { secretAction: "metadata" },
    schema: { tags, summary: "A partner secret's metadata" },
    config: { scope: "secrets:list", action: "list", category: "list", tenantOptional: true, docPath: `${docPath}/metadata` },
  }, async (request) => marked(request, await reader.metadata(partnerCaller(request, false), pathOf(request))));
}
