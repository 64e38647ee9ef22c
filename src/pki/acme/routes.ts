import type { FastifyInstance, FastifyRequest } from "fastify";
import { Type } from "@sinclair/typebox";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { Principal } from "../../access/principal.js";
import { VaultError } from "../../http/errors.js";
import { callerOf } from "../../http/pipeline.js";
import type { Database } from "../../storage/contract.js";
import { NAME_PATTERN } from "../common.js";
import type { AcmeAccounts } from "./accounts.js";
import { PROVIDERS } from "./client.js";
import type { AcmeOrders } from "./orders.js";

const tags = ["pki"];
const Str = Type.String();
const Nullable = <T extends ReturnType<typeof Type.String>>(schema: T) => Type.Union([schema, Type.Null()]);
const admin = (action: string) => ({ scope: "pki:admin" as const, action, category: "pki_admin" });
const orderer = (action: string) => ({ scope: "pki:issue" as const, action, category: "acme_order" });
// Reads take either PKI scope; the service narrows `pki:issue` to what the caller created.
const reader = (action: string) => ({ action, category: "acme_order" });

export const AccountCreate = Type.Object({
  name: Type.String({ pattern: NAME_PATTERN }),
  provider: Type.Union(PROVIDERS.map((p) => Type.Literal(p))),
  environment: Type.Optional(Type.Union([Type.Literal("production"), Type.Literal("staging")])),
  email: Type.Optional(Type.String({ pattern: "^[^@\\s]+@[^@\\s]+$", maxLength: 254 })),
  directory_url: Type.Optional(Type.String({ maxLength: 2048 })),
  eab_kid: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
  eab_hmac_key: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
}, { additionalProperties: false });

export const AccountObject = Type.Object({
  id: Str, name: Str, provider: Str, environment: Str, directory_url: Str, email: Type.Union([Str, Type.Null()]), status: Str, account_url: Str, created_at: Str,
});

export const OrderCreate = Type.Object({
  account_id: Type.String({ maxLength: 128 }),
  domains: Type.Array(Type.String({ minLength: 1, maxLength: 253 }), { minItems: 1, maxItems: 100 }),
  challenge_type: Type.Optional(Type.Union([Type.Literal("http-01"), Type.Literal("dns-01"), Type.Literal("tls-alpn-01")])),
  dns_provider_id: Type.Optional(Type.String({ maxLength: 128 })),
  key_type: Type.Optional(Type.Union([Type.Literal("ec"), Type.Literal("rsa")])),
  key_bits: Type.Optional(Type.Integer()),
  secret_path: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
  auto_renew: Type.Optional(Type.Boolean()),
  renew_before: Type.Optional(Type.String({ maxLength: 32 })),
}, { additionalProperties: false });

export const OrderObject = Type.Object({
  id: Str, account_id: Str, domains: Type.Array(Str), challenge_type: Str, dns_provider_id: Nullable(Str), key_type: Str, key_bits: Type.Integer(),
  status: Type.Union([Type.Literal("pending"), Type.Literal("processing"), Type.Literal("valid"), Type.Literal("invalid")]),
  error: Type.Union([Type.Object({ type: Str, detail: Str }), Type.Null()]), certificate_id: Nullable(Str), serial_number: Nullable(Str), not_after: Nullable(Str),
  secret_path: Str, auto_renew: Type.Boolean(), renew_before: Str, renewals: Type.Integer(), next_renewal_at: Nullable(Str), created_at: Str, updated_at: Str,
});

