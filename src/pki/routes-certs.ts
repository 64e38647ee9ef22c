import type { FastifyInstance } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { callerOf } from "../http/pipeline.js";
import type { CertificateService } from "./certificates.js";
import type { IssueService } from "./issue.js";
import type { RoleService } from "./roles.js";
import { CertFull, CertList, CertListQuery, CertObject, IdParams, Issued, IssueBody, NameParams, RevokeBody, RoleCreate, RoleList, RoleObject, RoleParams, RolePatch, Signed, SignBody } from "./schemas.js";

const tags = ["pki"];
const admin = (action: string) => ({ scope: "pki:admin" as const, action, category: "pki_admin" });
const issuer = (action: string) => ({ scope: "pki:issue" as const, action, category: "pki_issue" });
// Reads take either PKI scope; the service narrows `pki:issue` to what the caller created.
const reader = (action: string) => ({ action, category: "pki_admin" });

export function registerCertificateRoutes(app: FastifyInstance, deps: { roles: RoleService; issue: IssueService; certs: CertificateService }): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.post("/v1/pki/roles", { schema: { tags, summary: "Create a role", body: RoleCreate, response: { 201: RoleObject } }, config: admin("pki_role_create") },
    async (request, reply) => reply.code(201).send(await deps.roles.create(callerOf(request), request.body)));
  r.get("/v1/pki/roles", { schema: { tags, summary: "List roles", response: { 200: RoleList } }, config: admin("pki_role_list") },
    async (request) => deps.roles.list(callerOf(request)));
  r.get("/v1/pki/roles/:name", { schema: { tags, summary: "Get a role", params: NameParams, response: { 200: RoleObject } }, config: admin("pki_role_read") },
    async (request) => deps.roles.get(callerOf(request), request.params.name));
  r.patch("/v1/pki/roles/:name", { schema: { tags, summary: "Update a role (merges)", params: NameParams, body: RolePatch, response: { 200: RoleObject } }, config: admin("pki_role_update") },
    async (request) => deps.roles.patch(callerOf(request), request.params.name, request.body));
  r.delete("/v1/pki/roles/:name", { schema: { tags, summary: "Delete a role", params: NameParams }, config: admin("pki_role_delete") },
    async (request, reply) => {
      await deps.roles.delete(callerOf(request), request.params.name);
      return reply.code(204).send();
    });

  r.post("/v1/pki/issue/:role", {
    schema: { tags, summary: "Issue a certificate with a server-generated key (the key is shown once)", params: RoleParams, body: IssueBody, response: { 201: Issued } },
    config: issuer("pki_issue"),
  }, async (request, reply) => reply.code(201).header("Cache-Control", "no-store").send(await deps.issue.issue(callerOf(request), request.params.role, request.body)));
  r.post("/v1/pki/sign/:role", { schema: { tags, summary: "Sign a CSR under a role", params: RoleParams, body: SignBody, response: { 201: Signed } }, config: issuer("pki_sign") },
    async (request, reply) => reply.code(201).send(await deps.issue.sign(callerOf(request), request.params.role, request.body)));

  r.get("/v1/pki/certificates", { schema: { tags, summary: "List certificates", querystring: CertListQuery, response: { 200: CertList } }, config: reader("pki_certificate_list") },
    async (request) => deps.certs.list(callerOf(request), request.query));
  r.get("/v1/pki/certificates/:id", { schema: { tags, summary: "Get a certificate by id or serial number", params: IdParams, response: { 200: CertFull } }, config: reader("pki_certificate_read") },
    async (request) => deps.certs.get(callerOf(request), request.params.id));
  r.get("/v1/pki/certificates/:id/pem", { schema: { tags, summary: "The certificate then its chain, PEM", params: IdParams }, config: reader("pki_certificate_read") },
    async (request, reply) => reply.type("application/x-pem-file").send(await deps.certs.pem(callerOf(request), request.params.id)));
  r.post("/v1/pki/certificates/:id/revoke", { schema: { tags, summary: "Revoke a certificate (idempotent)", params: IdParams, body: RevokeBody, response: { 200: CertObject } }, config: admin("pki_revoke") },
    async (request) => deps.certs.revoke(callerOf(request), request.params.id, request.body.reason));
}
