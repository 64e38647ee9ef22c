import type { FastifyInstance } from "fastify";
import { Type, type Static } from "@sinclair/typebox";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { globProblem } from "../access/glob.js";
import { normalizeIdentity } from "../access/identities.js";
import type { PolicyStore } from "../access/policy-store.js";
import { isPartnerAdmin } from "../access/principal.js";
import { isScope, scopesAllow, type Scope } from "../access/scopes.js";
import type { AuditRecorder } from "../audit/recorder.js";
import type { Caller } from "../http/context.js";
import { VaultError, validationError } from "../http/errors.js";
import { callerOf } from "../http/pipeline.js";
import { decodeCursor, encodeCursor } from "../shared/cursor.js";
import { requireDuration } from "../shared/duration.js";
import { randomBase62 } from "../shared/ids.js";
import { iso } from "../shared/time.js";
import type { Database, Queryable } from "../storage/contract.js";
import { claimPatternProblem, GITHUB_ACTIONS_ISSUER, pinsGitHubOwner } from "./claims.js";
import type { Trust, TrustRule, TrustStore } from "./trust-store.js";

const tags = ["auth"];
const ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"];
const MAX_TTL_SECONDS = 12 * 3600;
const Str = (max: number) => Type.String({ maxLength: max });
const Rule = Type.Object({
  description: Type.Optional(Type.Union([Str(1024), Type.Null()])),
  conditions: Type.Record(Type.String({ maxLength: 200 }), Type.Union([Str(512), Type.Array(Str(512), { maxItems: 32 })]), { maxProperties: 32 }),
  identity_id: Str(256),
  scopes: Type.Array(Str(64), { maxItems: 32 }),
  max_ttl: Type.Optional(Type.Union([Str(32), Type.Null()])),
  allowed_paths: Type.Optional(Type.Union([Type.Array(Str(512), { maxItems: 32 }), Type.Null()])),
}, { additionalProperties: false });
const Fields = {
  name: Type.String({ minLength: 1, maxLength: 128 }),
  description: Type.Optional(Type.Union([Str(1024), Type.Null()])),
  issuer: Str(512),
  audiences: Type.Array(Str(512), { minItems: 1, maxItems: 16 }),
  jwks_url: Type.Optional(Type.Union([Str(1024), Type.Null()])),
  jwks: Type.Optional(Type.Union([Type.Object({ keys: Type.Array(Type.Object({}, { additionalProperties: true }), { minItems: 1, maxItems: 32 }) }), Type.Null()])),
  algorithms: Type.Optional(Type.Array(Str(16), { minItems: 1, maxItems: 10 })),
  default_ttl: Type.Optional(Str(32)),
  max_ttl: Type.Optional(Str(32)),
  enabled: Type.Optional(Type.Boolean()),
  rules: Type.Array(Rule, { minItems: 1, maxItems: 64 }),
};
const CreateBody = Type.Object(Fields, { additionalProperties: false });
const PatchBody = Type.Partial(Type.Object(Fields), { additionalProperties: false });
type CreateBody = Static<typeof CreateBody>;

/** https, or http on a loopback host (tests, a local issuer). */
function checkUrl(field: string, text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw validationError({ [field]: "must be an absolute URL" });
  }
  const loopback = ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname);
  if (url.protocol !== "https:" && !(url.protocol === "http:" && loopback)) throw validationError({ [field]: "must be https (http only on a loopback host)" });
  if (url.username || url.password) throw validationError({ [field]: "must not carry credentials" });
  return text;
}

function ttl(field: string, text: string): number {
  const seconds = requireDuration(field, text);
  if (seconds > MAX_TTL_SECONDS) throw new VaultError("invalid_duration", `${field} may be at most 12h`, { details: { field } });
  return seconds;
}

