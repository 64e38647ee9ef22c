import type { FastifyInstance } from "fastify";
import { Type } from "@sinclair/typebox";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { validationError, VaultError } from "../http/errors.js";
import { callerOf } from "../http/pipeline.js";
import { splitSecretUrl } from "../secrets/paths.js";
import {
  AssignBody,
  DueItem,
  DueQuery,
  HistoryQuery,
  IdParams,
  listOf,
  PolicyListQuery,
  PolicyRotateBody,
  PreviewResponse,
  RotationHistoryItem,
  RotationPolicyCreate,
  RotationPolicyObject,
  RotationPolicyPatch,
  SecretAssignment,
  SecretPolicyCreate,
  SecretPolicyObject,
  SecretPolicyPatch,
  SecretRotateResponse,
} from "./schemas.js";
import type { SecretPolicyService } from "./secret-policies.js";
import type { RotationService } from "./service.js";

const tags = ["rotation"];
const checkRotateBody = TypeCompiler.Compile(PolicyRotateBody);

/** An absent body means every assigned secret; a present one must be `{secret_paths: [...]}`. */
function optionalRotateBody(body: unknown): string[] | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body !== "object" || Array.isArray(body)) throw new VaultError("invalid_request", "The request body must be a JSON object");
  if (!checkRotateBody.Check(body)) {
    const first = checkRotateBody.Errors(body).First();
    throw validationError({ [first?.path.replace(/^\//, "").replace(/\//g, ".") || "body"]: first?.message ?? "invalid" });
  }
  return (body as { secret_paths?: string[] }).secret_paths;
}
const admin = (action: string) => ({ scope: "admin" as const, action, category: "rotation" });
const Deleted = Type.Object({ id: Type.String(), deleted: Type.Boolean() }, { additionalProperties: true });

export function registerRotationRoutes(app: FastifyInstance, rotation: RotationService, secretPolicies: SecretPolicyService): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const base = "/v1/rotation/policies";

  r.get(base, { schema: { tags, summary: "List rotation policies", querystring: PolicyListQuery, response: { 200: listOf(RotationPolicyObject) } }, config: admin("rotation_policy_read") },
    async (request) => rotation.list(callerOf(request), request.query));
  r.post(base, { schema: { tags, summary: "Create a rotation policy", body: RotationPolicyCreate, response: { 201: RotationPolicyObject } }, config: admin("rotation_policy_create") },
    async (request, reply) => reply.code(201).send(await rotation.create(callerOf(request), request.body)));
  r.get(`${base}/:id`, { schema: { tags, summary: "Get a rotation policy", params: IdParams, response: { 200: RotationPolicyObject } }, config: admin("rotation_policy_read") },
    async (request) => rotation.get(callerOf(request), request.params.id));
  r.patch(`${base}/:id`, { schema: { tags, summary: "Update a rotation policy", params: IdParams, body: RotationPolicyPatch, response: { 200: RotationPolicyObject } }, config: admin("rotation_policy_update") },
    async (request) => rotation.patch(callerOf(request), request.params.id, request.body));
  r.delete(`${base}/:id`, { schema: { tags, summary: "Delete a rotation policy (its secrets are detached)", params: IdParams, response: { 200: Deleted } }, config: admin("rotation_policy_delete") },
    async (request) => rotation.delete(callerOf(request), request.params.id));
  r.post(`${base}/:id/enable`, { schema: { tags, summary: "Resume a paused policy", params: IdParams, response: { 200: RotationPolicyObject } }, config: admin("rotation_policy_update") },
    async (request) => rotation.setActive(callerOf(request), request.params.id, true));
  r.post(`${base}/:id/disable`, { schema: { tags, summary: "Pause a policy without detaching its secrets", params: IdParams, response: { 200: RotationPolicyObject } }, config: admin("rotation_policy_update") },
    async (request) => rotation.setActive(callerOf(request), request.params.id, false));
  r.post(`${base}/:id/secrets`, { schema: { tags, summary: "Assign a secret to the policy", params: IdParams, body: AssignBody, response: { 201: SecretAssignment } }, config: admin("rotation_policy_assign") },
    async (request, reply) => reply.code(201).send(await rotation.assign(callerOf(request), request.params.id, request.body.secret_path)));
  r.delete(`${base}/:id/secrets/*`, {
    schema: { tags, summary: "Detach a secret (path URL-encoded or plain)", params: Type.Object({ id: Type.String(), "*": Type.String() }) },
    config: { ...admin("rotation_policy_unassign"), docPath: `${base}/{id}/secrets/{secret_path}` },
  }, async (request) => rotation.unassign(callerOf(request), request.params.id, request.params["*"]));
  r.post(`${base}/:id/rotate`, {
    // No body schema: the body is optional (`{"secret_paths": [...]}`), checked by hand below.
    schema: { tags, summary: "Rotate the policy's secrets now (optional body {secret_paths})", params: IdParams, response: { 200: Type.Array(RotationHistoryItem) } },
    config: { scope: "secrets:rotate", action: "rotate", category: "rotation" },
  }, async (request) => rotation.rotatePolicy(callerOf(request), request.params.id, optionalRotateBody(request.body)));
  r.get(`${base}/:id/history`, {
    schema: { tags, summary: "Rotation history of the policy", params: IdParams, querystring: HistoryQuery, response: { 200: listOf(RotationHistoryItem) } },
    config: { scope: "audit:read", action: "rotation_history", category: "rotation" },
  }, async (request) => rotation.history(callerOf(request), request.params.id, request.query));

  for (const [url, deprecated] of [["/v1/rotation/due", false], ["/v1/rotation/pending", true]] as const) {
    r.get(url, {
      schema: { tags, summary: deprecated ? "Deprecated alias of /v1/rotation/due" : "Secrets due for rotation", deprecated, querystring: DueQuery, response: { 200: listOf(DueItem) } },
      config: { scope: "secrets:rotate", action: "rotation_due", category: "rotation" },
    }, async (request) => rotation.due(callerOf(request), request.query));
  }

  r.post("/v1/secrets/*", {
    constraints: { secretAction: "rotate" },
    schema: { tags: ["secrets"], summary: "Rotate one secret now (or mark it due for its automation)", response: { 202: SecretRotateResponse } },
    config: { scope: "secrets:rotate", action: "rotate", category: "rotation", docPath: "/v1/secrets/{path}/rotate" },
  }, async (request, reply) => reply.code(202).send(await rotation.rotateSecret(callerOf(request), splitSecretUrl(request.url, "/v1/secrets/").path)));

  const sp = "/v1/secret-policies";
  const spTags = ["secret-policies"];
  r.get(sp, { schema: { tags: spTags, summary: "List secret policies", querystring: PolicyListQuery, response: { 200: listOf(SecretPolicyObject) } }, config: admin("secret_policy_read") },
    async (request) => secretPolicies.list(callerOf(request), request.query));
  r.post(sp, { schema: { tags: spTags, summary: "Create a secret policy", body: SecretPolicyCreate, response: { 201: SecretPolicyObject } }, config: admin("secret_policy_create") },
    async (request, reply) => reply.code(201).send(await secretPolicies.create(callerOf(request), request.body)));
  r.get(`${sp}/:id`, { schema: { tags: spTags, summary: "Get a secret policy", params: IdParams, response: { 200: SecretPolicyObject } }, config: admin("secret_policy_read") },
    async (request) => secretPolicies.get(callerOf(request), request.params.id));
  r.patch(`${sp}/:id`, { schema: { tags: spTags, summary: "Update a secret policy", params: IdParams, body: SecretPolicyPatch, response: { 200: SecretPolicyObject } }, config: admin("secret_policy_update") },
    async (request) => secretPolicies.patch(callerOf(request), request.params.id, request.body));
  r.delete(`${sp}/:id`, { schema: { tags: spTags, summary: "Delete a secret policy (refused while used)", params: IdParams, response: { 200: Deleted } }, config: admin("secret_policy_delete") },
    async (request) => secretPolicies.delete(callerOf(request), request.params.id));
  r.post(`${sp}/:id/preview`, { schema: { tags: spTags, summary: "Generate a sample value (nothing is stored)", params: IdParams, response: { 200: PreviewResponse } }, config: admin("secret_policy_preview") },
    async (request) => secretPolicies.preview(callerOf(request), request.params.id));
}
