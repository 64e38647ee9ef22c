import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { JWTPayload } from "jose";
import { globProblem } from "../access/glob.js";
import type { Principal } from "../access/principal.js";
import { isScope } from "../access/scopes.js";
import type { VaultTokens } from "../access/vault-tokens.js";
import type { AuditRecorder } from "../audit/recorder.js";
import { VaultError, validationError } from "../http/errors.js";
import { parseDurationSeconds, requireDuration } from "../shared/duration.js";
import type { Database } from "../storage/contract.js";
import { conditionsHold } from "./claims.js";
import { peek, SubjectVerifier } from "./exchange-verify.js";
import type { IdentityGate } from "./gate.js";
import type { Trust, TrustStore } from "./trust-store.js";

const GRANT = "urn:ietf:params:oauth:grant-type:token-exchange";
const TOKEN_TYPES = ["urn:ietf:params:oauth:token-type:jwt", "urn:ietf:params:oauth:token-type:id_token"];
const MAX_ALLOWED_PATHS = 32;
const MAX_GLOB_LENGTH = 512;
const FIELDS = new Set(["grant_type", "subject_token", "subject_token_type", "tenant_id", "role", "scope", "expires_in", "allowed_paths"]);

export interface ExchangeDeps {
  db: Database;
  trusts: TrustStore;
  tokens: VaultTokens;
  gate: IdentityGate;
  audit: AuditRecorder;
  verifier?: SubjectVerifier;
  /** Charges the source IP's `exchange` bucket (src/ops); absent in builds without rate limits. */
  chargeIp?: (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
}

interface ExchangeRequest { subject: string; tenantId: string | null; role: string | null; scope: string[] | null; expiresIn: number | null; allowedPaths: string[] | null }

/** JSON or form-encoded (RFC 8693) body → the request's fields; unknown fields are refused. */
function parseBody(raw: Buffer, contentType: string | undefined): ExchangeRequest {
  let fields: Record<string, unknown>;
  try {
    fields = (contentType ?? "").includes("application/x-www-form-urlencoded") ? Object.fromEntries(new URLSearchParams(raw.toString("utf8"))) : (JSON.parse(raw.toString("utf8")) as Record<string, unknown>);
  } catch {
    throw new VaultError("invalid_request", "The body must be JSON or form-encoded");
  }
  if (!fields || typeof fields !== "object" || Array.isArray(fields)) throw new VaultError("invalid_request", "The body must be an object");
  const unknown = Object.keys(fields).filter((k) => !FIELDS.has(k));
  if (unknown.length > 0) throw validationError(Object.fromEntries(unknown.map((k) => [k, "unknown field"])));
  const text = (name: string, max: number): string | null => {
    const v = fields[name];
    if (v === undefined || v === null || v === "") return null;
    if (typeof v !== "string" || v.length > max) throw validationError({ [name]: `must be a string of at most ${max} characters` });
    return v;
  };
  if (text("grant_type", 128) !== GRANT) throw new VaultError("invalid_request", `grant_type must be ${GRANT}`, { details: { field: "grant_type" } });
  const subject = text("subject_token", 16 * 1024);
  if (!subject) throw validationError({ subject_token: "required (a JWT of at most 16 KiB)" });
  const type = text("subject_token_type", 128);
  if (type && !TOKEN_TYPES.includes(type)) throw validationError({ subject_token_type: `must be one of ${TOKEN_TYPES.join(", ")}` });
  const expires = fields.expires_in;
  let expiresIn: number | null = null;
  if (typeof expires === "number" && Number.isSafeInteger(expires) && expires > 0) expiresIn = expires;
  else if (typeof expires === "string" && expires !== "") expiresIn = /^\d+$/.test(expires) ? Number(expires) : requireDuration("expires_in", expires);
  else if (expires !== undefined && expires !== null) throw new VaultError("invalid_duration", "expires_in must be seconds or a duration such as 15m", { details: { field: "expires_in" } });
  const scope = text("scope", 2048);
  const paths = fields.allowed_paths;
  const allowedPaths = paths === undefined || paths === null ? null : typeof paths === "string" ? paths.split(/[\s,]+/).filter(Boolean) : Array.isArray(paths) && paths.every((p) => typeof p === "string") ? (paths as string[]) : null;
  if (paths !== undefined && paths !== null && allowedPaths === null) throw validationError({ allowed_paths: "a list of path globs" });
  // A trust rule's own list has the same bounds: each of the token's later checks walks every glob of both lists.
  if (allowedPaths && (allowedPaths.length > MAX_ALLOWED_PATHS || allowedPaths.some((p) => p.length > MAX_GLOB_LENGTH))) {
    throw validationError({ allowed_paths: `at most ${MAX_ALLOWED_PATHS} path globs of at most ${MAX_GLOB_LENGTH} characters each` });
  }
  for (const glob of allowedPaths ?? []) {
    const problem = globProblem(glob);
    if (problem) throw new VaultError("invalid_glob", `allowed_paths: ${problem}`, { details: { field: "allowed_paths", pattern: glob } });
  }
  return { subject, tenantId: text("tenant_id", 64), role: text("role", 256), scope: scope ? scope.split(" ").filter(Boolean) : null, expiresIn, allowedPaths };
}

/** `POST /v1/auth/exchange` (spec/identity.md §4): a foreign workload token for a short-lived `skt_` token. */
export function registerExchange(app: FastifyInstance, deps: ExchangeDeps): void {
  const verifier = deps.verifier ?? new SubjectVerifier();
  void app.register(async (child) => {
    child.removeAllContentTypeParsers();
    child.addContentTypeParser("*", { parseAs: "buffer" }, (_request, body, done) => done(null, body));
    child.post("/v1/auth/exchange", { schema: { tags: ["auth"], summary: "Exchange a workload token (GitHub Actions, Kubernetes, OIDC) for a vault token" }, config: { auth: false, action: "token_exchange", category: "exchange" } }, async (request, reply) => {
      await deps.chargeIp?.(request, reply);
      const input = parseBody(Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0), request.headers["content-type"]);
      const result = await exchange(deps, verifier, input, request);
      reply.header("Cache-Control", "no-store");
      return result;
    });
  });
}