/** Everything spec §4 asks of a trust, fields named in `details.fields`; the caller's cover is checked separately. */
export function validateTrust(body: CreateBody): Omit<Trust, "id" | "partnerId" | "tenantId" | "createdBy" | "createdAt" | "updatedAt"> {
  const issuer = checkUrl("issuer", body.issuer);
  if (body.jwks_url) checkUrl("jwks_url", body.jwks_url);
  if (body.jwks_url && body.jwks) throw validationError({ jwks: "give jwks_url or jwks, not both" });
  const algorithms = body.algorithms ?? ["RS256", "ES256"];
  const badAlg = algorithms.find((a) => !ALGORITHMS.includes(a));
  if (badAlg) throw validationError({ algorithms: `${badAlg} is not allowed: asymmetric signatures only (never none or HMAC)` });
  const maxTtl = body.max_ttl ?? "1h";
  const defaultTtl = body.default_ttl ?? "15m";
  ttl("max_ttl", maxTtl);
  ttl("default_ttl", defaultTtl);
  const rules: TrustRule[] = body.rules.map((rule, i) => {
    const at = `rules[${i}]`;
    const entries = Object.entries(rule.conditions);
    if (entries.length === 0) throw validationError({ [`${at}.conditions`]: "a rule needs at least one condition" });
    for (const [claim, patterns] of entries) {
      const list = Array.isArray(patterns) ? patterns : [patterns];
      if (list.length === 0) throw validationError({ [`${at}.conditions.${claim}`]: "an empty list matches nothing" });
      for (const p of list) {
        const problem = claimPatternProblem(p);
        if (problem) throw new VaultError("invalid_glob", `${at}.conditions.${claim}: ${problem}`, { details: { field: `${at}.conditions.${claim}`, pattern: p } });
      }
    }
    if (issuer === GITHUB_ACTIONS_ISSUER && !pinsGitHubOwner(rule.conditions)) {
      throw validationError({ [`${at}.conditions`]: "a GitHub Actions rule needs a repository condition with a literal owner (owner/…), or a literal repository_owner or repository_id" });
    }
    if (!/^(sa|user):/.test(rule.identity_id)) throw validationError({ [`${at}.identity_id`]: "must be a sa: or user: identity (never group: or system:)" });
    let identity: string;
    try {
      identity = normalizeIdentity(rule.identity_id.startsWith("sa:") ? "service_account" : "user", rule.identity_id);
    } catch (error) {
      throw validationError({ [`${at}.identity_id`]: (error as Error).message });
    }
    if (rule.scopes.length === 0) throw validationError({ [`${at}.scopes`]: "name at least one scope" });
    const bad = rule.scopes.find((s) => !isScope(s) || s === "admin");
    if (bad) throw validationError({ [`${at}.scopes`]: `${bad} cannot be granted by an exchange rule` });
    if (rule.max_ttl) ttl(`${at}.max_ttl`, rule.max_ttl);
    for (const glob of rule.allowed_paths ?? []) {
      const problem = globProblem(glob);
      if (problem) throw new VaultError("invalid_glob", `${at}.allowed_paths: ${problem}`, { details: { field: `${at}.allowed_paths`, pattern: glob } });
    }
    return { description: rule.description ?? null, conditions: rule.conditions, identity_id: identity, scopes: [...new Set(rule.scopes)], max_ttl: rule.max_ttl ?? null, allowed_paths: rule.allowed_paths ?? null };
  });
  return { name: body.name, description: body.description ?? null, issuer, audiences: body.audiences, jwksUrl: body.jwks_url ?? null, jwks: (body.jwks as Trust["jwks"]) ?? null, algorithms, defaultTtl, maxTtl, enabled: body.enabled ?? true, rules };
}

export const trustView = (t: Trust) => ({
  id: t.id, name: t.name, description: t.description, tenant_id: t.tenantId, issuer: t.issuer, audiences: t.audiences, jwks_url: t.jwksUrl, jwks: t.jwks, algorithms: t.algorithms,
  default_ttl: t.defaultTtl, max_ttl: t.maxTtl, enabled: t.enabled, rules: t.rules, created_at: iso(t.createdAt), updated_at: iso(t.updatedAt),
});

export interface TrustDeps {
  db: Database;
  trusts: TrustStore;
  policies: PolicyStore;
  audit: AuditRecorder;
  /** The caller must hold what a rule's identity holds (SPEC §4, src/access/escalation.ts); wired in the identity module. */
  coverCheck?: ((caller: Caller, identityId: string) => Promise<void>) | null;
}

/** No caller grants more than it holds: the rule's scopes ⊆ the caller's, partner-wide identities for partner admins. */
async function requireCover(deps: TrustDeps, caller: Caller, rules: readonly TrustRule[], tx: Queryable): Promise<void> {
  for (const rule of rules) {
    const beyond = rule.scopes.filter((s) => !scopesAllow(caller.principal.scopes, s as Scope));
    if (beyond.length > 0) throw new VaultError("insufficient_scope", `You cannot grant ${beyond[0]}`, { details: { scopes: beyond } });
    if (!isPartnerAdmin(caller.principal) && (await deps.policies.hasPartnerBinding(caller.tenant.partnerId, rule.identity_id, tx))) {
      throw new VaultError("forbidden", `${rule.identity_id} holds partner-wide grants; only a partner admin may write an exchange rule for it`);
    }
  }
}

const notFound = (id: string) => new VaultError("trust_not_found", "No such exchange trust in this tenant", { details: { trust_id: id } });

