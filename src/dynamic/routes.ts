import { auditAnonymously } from "../http/anonymous.js";
import type { FastifyInstance } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type, type TSchema } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { validationError, VaultError } from "../http/errors.js";
import { callerOf } from "../http/pipeline.js";
import type { EngineService } from "./engines.js";
import type { LeaseService } from "./leases.js";
import type { RoleService } from "./roles.js";
import type { RootRotator } from "./rotate-root.js";
import {
  CredsBody, CredsResponse, DeleteEngineQuery, EngineCreate, EngineObject, EngineParams, EnginePatch, HealthObject, LeaseListQuery, LeaseObject,
  LeaseParams, listOf, PrefixBody, PrefixResponse, RenewBody, RoleCreate, RoleObject, RoleParams, RolePatch, RotateRootResponse,
} from "./schemas.js";
import type { SshPublic } from "./ssh/public.js";
import type { LeaseListQuery as LeaseListQueryType } from "./leases.js";

const tags = ["dynamic"];
const manage = (action: string) => ({ scope: "dynamic:manage" as const, action, category: "dynamic_admin" });
const read = (action: string, category: string) => ({ scope: "dynamic:read" as const, action, category });

/** Bodies that may be absent (POST …/creds, …/renew): absent is `{}`, present must match the schema. */
function optionalBody<T>(schema: TSchema) {
  const check = TypeCompiler.Compile(schema);
  return (body: unknown): T => {
    if (body === undefined || body === null) return {} as T;
    if (typeof body !== "object" || Array.isArray(body)) throw new VaultError("invalid_request", "The request body must be a JSON object");
    if (!check.Check(body)) {
      const first = check.Errors(body).First();
      throw validationError({ [first?.path.replace(/^\//, "").replace(/\//g, ".") || "body"]: first?.message ?? "invalid" });
    }
    return body as T;
  };
}
const credsBody = optionalBody<{ ttl?: string; public_key?: string; valid_principals?: string[] }>(CredsBody);
const renewBody = optionalBody<{ increment?: string }>(RenewBody);

export interface DynamicServices {
  engines: EngineService;
  roles: RoleService;
  leases: LeaseService;
  rotator: RootRotator;
  ssh: SshPublic;
}

export function registerDynamicRoutes(app: FastifyInstance, s: DynamicServices): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const engines = "/v1/dynamic/engines";
  const one = `${engines}/:engine`;

  r.post(engines, { schema: { tags, summary: "Create an engine", body: EngineCreate, response: { 201: EngineObject } }, config: manage("dynamic_engine_create") },
    async (request, reply) => reply.code(201).send(await s.engines.create(callerOf(request), request.body)));
  r.get(engines, { schema: { tags, summary: "List engines", response: { 200: listOf(EngineObject) } }, config: read("dynamic_engine_list", "dynamic_admin") },
    async (request) => s.engines.list(callerOf(request)));
  r.get(one, { schema: { tags, summary: "Get an engine", params: EngineParams, response: { 200: EngineObject } }, config: read("dynamic_engine_read", "dynamic_admin") },
    async (request) => s.engines.get(callerOf(request), request.params.engine));
  r.patch(one, { schema: { tags, summary: "Update an engine (re-reads and re-tests its root credentials)", params: EngineParams, body: EnginePatch, response: { 200: EngineObject } }, config: manage("dynamic_engine_update") },
    async (request) => s.engines.patch(callerOf(request), request.params.engine, request.body));
  r.delete(one, { schema: { tags, summary: "Delete an engine (409 while leases are live unless ?force=true)", params: EngineParams, querystring: DeleteEngineQuery }, config: manage("dynamic_engine_delete") },
    async (request, reply) => {
      await s.engines.delete(callerOf(request), request.params.engine, request.query.force === true);
      return reply.code(204).send();
    });
  r.get(`${one}/health`, { schema: { tags, summary: "Check the engine's connection", params: EngineParams, response: { 200: HealthObject } }, config: read("dynamic_engine_health", "dynamic_admin") },
    async (request) => s.engines.health(callerOf(request), request.params.engine));
  r.post(`${one}/rotate-root`, { schema: { tags, summary: "Rotate the engine's root password at the source and in its root secret", params: EngineParams, response: { 200: RotateRootResponse } }, config: manage("dynamic_rotate_root") },
    async (request) => {
      const caller = callerOf(request);
      caller.ctx.audit.extra = { engine: request.params.engine };
      return s.rotator.rotate(await s.engines.require(caller, request.params.engine), caller);
    });

  r.post(`${one}/roles`, { schema: { tags, summary: "Create a role", params: EngineParams, body: RoleCreate, response: { 201: RoleObject } }, config: manage("dynamic_role_create") },
    async (request, reply) => reply.code(201).send(await s.roles.create(callerOf(request), request.params.engine, request.body)));
  r.get(`${one}/roles`, { schema: { tags, summary: "List an engine's roles", params: EngineParams, response: { 200: listOf(RoleObject) } }, config: read("dynamic_role_list", "dynamic_admin") },
    async (request) => s.roles.list(callerOf(request), request.params.engine));
  r.get(`${one}/roles/:role`, { schema: { tags, summary: "Get a role", params: RoleParams, response: { 200: RoleObject } }, config: read("dynamic_role_read", "dynamic_admin") },
    async (request) => s.roles.get(callerOf(request), request.params.engine, request.params.role));
  r.patch(`${one}/roles/:role`, { schema: { tags, summary: "Update a role", params: RoleParams, body: RolePatch, response: { 200: RoleObject } }, config: manage("dynamic_role_update") },
    async (request) => s.roles.patch(callerOf(request), request.params.engine, request.params.role, request.body));
  r.delete(`${one}/roles/:role`, { schema: { tags, summary: "Delete a role (its leases keep running)", params: RoleParams }, config: manage("dynamic_role_delete") },
    async (request, reply) => {
      await s.roles.delete(callerOf(request), request.params.engine, request.params.role);
      return reply.code(204).send();
    });

  r.post(`${one}/creds/:role`, {
    // No body schema: the body is optional ({ttl}, or for ssh {public_key, valid_principals, ttl}); checked by hand.
    schema: { tags, summary: "Generate credentials: a lease (needs read on sys/dynamic/{engine}/{role})", params: RoleParams, response: { 201: CredsResponse } },
    config: read("dynamic_generate", "dynamic_generate"),
  }, async (request, reply) => reply.code(201).send(await s.leases.creds(callerOf(request), request.params.engine, request.params.role, credsBody(request.body))));

  const leases = "/v1/dynamic/leases";
  r.get(leases, { schema: { tags, summary: "List leases (dynamic:read: one's own)", querystring: LeaseListQuery, response: { 200: listOf(LeaseObject) } }, config: read("dynamic_lease_list", "lease") },
    async (request) => s.leases.list(callerOf(request), request.query as LeaseListQueryType));
  r.post(`${leases}/revoke-prefix`, { schema: { tags, summary: "Revoke every live lease of an engine or engine/role", body: PrefixBody, response: { 200: PrefixResponse } }, config: { ...manage("dynamic_revoke_prefix"), category: "lease" } },
    async (request) => s.leases.revokePrefix(callerOf(request), request.body.prefix));
  r.get(`${leases}/:lease_id`, { schema: { tags, summary: "Get a lease", params: LeaseParams, response: { 200: LeaseObject } }, config: read("dynamic_lease_read", "lease") },
    async (request) => s.leases.get(callerOf(request), request.params.lease_id));
  r.post(`${leases}/:lease_id/renew`, { schema: { tags, summary: "Renew a lease (capped at max_ttl)", params: LeaseParams, response: { 200: LeaseObject } }, config: read("dynamic_renew", "lease") },
    async (request) => s.leases.renew(callerOf(request), request.params.lease_id, renewBody(request.body).increment));
  for (const [method, url] of [["POST", `${leases}/:lease_id/revoke`], ["DELETE", `${leases}/:lease_id`]] as const) {
    r.route({ method, url, schema: { tags, summary: "Revoke a lease at the source now", params: LeaseParams, response: { 200: LeaseObject } }, config: read("dynamic_revoke", "lease"),
      handler: async (request) => s.leases.revoke(callerOf(request), (request.params as { lease_id: string }).lease_id) });
  }

  // Public (no token): sshd hosts fetch these. Addressed by the engine id, which names its tenant.
  // Charged per source address (`public` category); audited in the engine's tenant as `anonymous`.
  r.get(`${one}/ssh/ca`, { schema: { tags, summary: "The SSH CA public key (OpenSSH form), by engine id", params: EngineParams }, config: { auth: false, publicRate: true, action: "dynamic_ssh_ca_read", category: "public" } },
    async (request, reply) => reply.type("text/plain; charset=utf-8").send(await s.ssh.caPublicKey(request.params.engine, (row) => auditAnonymously(request, row, { engine_id: row.id }))));
  r.get(`${one}/ssh/krl`, { schema: { tags, summary: "The OpenSSH KRL of revoked and expired certificates, by engine id", params: EngineParams }, config: { auth: false, publicRate: true, action: "dynamic_ssh_krl_read", category: "public" } },
    async (request, reply) => reply.type("application/octet-stream").send(await s.ssh.krl(request.params.engine, (row) => auditAnonymously(request, row, { engine_id: row.id }))));
}

export { Type };
