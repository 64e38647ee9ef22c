import type { FastifyInstance, FastifyRequest } from "fastify";
import { Type, type Static } from "@sinclair/typebox";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { AuditRecorder } from "../audit/recorder.js";
import type { Caller } from "../http/context.js";
import { VaultError, isVaultError } from "../http/errors.js";
import { callerOf } from "../http/pipeline.js";
import { decodeCursor, encodeCursor } from "../shared/cursor.js";
import { requireDuration } from "../shared/duration.js";
import { iso, isoOrNull } from "../shared/time.js";
import type { Database } from "../storage/contract.js";
import type { Authenticator } from "./authenticator.js";
import { normalizeIdentity } from "./identities.js";
import type { PolicyStore } from "./policy-store.js";
import { isPartnerAdmin, type Principal } from "./principal.js";
import { SCOPES, isScope, scopesAllow } from "./scopes.js";
import type { Authorizer } from "./authorizer.js";
import { asPolicyRule, assertGrantsCovered, assertScopesWithin, isEscalationExempt } from "./escalation.js";
import type { TokenRecord, TokenStore } from "./token-store.js";
import type { VaultTokens } from "./vault-tokens.js";
import { ownsToken, personalTerms, tokenKindFor, tokenKindView } from "../identity/personal-tokens.js";

const tags = ["auth"];
const DEFAULT_EXPIRES_IN = "90d";
const MAX_EXPIRES_SECONDS = 10 * 365 * 86_400;

export const CreateTokenBody = Type.Object(
  {
    identity_id: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: "omitted: a personal token for the caller" })),
    identity_type: Type.Optional(Type.Union([Type.Literal("user"), Type.Literal("service_account")])),
    scopes: Type.Optional(Type.Array(Type.String({ maxLength: 64 }), { maxItems: 64 })),
    expires_in: Type.Optional(Type.String({ maxLength: 32, description: "duration, default 90d" })),
    description: Type.Optional(Type.Union([Type.String({ maxLength: 1024 }), Type.Null()])),
  },
  { additionalProperties: false },
);
type CreateTokenBody = Static<typeof CreateTokenBody>;

const IntrospectBody = Type.Object({ token: Type.String({ maxLength: 8192 }) }, { additionalProperties: false });
const ListQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
    cursor: Type.Optional(Type.String({ maxLength: 512 })),
    // identity domain (spec/identity.md §5)
    identity_id: Type.Optional(Type.String({ maxLength: 256 })),
    kind: Type.Optional(Type.Union([Type.Literal("personal"), Type.Literal("service"), Type.Literal("bootstrap"), Type.Literal("exchange")])),
    include_revoked: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

export function tokenView(record: TokenRecord) {
  return {
    id: record.id,
    identity_id: record.identityId,
    identity_type: record.identityType,
    tenant_id: record.tenantId,
    partner_id: record.partnerId,
    scopes: record.scopes,
    description: record.description,
    created_at: iso(record.createdAt),
    created_by: record.createdBy,
    expires_at: isoOrNull(record.expiresAt),
    revoked_at: isoOrNull(record.revokedAt),
    ...tokenKindView(record),
  };
}

export interface TokenRouteDeps {
  db: Database;
  tokens: VaultTokens;
  store: TokenStore;
  authenticator: Authenticator;
  audit: AuditRecorder;
  policies: PolicyStore;
  authorizer: Authorizer;
  /** SCAIVAULT_PERSONAL_TOKEN_MAX_TTL in seconds (identity domain). */
  personalMaxTtlSeconds?: number;
}

function identityOf(body: CreateTokenBody & { identity_id: string }): { id: string; type: "user" | "service_account" } {
  const type = body.identity_type ?? (body.identity_id.startsWith("sa:") ? "service_account" : "user");
  try {
    return { id: normalizeIdentity(type, body.identity_id), type };
  } catch (error) {
    if (!isVaultError(error)) throw error;
    throw new VaultError("validation_error", error.message, { details: { fields: { identity_id: error.message } } });
  }
}