/** `/v1/auth/trusts` (spec/identity.md §4, the docs' "Access → Token Exchange"). */
export function registerTrustRoutes(app: FastifyInstance, deps: TrustDeps): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const Params = Type.Object({ id: Type.String({ maxLength: 64 }) });
  const config = (action: string) => ({ scope: "admin" as const, action, category: "auth" });

  const write = async (caller: Caller, trust: Trust, existing: Trust | null, status: number) => {
    // The evaluator reads the caller's and the rule identity's policies itself (not through tx):
    // decided before the write's transaction opens.
    // Once per identity: 64 rules naming one identity compiled and compared its policies 64 times.
    for (const identityId of new Set(trust.rules.map((rule) => rule.identity_id))) await deps.coverCheck?.(caller, identityId);
    return writeInTransaction(caller, trust, existing, status);
  };
  const writeInTransaction = async (caller: Caller, trust: Trust, existing: Trust | null, status: number) => deps.db.transaction(async (tx) => {
    if (await deps.trusts.nameTaken(trust.tenantId, trust.name, existing?.id ?? null, tx)) throw new VaultError("already_exists", `A trust named ${trust.name} exists in this tenant`, { details: { name: trust.name } });
    await requireCover(deps, caller, trust.rules, tx);
    if (existing) await deps.trusts.update(trust, tx);
    else {
      await deps.trusts.requireRoom(trust.tenantId, tx);
      await deps.trusts.insert(trust, tx);
    }
    let revoked = 0;
    if (existing?.enabled && (!trust.enabled || grantsChanged(existing, trust))) {
      revoked = await deps.trusts.revokeIssued(trust.id, Date.now(), tx);
    }
    caller.ctx.audit.extra = { trust_id: trust.id, name: trust.name, issuer: trust.issuer, enabled: trust.enabled, tokens_revoked: revoked };
    await deps.audit.recordInTransaction(tx, caller, status);
    return trustView(trust);
  });

  r.post("/v1/auth/trusts", { schema: { tags, summary: "Create a token-exchange trust", body: CreateBody }, config: config("trust_create") }, async (request, reply) => {
    const caller = callerOf(request);
    const now = Date.now();
    const trust: Trust = { ...validateTrust(request.body), id: `trust_${randomBase62(20)}`, partnerId: caller.tenant.partnerId, tenantId: caller.tenant.tenantId, createdBy: caller.principal.identityId, createdAt: now, updatedAt: now };
    return reply.code(201).send(await write(caller, trust, null, 201));
  });

  r.get("/v1/auth/trusts", { schema: { tags, summary: "List token-exchange trusts", querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })), cursor: Type.Optional(Str(512)) }, { additionalProperties: false }) }, config: config("trust_list") }, async (request) => {
    const caller = callerOf(request);
    const limit = request.query.limit ?? 100;
    const after = decodeCursor<{ i: string }>(request.query.cursor, { i: "string" });
    const rows = await deps.trusts.list(caller.tenant.tenantId, after?.i ?? null, limit + 1);
    const page = rows.slice(0, limit);
    const more = rows.length > limit;
    return { data: page.map(trustView), cursor: more ? encodeCursor({ i: page[page.length - 1].id }) : null, has_more: more };
  });

  r.get("/v1/auth/trusts/:id", { schema: { tags, summary: "One token-exchange trust", params: Params }, config: config("trust_list") }, async (request) => {
    const trust = await deps.trusts.get(callerOf(request).tenant.tenantId, request.params.id);
    if (!trust) throw notFound(request.params.id);
    return trustView(trust);
  });

  r.patch("/v1/auth/trusts/:id", { schema: { tags, summary: "Change a token-exchange trust (disabling it or changing its keys, issuer, audiences, rules or max_ttl revokes its tokens)", params: Params, body: PatchBody }, config: config("trust_update") }, async (request) => {
    const caller = callerOf(request);
    const existing = await deps.trusts.get(caller.tenant.tenantId, request.params.id);
    if (!existing) throw notFound(request.params.id);
    const merged = { ...trustViewInput(existing), ...request.body } as CreateBody;
    const trust: Trust = { ...existing, ...validateTrust(merged), updatedAt: Date.now() };
    return write(caller, trust, existing, 200);
  });

  r.delete("/v1/auth/trusts/:id", { schema: { tags, summary: "Delete a token-exchange trust and revoke its tokens", params: Params }, config: config("trust_delete") }, async (request) => {
    const caller = callerOf(request);
    return deps.db.transaction(async (tx) => {
      const trust = await deps.trusts.get(caller.tenant.tenantId, request.params.id, tx);
      if (!trust) throw notFound(request.params.id);
      await deps.trusts.delete(trust.id, tx);
      const revoked = await deps.trusts.revokeIssued(trust.id, Date.now(), tx);
      caller.ctx.audit.extra = { trust_id: trust.id, name: trust.name, tokens_revoked: revoked };
      await deps.audit.recordInTransaction(tx, caller, 200);
      return { id: trust.id, deleted: true, tokens_revoked: revoked };
    });
  });
}

/**
 * Whether a PATCH changes what the trust accepts or grants (keys, issuer, audiences, rules,
 * lifetime cap). Tokens it issued under the old terms are then revoked, so none holds more than
 * the trust now gives (workloads exchange again); a new name, description or default TTL keeps them.
 */
function grantsChanged(before: Trust, after: Trust): boolean {
  const terms = (t: Trust) => JSON.stringify([t.issuer, t.audiences, t.jwksUrl, t.jwks, t.algorithms, t.maxTtl, t.rules]);
  return terms(before) !== terms(after);
}

/** A stored trust in the request body's vocabulary (for PATCH merges). */
function trustViewInput(t: Trust): CreateBody {
  return {
    name: t.name, description: t.description, issuer: t.issuer, audiences: t.audiences, jwks_url: t.jwksUrl, jwks: t.jwks as CreateBody["jwks"], algorithms: t.algorithms,
    default_ttl: t.defaultTtl, max_ttl: t.maxTtl, enabled: t.enabled, rules: t.rules,
  };
}
