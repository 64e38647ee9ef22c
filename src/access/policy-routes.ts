import type { FastifyInstance } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { callerOf } from "../http/pipeline.js";
import {
  BindingParams,
  CreateBindingBody,
  CreatePolicyBody,
  DeletePolicyQuery,
  ListBindingsQuery,
  ListPoliciesQuery,
  PatchPolicyBody,
  PolicyIdParams,
  ReplacePolicyBody,
  TestPolicyBody,
  TestPolicyResponse,
} from "./policy-schemas.js";
import type { PolicyService } from "./policy-service.js";

const tags = ["policies"];

/** SPEC §4: policies and bindings check the token scope only (no path policy applies to them). */
export function registerPolicyRoutes(app: FastifyInstance, service: PolicyService): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const read = { scope: "policies:read", action: "policy_read", category: "policy" } as const;
  const write = { scope: "policies:write", action: "policy_update", category: "policy" } as const;

  r.post("/v1/policies", { schema: { tags, summary: "Create a policy", body: CreatePolicyBody }, config: { ...write, action: "policy_create" } }, async (request, reply) =>
    reply.code(201).send(await service.create(callerOf(request), request.body)),
  );

  r.get("/v1/policies", { schema: { tags, summary: "List policies", querystring: ListPoliciesQuery }, config: { ...read, action: "policy_list" } }, async (request) =>
    service.list(callerOf(request), request.query),
  );

  // No `action`: the pipeline writes no audit entry for a dry run, as the docs say.
  r.post("/v1/policies/test", { schema: { tags, summary: "Dry-run an access decision (not audited)", body: TestPolicyBody, response: { 200: TestPolicyResponse } }, config: { scope: "policies:read", category: "policy_test" } }, async (request) =>
    service.test(callerOf(request), request.body),
  );

  r.get("/v1/policies/:id", { schema: { tags, summary: "A policy with its rules and bindings", params: PolicyIdParams }, config: read }, async (request) =>
    service.get(callerOf(request), request.params.id),
  );

  r.put("/v1/policies/:id", { schema: { tags, summary: "Replace a policy (bindings are kept)", params: PolicyIdParams, body: ReplacePolicyBody }, config: { ...write, action: "policy_update" } }, async (request) =>
    service.update(callerOf(request), request.params.id, request.body, true),
  );

  r.patch("/v1/policies/:id", { schema: { tags, summary: "Change some fields of a policy", params: PolicyIdParams, body: PatchPolicyBody }, config: { ...write, action: "policy_update" } }, async (request) =>
    service.update(callerOf(request), request.params.id, request.body, false),
  );

  r.delete("/v1/policies/:id", { schema: { tags, summary: "Delete a policy (409 policy_in_use with bindings unless force=true)", params: PolicyIdParams, querystring: DeletePolicyQuery }, config: { ...write, action: "policy_delete" } }, async (request) =>
    service.delete(callerOf(request), request.params.id, request.query.force === true),
  );

  r.get("/v1/policies/:id/bindings", { schema: { tags, summary: "A policy's bindings, a page at a time", params: PolicyIdParams, querystring: ListBindingsQuery }, config: read }, async (request) =>
    service.listBindings(callerOf(request), request.params.id, request.query),
  );

  r.post("/v1/policies/:id/bindings", { schema: { tags, summary: "Bind a policy to an identity", params: PolicyIdParams, body: CreateBindingBody }, config: { ...write, action: "policy_bind" } }, async (request, reply) =>
    reply.code(201).send(await service.bind(callerOf(request), request.params.id, request.body)),
  );

  r.delete("/v1/policies/:id/bindings/:binding_id", { schema: { tags, summary: "Remove a binding", params: BindingParams }, config: { ...write, action: "policy_unbind" } }, async (request) =>
    service.unbind(callerOf(request), request.params.id, request.params.binding_id),
  );
}