async function issue(deps: TokenRouteDeps, caller: Caller, body: CreateTokenBody) {
  // identity domain: personal tokens need no admin; exchanged tokens mint nothing (spec/identity.md §4, §5).
  const kind = tokenKindFor(caller, body.identity_id);
  if (kind === "personal") return issuePersonal(deps, caller, body);
  const identity = identityOf({ ...body, identity_id: body.identity_id! });
  const scopes = body.scopes ?? SCOPES.filter((s) => s !== "admin");
  const unknown = scopes.filter((s) => !isScope(s));
  if (unknown.length > 0) throw new VaultError("validation_error", `Unknown scope ${unknown[0]}`, { details: { fields: { scopes: `unknown scope(s): ${unknown.join(", ")}` } } });
  const seconds = requireDuration("expires_in", body.expires_in ?? DEFAULT_EXPIRES_IN);
  if (seconds > MAX_EXPIRES_SECONDS) throw new VaultError("invalid_duration", "expires_in may be at most 3650d", { details: { field: "expires_in" } });
  // A token never carries more than its issuer holds: scopes, and (for another identity) that identity's grants.
  assertScopesWithin(caller.principal.scopes, scopes);
  if (identity.id !== caller.principal.identityId && !isEscalationExempt(caller.principal)) {
    const target = await deps.authorizer.compiledFor(caller.tenant.partnerId, caller.tenant.tenantId, [identity.id], Date.now(), "none");
    await assertGrantsCovered(deps.authorizer, caller, target.held.map(asPolicyRule), `issue a token for ${identity.id}`);
  }
  return deps.db.transaction(async (tx) => {
    // Partner-wide bindings reach every tenant: only a partner admin may mint a token that inherits them.
    if (!isPartnerAdmin(caller.principal) && (await deps.policies.hasPartnerBinding(caller.tenant.partnerId, identity.id, tx))) {
      throw new VaultError("forbidden", `${identity.id} holds partner-wide grants; only a partner admin may issue tokens for it`);
    }
    const issued = await deps.tokens.issue(
      {
        partnerId: caller.tenant.partnerId,
        tenantId: caller.tenant.tenantId,
        identityId: identity.id,
        identityType: identity.type,
        scopes: [...new Set(scopes)],
        roles: [],
        description: body.description ?? null,
        createdBy: caller.principal.identityId,
        expiresAt: Date.now() + seconds * 1000,
      },
      tx,
    );
    caller.ctx.audit.extra = { token_id: issued.record.id, kind: "service", identity_id: identity.id, scopes: issued.record.scopes };
    await deps.audit.recordInTransaction(tx, caller, 201);
    return { ...tokenView(issued.record), token: issued.token };
  });
}

/** A personal token for the caller's own user identity (identity domain, spec/identity.md §5). */
async function issuePersonal(deps: TokenRouteDeps, caller: Caller, body: CreateTokenBody) {
  const unknown = (body.scopes ?? []).filter((s) => !isScope(s));
  if (unknown.length > 0) throw new VaultError("validation_error", `Unknown scope ${unknown[0]}`, { details: { fields: { scopes: `unknown scope(s): ${unknown.join(", ")}` } } });
  const terms = personalTerms(caller, body, deps.personalMaxTtlSeconds ?? 365 * 86_400);
  return deps.db.transaction(async (tx) => {
    const issued = await deps.tokens.issue({
      partnerId: caller.tenant.partnerId, tenantId: caller.tenant.tenantId, identityId: caller.principal.identityId, identityType: "user", scopes: terms.scopes, roles: [],
      description: body.description ?? null, createdBy: caller.principal.identityId, expiresAt: terms.expiresAt, kind: "personal",
    }, tx);
    caller.ctx.audit.extra = { token_id: issued.record.id, kind: "personal", scopes: issued.record.scopes };
    await deps.audit.recordInTransaction(tx, caller, 201);
    return { ...tokenView(issued.record), token: issued.token };
  });
}

function whoami(principal: Principal, tenantId: string | null) {
  return {
    identity_id: principal.identityId,
    identity_type: principal.identityType,
    display_name: principal.displayName,
    tenant_id: tenantId,
    partner_id: principal.partnerId,
    scopes: [...principal.scopes],
    groups: [...principal.groups],
    roles: [...principal.roles],
    mfa_verified_at: isoOrNull(principal.mfaVerifiedAt),
    token_expires_at: isoOrNull(principal.tokenExpiresAt),
  };
}