const IdParams = Type.Object({ id: Type.String({ maxLength: 128 }) });
const OrderListQuery = Type.Object({
  status: Type.Optional(Type.Union([Type.Literal("pending"), Type.Literal("processing"), Type.Literal("valid"), Type.Literal("invalid")])),
  account_id: Type.Optional(Type.String({ maxLength: 128 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  cursor: Type.Optional(Type.String({ maxLength: 512 })),
});
const OrderCertificate = Type.Object({ certificate: Str, ca_chain: Type.Array(Str), serial_number: Str, not_after: Str, secret_path: Str });

export const CHALLENGE_PATH = "/.well-known/acme-challenge/";

/** The http-01 answer is public (contract P1): audited in the order's tenant as `anonymous`. */
function auditAnonymously(request: FastifyRequest, tenantId: string, partnerId: string, orderId: string): void {
  const ctx = request.vault;
  ctx.tenant = { tenantId, partnerId };
  ctx.principal = {
    identityId: "anonymous", identityType: null as unknown as Principal["identityType"], displayName: null, partnerId, tenantId,
    scopes: new Set(), groups: [], roles: [], mfaVerifiedAt: null, tokenExpiresAt: null, tokenKind: "system", tokenId: null,
  };
  ctx.audit.extra = { order_id: orderId };
}

export function registerAcmeRoutes(app: FastifyInstance, deps: { accounts: AcmeAccounts; orders: AcmeOrders; db: Database }): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const accounts = "/v1/pki/acme/accounts";
  const orders = "/v1/pki/acme/orders";

  r.post(accounts, { schema: { tags, summary: "Register an ACME account (the vault makes and keeps its key)", body: AccountCreate, response: { 201: AccountObject } }, config: admin("acme_account_create") },
    async (request, reply) => reply.code(201).send(await deps.accounts.create(callerOf(request), request.body)));
  r.get(accounts, { schema: { tags, summary: "List ACME accounts", response: { 200: Type.Object({ data: Type.Array(AccountObject) }) } }, config: admin("acme_account_list") },
    async (request) => deps.accounts.list(callerOf(request)));
  r.get(`${accounts}/:id`, { schema: { tags, summary: "Get an ACME account", params: IdParams, response: { 200: AccountObject } }, config: admin("acme_account_read") },
    async (request) => deps.accounts.get(callerOf(request), request.params.id));
  r.delete(`${accounts}/:id`, { schema: { tags, summary: "Deactivate an ACME account at its CA and delete it", params: IdParams }, config: admin("acme_account_delete") },
    async (request, reply) => {
      await deps.accounts.delete(callerOf(request), request.params.id);
      return reply.code(204).send();
    });

  r.post(orders, { schema: { tags, summary: "Order a certificate from an ACME CA (worked in the background)", body: OrderCreate, response: { 201: OrderObject } }, config: orderer("acme_order_create") },
    async (request, reply) => reply.code(201).send(await deps.orders.create(callerOf(request), request.body)));
  r.get(orders, { schema: { tags, summary: "List ACME orders", querystring: OrderListQuery, response: { 200: Type.Object({ data: Type.Array(OrderObject), cursor: Nullable(Str), has_more: Type.Boolean() }) } }, config: reader("acme_order_list") },
    async (request) => deps.orders.list(callerOf(request), request.query));
  r.get(`${orders}/:id`, { schema: { tags, summary: "Get an ACME order", params: IdParams, response: { 200: OrderObject } }, config: reader("acme_order_read") },
    async (request) => deps.orders.get(callerOf(request), request.params.id));
  r.get(`${orders}/:id/certificate`, { schema: { tags, summary: "The order's current certificate and chain", params: IdParams, response: { 200: OrderCertificate } }, config: reader("acme_order_certificate_read") },
    async (request) => deps.orders.certificate(callerOf(request), request.params.id));
  r.post(`${orders}/:id/renew`, { schema: { tags, summary: "Renew the order's certificate now", params: IdParams, response: { 202: OrderObject } }, config: reader("acme_order_renew") },
    async (request, reply) => reply.code(202).send(await deps.orders.renew(callerOf(request), request.params.id)));

  r.get(`${CHALLENGE_PATH}:token`, {
    schema: { tags, summary: "ACME http-01 key authorization (public, any Host)", params: Type.Object({ token: Type.String({ maxLength: 256 }) }), security: [] },
    config: { auth: false, publicRate: true, action: "acme_challenge_served", category: "public" },
  }, async (request, reply) => {
    const row = await deps.db.get<{ tenant_id: string; partner_id: string; order_id: string; key_authorization: string }>(
      "SELECT tenant_id, partner_id, order_id, key_authorization FROM acme_challenges WHERE token = ?", [request.params.token]);
    if (!row) throw new VaultError("not_found", "No pending ACME challenge with this token");
    auditAnonymously(request, row.tenant_id, row.partner_id, row.order_id);
    return reply.type("text/plain").header("Cache-Control", "no-store").send(row.key_authorization);
  });
}
