import type { FastifyInstance } from "fastify";
import { Type } from "@sinclair/typebox";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { callerOf } from "../http/pipeline.js";
import { requireValidPath } from "../secrets/paths.js";
import type { Checkpoints } from "./checkpoints.js";
import type { AuditExports } from "./export.js";
import type { AuditQueries } from "./query.js";
import type { AuditRetention } from "./retention.js";
import { CheckpointsQuery, RetentionBody, ExportBody, ExportsQuery, LogsQuery, LogsResponse, SummaryQuery, TrailQuery, VerifyResponse } from "./schemas.js";
import type { ChainVerifier } from "./verify.js";

export interface AuditRouteDeps {
  queries: AuditQueries;
  verifier: ChainVerifier;
  exports: AuditExports;
  checkpoints: Checkpoints;
  retention: AuditRetention;
}

const tags = ["audit"];
const query = { scope: "audit:read", action: "audit_query", category: "audit_query" } as const;
const TRAIL_BASE = "/v1/audit/secrets/";

export function registerAuditRoutes(app: FastifyInstance, deps: AuditRouteDeps): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get("/v1/audit/logs", {
    schema: { tags, summary: "Query the audit trail (entries the caller's policies let it read)", querystring: LogsQuery, response: { 200: LogsResponse } },
    config: query,
  }, async (request) => {
    const { limit, cursor, ...filters } = request.query;
    return deps.queries.logs(callerOf(request), filters, limit ?? 100, cursor);
  });

  r.get("/v1/audit/secrets/*", {
    schema: { tags, summary: "The trail of one secret, with a 30-day summary of who read it", querystring: TrailQuery },
    config: { ...query, docPath: "/v1/audit/secrets/{path}" },
  }, async (request) => {
    const caller = callerOf(request);
    // From the raw URL, as the secrets API does: a %-escape is refused, not decoded.
    const raw = request.url.split("?")[0];
    const path = requireValidPath(raw.startsWith(TRAIL_BASE) ? raw.slice(TRAIL_BASE.length) : "");
    caller.ctx.audit.secretPath = path;
    return deps.queries.secretTrail(caller, path, request.query);
  });

  r.get("/v1/audit/identities/:identity_id", {
    schema: { tags, summary: "What one identity did, with a 30-day summary", params: Type.Object({ identity_id: Type.String({ minLength: 1, maxLength: 512 }) }), querystring: TrailQuery },
    config: query,
  }, async (request) => {
    const caller = callerOf(request);
    caller.ctx.audit.extra = { identity_id: request.params.identity_id };
    return deps.queries.identityTrail(caller, request.params.identity_id, request.query);
  });

  r.get("/v1/audit/summary", {
    schema: { tags, summary: "Aggregate statistics over a time range (default: the last 30 days)", querystring: SummaryQuery },
    config: query,
  }, async (request) => deps.queries.summary(callerOf(request), request.query));

  r.get("/v1/audit/verify", {
    schema: { tags, summary: "Verify the hash chains the caller may see", response: { 200: VerifyResponse } },
    config: { ...query, action: "audit_verify" },
  }, async (request) => {
    const caller = callerOf(request);
    const result = await deps.verifier.verify(await deps.queries.visibility(caller));
    caller.ctx.audit.extra = { ok: result.ok, entries: result.entries, ...(result.ok ? {} : { first_bad_entry: result.first_bad_entry, reason: result.reason }) };
    return result;
  });

  r.get("/v1/audit/checkpoints", {
    schema: { tags, summary: "Signed checkpoints of the chains the caller may see, oldest first, with the public key", querystring: CheckpointsQuery },
    config: { ...query, action: "audit_checkpoints" },
  }, async (request) => {
    const caller = callerOf(request);
    const visibility = await deps.queries.visibility(caller);
    // A partner admin sees every chain of the partner (verify's chainsFor): listed by partner, not by id.
    const scope = visibility.includePartnerChain ? { partnerId: visibility.partnerId } : { tenantId: visibility.tenantId, chains: await deps.verifier.chainsFor(visibility) };
    return deps.checkpoints.list(scope, request.query);
  });

  const retention = { scope: "admin", category: "audit_query" } as const;
  r.get("/v1/audit/retention", {
    schema: { tags, summary: "The tenant's audit retention (default 7 years), with any reduction still pending" },
    config: { ...retention, action: "audit_retention_read" },
  }, async (request) => deps.retention.get(callerOf(request)));

  r.put("/v1/audit/retention", {
    schema: { tags, summary: "Set the tenant's audit retention in days (longer: at once; shorter: audited, effective after the delay)", body: RetentionBody },
    config: { ...retention, action: "audit_retention_update" },
  }, async (request) => deps.retention.set(callerOf(request), request.body.days));

  r.post("/v1/audit/export", {
    schema: { tags, summary: "Export the trail to a local directory (jsonl or csv)", body: ExportBody },
    config: { scope: "audit:export", action: "export_created", category: "audit_export" },
  }, async (request, reply) => {
    const caller = callerOf(request);
    const created = await deps.exports.create(caller, await deps.queries.visibility(caller), request.body);
    return reply.code(202).send(created);
  });

  r.get("/v1/audit/exports", {
    schema: { tags, summary: "List exports", querystring: ExportsQuery },
    config: { scope: "audit:export", action: "audit_query", category: "audit_query" },
  }, async (request) => deps.exports.list(callerOf(request), request.query.limit ?? 100, request.query.cursor));

  r.get("/v1/audit/exports/:id", {
    schema: { tags, summary: "An export's status and manifest", params: Type.Object({ id: Type.String({ maxLength: 64 }) }) },
    config: { scope: "audit:export", action: "audit_query", category: "audit_query" },
  }, async (request) => deps.exports.get(callerOf(request), request.params.id));
}
