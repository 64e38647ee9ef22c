import type { FastifyInstance } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { callerOf } from "../http/pipeline.js";
import type { TrustAnchors } from "./anchors.js";
import type { CsrWorkflow } from "./csr-workflow.js";
import { AnchorCreate, AnchorList, AnchorObject, CsrApprove, CsrList, CsrObject, CsrQuery, CsrReject, CsrSubmit, IdParams } from "./schemas.js";

const tags = ["pki"];
const admin = (action: string) => ({ scope: "pki:admin" as const, action, category: "pki_admin" });
const reader = (action: string) => ({ action, category: "pki_admin" });

export function registerWorkflowRoutes(app: FastifyInstance, deps: { csrs: CsrWorkflow; anchors: TrustAnchors }): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.post("/v1/pki/csrs", { schema: { tags, summary: "Submit a CSR for review", body: CsrSubmit, response: { 201: CsrObject } }, config: { scope: "pki:issue", action: "pki_csr_submit", category: "pki_issue" } },
    async (request, reply) => reply.code(201).send(await deps.csrs.submit(callerOf(request), request.body)));
  r.get("/v1/pki/csrs", { schema: { tags, summary: "List CSRs", querystring: CsrQuery, response: { 200: CsrList } }, config: reader("pki_csr_list") },
    async (request) => deps.csrs.list(callerOf(request), request.query));
  r.get("/v1/pki/csrs/:id", { schema: { tags, summary: "Get a CSR", params: IdParams, response: { 200: CsrObject } }, config: reader("pki_csr_read") },
    async (request) => deps.csrs.get(callerOf(request), request.params.id));
  r.post("/v1/pki/csrs/:id/approve", { schema: { tags, summary: "Approve and sign a pending CSR", params: IdParams, body: CsrApprove, response: { 200: CsrObject } }, config: admin("pki_sign") },
    async (request) => deps.csrs.approve(callerOf(request), request.params.id, request.body.ttl));
  r.post("/v1/pki/csrs/:id/reject", { schema: { tags, summary: "Reject a pending CSR", params: IdParams, body: CsrReject, response: { 200: CsrObject } }, config: admin("pki_csr_reject") },
    async (request) => deps.csrs.reject(callerOf(request), request.params.id, request.body.reason));

  r.post("/v1/pki/trust-anchors", { schema: { tags, summary: "Trust an external CA certificate", body: AnchorCreate, response: { 201: AnchorObject } }, config: admin("pki_trust_anchor_create") },
    async (request, reply) => reply.code(201).send(await deps.anchors.create(callerOf(request), request.body)));
  r.get("/v1/pki/trust-anchors", { schema: { tags, summary: "List trust anchors", response: { 200: AnchorList } }, config: admin("pki_trust_anchor_list") },
    async (request) => deps.anchors.list(callerOf(request)));
  r.get("/v1/pki/trust-anchors/:id", { schema: { tags, summary: "Get a trust anchor with its certificate", params: IdParams, response: { 200: AnchorObject } }, config: admin("pki_trust_anchor_read") },
    async (request) => deps.anchors.get(callerOf(request), request.params.id));
  r.delete("/v1/pki/trust-anchors/:id", { schema: { tags, summary: "Delete a trust anchor", params: IdParams }, config: admin("pki_trust_anchor_delete") },
    async (request, reply) => {
      await deps.anchors.delete(callerOf(request), request.params.id);
      return reply.code(204).send();
    });
  r.get("/v1/pki/trust-bundle", { schema: { tags, summary: "PEM of the tenant's active CAs and trust anchors" }, config: reader("pki_trust_bundle_read") },
    async (request, reply) => reply.type("application/x-pem-file").send(await deps.anchors.bundle(callerOf(request))));
}