async function exchange(deps: ExchangeDeps, verifier: SubjectVerifier, input: ExchangeRequest, request: FastifyRequest) {
  const ctx = request.vault;
  const { iss, aud } = peek(input.subject);
  const { trusts: candidates, several } = await deps.trusts.accepting(iss, aud, input.tenantId ?? null);
  if (several) throw new VaultError("invalid_request", "Several tenants trust this issuer: name tenant_id", { details: { reason: "tenant_required" } });
  if (candidates.length === 0) throw new VaultError("token_invalid", "No trust accepts this token's issuer and audience", { details: { reason: "no_trust" } });
  // Refusals from here on belong in the trust's tenant's audit chain.
  ctx.tenant = { tenantId: candidates[0].tenantId, partnerId: candidates[0].partnerId };
  ctx.audit.extra = { issuer: iss };
  let trust: Trust | null = null;
  let claims: JWTPayload | null = null;
  let firstError: unknown = null;
  // Candidates with the same keys and algorithms answer alike (issuer and audience matched them
  // all): each such group is verified once. A token no trust's keys verify was tried against every
  // candidate, 100 trusts of one issuer costing 19–38 ms per forged token (docs/benchmarks.md round 37).
  const refused = new Set<string>();
  for (const candidate of candidates) {
    const keys = JSON.stringify([candidate.jwks ?? candidate.jwksUrl, candidate.algorithms]);
    if (refused.has(keys)) continue;
    try {
      claims = await verifier.verify(candidate, input.subject);
      trust = candidate;
      break;
    } catch (error) {
      firstError ??= error;
      refused.add(keys);
    }
  }
  if (!trust || !claims) throw firstError;
  const subject = typeof claims.sub === "string" ? claims.sub.slice(0, 512) : null;
  ctx.audit.extra = { trust_id: trust.id, issuer: iss, subject };
  const ruleIndex = trust.rules.findIndex((rule) => conditionsHold(rule.conditions, claims as Record<string, unknown>) && (!input.role || rule.identity_id === input.role || rule.identity_id === `sa:${input.role}`));
  if (ruleIndex < 0) throw new VaultError("access_denied", "No rule of the trust matches this token", { details: { reason: "no_matching_rule" } });
  const rule = trust.rules[ruleIndex];
  ctx.audit.extra = { ...ctx.audit.extra, rule_index: ruleIndex };
  const scopes = input.scope ?? rule.scopes;
  const excess = scopes.filter((s) => !rule.scopes.includes(s) || !isScope(s));
  if (excess.length > 0) throw new VaultError("insufficient_scope", "The rule does not grant every scope asked for", { details: { scopes: excess } });
  const entry = await deps.gate.entryOf(trust.tenantId, rule.identity_id);
  if (entry && entry.status !== "ACTIVE") throw new VaultError("access_denied", "The rule's identity is disabled in the directory", { details: { reason: "identity_disabled" } });
  // Shortened, never refused: the asked lifetime, else the trust's default, within the rule's and trust's maximum.
  const max = Math.min(parseDurationSeconds(trust.maxTtl) ?? 3600, rule.max_ttl ? (parseDurationSeconds(rule.max_ttl) ?? 3600) : Number.POSITIVE_INFINITY);
  const seconds = Math.min(input.expiresIn ?? parseDurationSeconds(trust.defaultTtl) ?? 900, max);
  const allowedPaths = [rule.allowed_paths, input.allowedPaths].filter((p): p is string[] => Array.isArray(p));
  const expiresAt = Date.now() + seconds * 1000;
  return deps.db.transaction(async (tx) => {
    const issued = await deps.tokens.issue({
      partnerId: trust.partnerId, tenantId: trust.tenantId, identityId: rule.identity_id, identityType: rule.identity_id.startsWith("sa:") ? "service_account" : "user", scopes: [...new Set(scopes)], roles: [],
      description: `exchange via ${trust.name}`, createdBy: `trust:${trust.id}`, expiresAt, kind: "exchange", trustId: trust.id, subject, allowedPaths: allowedPaths.length > 0 ? allowedPaths : null,
    }, tx);
    const principal: Principal = {
      identityId: rule.identity_id, identityType: rule.identity_id.startsWith("sa:") ? "service_account" : "user", displayName: null, partnerId: trust.partnerId, tenantId: trust.tenantId,
      scopes: new Set(scopes), groups: [], roles: [], mfaVerifiedAt: null, tokenExpiresAt: expiresAt, tokenKind: "vault", tokenId: issued.record.id,
    };
    ctx.principal = principal;
    ctx.audit.extra = { trust_id: trust.id, rule_index: ruleIndex, issuer: iss, subject, token_id: issued.record.id, scopes: issued.record.scopes, expires_at: new Date(expiresAt).toISOString() };
    await deps.audit.recordInTransaction(tx, { principal, tenant: ctx.tenant!, requestId: ctx.requestId, ctx }, 200);
    return {
      access_token: issued.token, issued_token_type: "urn:ietf:params:oauth:token-type:access_token", token_type: "Bearer", expires_in: seconds, scope: issued.record.scopes.join(" "),
      expires_at: new Date(expiresAt).toISOString(), token_id: issued.record.id, identity_id: rule.identity_id,
    };
  });
}
