import type { FastifyInstance } from "fastify";
import { Type, type TSchema } from "@sinclair/typebox";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { callerOf } from "../http/pipeline.js";
import { NAME_PATTERN } from "../pki/common.js";
import type { DnsProviderService } from "./service.js";

const tags = ["dns"];
const admin = (action: string) => ({ scope: "pki:admin" as const, action, category: "pki_admin" });
const Str = Type.String();
const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
const Anything = Type.Object({}, { additionalProperties: true });

const IdParams = Type.Object({ id: Type.String({ maxLength: 128 }) });
const Zones = Type.Array(Type.String({ maxLength: 255 }), { minItems: 1, maxItems: 100 });
const ProviderCreate = Type.Object({
  name: Type.String({ pattern: NAME_PATTERN }),
  provider_type: Type.String({ maxLength: 64 }),
  config: Type.Optional(Anything),
  credentials: Type.Optional(Anything),
  managed_zones: Zones,
  verify: Type.Optional(Type.Boolean()),
}, { additionalProperties: false });
const ProviderPatch = Type.Object({
  name: Type.Optional(Type.String({ pattern: NAME_PATTERN })),
  config: Type.Optional(Anything),
  credentials: Type.Optional(Anything),
  managed_zones: Type.Optional(Zones),
  is_active: Type.Optional(Type.Boolean()),
  verify: Type.Optional(Type.Boolean()),
}, { additionalProperties: false });
const ProviderObject = Type.Object({ id: Str, name: Str, provider_type: Str, config: Anything, managed_zones: Type.Array(Str), is_active: Type.Boolean(), created_at: Str, updated_at: Str });
const ProviderList = Type.Object({ data: Type.Array(ProviderObject) });
const ZoneCheck = Type.Object({ zone: Str, ok: Type.Boolean(), serial: Type.Optional(Type.Integer()), error: Type.Optional(Nullable(Str)) });
const TestResult = Type.Object({ ok: Type.Boolean(), zones: Type.Array(ZoneCheck) });

/** `/v1/dns/providers` (contract P7; not under /v1/pki, as the docs). All of it needs `pki:admin`. */
export function registerDnsRoutes(app: FastifyInstance, deps: { providers: DnsProviderService }): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const base = "/v1/dns/providers";
  r.post(base, { schema: { tags, summary: "Create a DNS provider (credentials sealed, never returned)", body: ProviderCreate, response: { 201: ProviderObject } }, config: admin("dns_provider_create") },
    async (request, reply) => reply.code(201).send(await deps.providers.create(callerOf(request), request.body)));
  r.get(base, { schema: { tags, summary: "List DNS providers", response: { 200: ProviderList } }, config: admin("dns_provider_list") },
    async (request) => deps.providers.list(callerOf(request)));
  r.get(`${base}/:id`, { schema: { tags, summary: "Get a DNS provider", params: IdParams, response: { 200: ProviderObject } }, config: admin("dns_provider_read") },
    async (request) => deps.providers.get(callerOf(request), request.params.id));
  r.patch(`${base}/:id`, { schema: { tags, summary: "Change a DNS provider (credentials replaced as a whole when given)", params: IdParams, body: ProviderPatch, response: { 200: ProviderObject } }, config: admin("dns_provider_update") },
    async (request) => deps.providers.patch(callerOf(request), request.params.id, request.body));
  r.delete(`${base}/:id`, { schema: { tags, summary: "Delete a DNS provider", params: IdParams }, config: admin("dns_provider_delete") },
    async (request, reply) => {
      await deps.providers.delete(callerOf(request), request.params.id);
      return reply.code(204).send();
    });
  r.post(`${base}/:id/test`, { schema: { tags, summary: "Ask the provider's server for each managed zone's SOA", params: IdParams, response: { 200: TestResult } }, config: admin("dns_provider_test") },
    async (request) => deps.providers.test(callerOf(request), request.params.id));
}