function principalOf(request: FastifyRequest): Principal {
  const principal = request.vault.principal;
  if (!principal) throw new VaultError("authentication_required", "Send Authorization: Bearer <token>");
  return principal;
}

/** `/v1/auth/*`: vault tokens (issue, list, revoke), whoami and introspection. */
export function registerTokenRoutes(app: FastifyInstance, deps: TokenRouteDeps): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.post("/v1/auth/tokens", { schema: { tags, summary: "Issue a vault token (shown once)", body: CreateTokenBody }, config: { action: "token_create", category: "auth" } }, async (request, reply) =>
    reply.code(201).send(await issue(deps, callerOf(request), request.body)),
  );

  r.get("/v1/auth/tokens", { schema: { tags, summary: "List the tenant's vault tokens (never their values)", querystring: ListQuery }, config: { action: "token_list", category: "auth" } }, async (request) => {
    const caller = callerOf(request);
    const limit = request.query.limit ?? 100;
    const after = decodeCursor<{ i: string }>(request.query.cursor, { i: "string" });
    // identity domain: without admin, one's own tokens only (spec/identity.md §5).
    const admin = scopesAllow(caller.principal.scopes, "admin");
    const filter = { identityId: admin ? request.query.identity_id : caller.principal.identityId, kind: request.query.kind, includeRevoked: request.query.include_revoked ?? true };
    const page = await deps.store.listForTenant(caller.tenant.partnerId, caller.tenant.tenantId, after?.i ?? null, limit, filter);
    return { data: page.records.map(tokenView), cursor: page.next === null ? null : encodeCursor({ i: page.next }), has_more: page.next !== null };
  });

  r.delete("/v1/auth/tokens/:id", { schema: { tags, summary: "Revoke a vault token", params: Type.Object({ id: Type.String({ maxLength: 64 }) }) }, config: { action: "token_revoke", category: "auth" } }, async (request) => {
    const caller = callerOf(request);
    const id = request.params.id;
    caller.ctx.audit.extra = { token_id: id };
    return deps.db.transaction(async (tx) => {
      const record = await deps.store.findById(id, tx);
      const reachable = record && (scopesAllow(caller.principal.scopes, "admin") || ownsToken(caller, record));
      if (!record || !reachable || record.partnerId !== caller.tenant.partnerId || record.tenantId !== caller.tenant.tenantId) {
        throw new VaultError("token_not_found", "No such token in this tenant", { details: { token_id: id } });
      }
      const now = Date.now();
      if (record.revokedAt === null) await deps.tokens.revoke(id, now, tx);
      await deps.audit.recordInTransaction(tx, caller, 200);
      return tokenView({ ...record, revokedAt: record.revokedAt ?? now });
    });
  });

  r.get("/v1/auth/whoami", { schema: { tags, summary: "Who the bearer token identifies" }, config: { action: "auth_whoami", category: "auth", tenantOptional: true } }, async (request) =>
    whoami(principalOf(request), request.vault.tenant?.tenantId ?? null),
  );

  r.post("/v1/auth/introspect", { schema: { tags, summary: "Validate a token without using it", body: IntrospectBody }, config: { scope: "admin", action: "auth_introspect", category: "auth", tenantOptional: true } }, async (request) => {
    const caller = principalOf(request);
    let subject: Principal;
    try {
      subject = await deps.authenticator.authenticate(`Bearer ${request.body.token}`);
    } catch (error) {
      if (isVaultError(error) && error.status < 500) return { active: false };
      throw error;
    }
    // Another partner's token is not this caller's business: it reads as inactive.
    if (subject.partnerId !== caller.partnerId && !caller.roles.includes("super_admin")) return { active: false };
    return {
      active: true,
      identity_id: subject.identityId,
      identity_type: subject.identityType,
      tenant_id: subject.tenantId,
      scopes: [...subject.scopes],
      expires_at: isoOrNull(subject.tokenExpiresAt),
      issued_at: isoOrNull(subject.tokenIssuedAt ?? null),
    };
  });
}
