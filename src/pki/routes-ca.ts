import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { decodeURIComponentSafe } from "../shared/uri.js";
import { Type } from "@sinclair/typebox";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { auditAnonymously } from "../http/anonymous.js";
import { VaultError } from "../http/errors.js";
import { callerOf } from "../http/pipeline.js";
import { iso } from "../shared/time.js";
import type { CaService } from "./ca-service.js";
import { caView } from "./ca-service.js";
import { crlPem, type CrlService } from "./crl.js";
import type { OcspResponder } from "./ocsp.js";
import { CaCreate, CaList, CaObject, CrlGenerated, FormatQuery, IdParams, RevokeBody } from "./schemas.js";
import type { CaRow, PkiStore } from "./store.js";
import { x509 } from "./x509.js";

const tags = ["pki"];
const admin = (action: string) => ({ scope: "pki:admin" as const, action, category: "pki_admin" });
// Public (contract P1): no token; charged per source address to the `public` category and
// coalesced like failed authentications (SPEC §5, src/http/context.ts `publicRate`).
const open = (action: string) => ({ auth: false, publicRate: true, action, category: "public" });

type Format = "json" | "pem" | "der";
/** `?format=` wins; else the Accept header; else the default. */
function formatOf(request: FastifyRequest, fallback: Format): Format {
  const asked = (request.query as { format?: Format } | undefined)?.format;
  if (asked) return asked;
  const accept = String(request.headers.accept ?? "");
  if (accept.includes("application/x-pem-file")) return "pem";
  if (accept.includes("application/pkix-cert") || accept.includes("application/pkix-crl")) return "der";
  if (accept.includes("application/json")) return "json";
  return fallback;
}

export function registerCaRoutes(app: FastifyInstance, deps: { cas: CaService; crls: CrlService; ocsp: OcspResponder; store: PkiStore }): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const base = "/v1/pki/ca";

  async function publicCa(request: FastifyRequest, id: string): Promise<CaRow> {
    const ca = await deps.store.getCaAnyTenant(id);
    if (!ca) throw new VaultError("ca_not_found", "No CA with this id", { details: { ca_id: id } });
    auditAnonymously(request, ca, { ca_id: ca.id });
    return ca;
  }

  r.post(base, { schema: { tags, summary: "Create a root or intermediate CA", body: CaCreate, response: { 201: CaObject } }, config: admin("pki_ca_create") },
    async (request, reply) => reply.code(201).send(await deps.cas.create(callerOf(request), request.body)));
  r.get(base, { schema: { tags, summary: "List CAs", response: { 200: CaList } }, config: admin("pki_ca_list") },
    async (request) => deps.cas.list(callerOf(request)));
  r.get(`${base}/:id`, { schema: { tags, summary: "Get a CA", params: IdParams, response: { 200: CaObject } }, config: admin("pki_ca_read") },
    async (request) => deps.cas.get(callerOf(request), request.params.id));
  r.post(`${base}/:id/revoke`, { schema: { tags, summary: "Revoke a CA and everything below it", params: IdParams, body: RevokeBody, response: { 200: CaObject } }, config: admin("pki_ca_revoke") },
    async (request) => deps.cas.revoke(callerOf(request), request.params.id, request.body.reason ?? "unspecified"));

  r.get(`${base}/:id/certificate`, {
    schema: { tags, summary: "The CA certificate and chain (JSON, PEM or DER by Accept or ?format)", params: IdParams, querystring: FormatQuery, security: [] },
    config: open("pki_ca_certificate_read"),
  }, async (request, reply) => {
    const ca = await publicCa(request, request.params.id);
    const format = formatOf(request, "json");
    if (format === "der") return reply.type("application/pkix-cert").send(Buffer.from(new x509.X509Certificate(ca.certificate_pem).rawData));
    const chain = await deps.cas.chainOf(ca);
    if (format === "pem") return reply.type("application/x-pem-file").send([ca.certificate_pem.trim(), ...chain].join("\n") + "\n");
    return { ca_id: ca.id, certificate_pem: ca.certificate_pem, chain_pem: chain.length ? chain.join("\n") + "\n" : "" };
  });

  r.get(`${base}/:id/crl`, {
    schema: { tags, summary: "The CA's current CRL (DER by default; PEM by Accept or ?format=pem)", params: IdParams, querystring: FormatQuery, security: [] },
    config: open("pki_crl_read"),
  }, async (request, reply) => {
    const ca = await publicCa(request, request.params.id);
    const crl = await deps.crls.current(ca);
    if (formatOf(request, "der") === "pem") return reply.type("application/x-pem-file").send(crlPem(crl.der));
    return reply.type("application/pkix-crl").send(crl.der);
  });

  r.post(`${base}/:id/crl`, { schema: { tags, summary: "Regenerate the CA's CRL now", params: IdParams, response: { 200: CrlGenerated } }, config: admin("pki_crl_generate") },
    async (request) => {
      const caller = callerOf(request);
      const ca = await deps.cas.require(caller.tenant.tenantId, request.params.id);
      const crl = await deps.crls.generate(ca, caller);
      return { ca_id: ca.id, crl_number: crl.crl_number, crl_pem: crlPem(crl.der), this_update: iso(crl.this_update), next_update: iso(crl.next_update) };
    });

  // OCSP needs the raw DER body: its own parser, in its own scope so no other route sees it.
  app.register(async (scope) => {
    // 100 requests with SHA-512 hashes, a nonce and a signature with its certificates fit in 16 KiB.
    scope.addContentTypeParser("application/ocsp-request", { parseAs: "buffer", bodyLimit: 16 * 1024 }, (_request, body, done) => done(null, body));
    const s = scope.withTypeProvider<TypeBoxTypeProvider>();
    const answer = async (request: FastifyRequest<any>, reply: FastifyReply, id: string, der: Buffer) => {
      const ca = await publicCa(request, id);
      const signer = await deps.cas.signerOf(ca);
      const statuses: Record<string, string> = {};
      const response = await deps.ocsp.respond(signer, der, (serial, status) => void (statuses[serial] = status));
      request.vault.audit.extra = { ca_id: ca.id, statuses };
      return reply.type("application/ocsp-response").header("Cache-Control", "max-age=60").send(response);
    };
    s.post(`${base}/:id/ocsp`, { schema: { tags, summary: "OCSP (RFC 6960), POST form", params: IdParams, security: [] }, config: open("pki_ocsp") },
      async (request, reply) => answer(request, reply, request.params.id, Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0)));
    // The request is base64, then URL-encoded (RFC 6960 A.1), and the router decoded the path once:
    // decoding again restores a `%2B` or `%2F` encoded twice. A stray `%` (`%25zz` arrives as `%zz`)
    // stays as it is, no base64, and the answer is malformedRequest.
    s.get(`${base}/:id/ocsp/*`, {
      schema: { tags, summary: "OCSP (RFC 6960), GET form with the base64 request in the path", params: Type.Object({ id: Type.String(), "*": Type.String() }), security: [] },
      config: { ...open("pki_ocsp"), docPath: `${base}/{id}/ocsp/{request}` },
    }, async (request, reply) => answer(request, reply, request.params.id, Buffer.from(decodeURIComponentSafe(request.params["*"]), "base64")));
  });
}

export { caView };
