import { SCOPES, scopesAllow, type Scope } from "../access/scopes.js";
import type { TokenKind, TokenRecord } from "../access/token-store.js";
import type { Caller } from "../http/context.js";
import { VaultError } from "../http/errors.js";
import { requireDuration } from "../shared/duration.js";

/**
 * Personal access tokens (spec/identity.md §5): what `POST /v1/auth/tokens` means for the caller's
 * own identity, without `admin`. The token routes ask here which kind a request makes.
 */
export function tokenKindFor(caller: Caller, identityId: string | undefined): TokenKind {
  const own = identityId === undefined || identityId === caller.principal.identityId;
  const admin = scopesAllow(caller.principal.scopes, "admin");
  if (caller.principal.credentialKind === "exchange") throw new VaultError("forbidden", "An exchanged token cannot create tokens", { details: { reason: "exchange_token" } });
  // SPEC §2: with admin, a token for a named identity (one's own included) is a service token.
  if (identityId !== undefined && admin) return "service";
  if (!own) throw new VaultError("insufficient_scope", "A token for another identity needs the admin scope", { details: { required_scope: "admin" } });
  if (caller.principal.identityType !== "user") throw new VaultError("forbidden", "Personal tokens are for user identities", { details: { reason: "not_a_user" } });
  return "personal";
}

/** The caller's scopes as a list (`admin` stands for every scope). */
function held(caller: Caller): string[] {
  return caller.principal.scopes.has("admin") ? [...SCOPES] : [...caller.principal.scopes].filter((s) => (SCOPES as readonly string[]).includes(s));
}

/** Scopes and expiry of a personal token: ⊆ the caller's, at most the configured maximum, never past the creating token. */
export function personalTerms(caller: Caller, body: { scopes?: string[]; expires_in?: string }, maxTtlSeconds: number, now = Date.now()): { scopes: string[]; expiresAt: number } {
  const scopes = body.scopes ?? held(caller).filter((s) => s !== "admin");
  const excess = scopes.filter((s) => !scopesAllow(caller.principal.scopes, s as Scope));
  if (excess.length > 0) throw new VaultError("insufficient_scope", "A personal token cannot hold scopes its creator lacks", { details: { scopes: excess } });
  // The default (90d) yields to a smaller configured maximum; an explicit lifetime beyond it is refused.
  const seconds = body.expires_in === undefined ? Math.min(90 * 86_400, maxTtlSeconds) : requireDuration("expires_in", body.expires_in);
  if (seconds > maxTtlSeconds) throw new VaultError("invalid_duration", `expires_in may be at most ${Math.floor(maxTtlSeconds / 86_400)}d for personal tokens`, { details: { field: "expires_in" } });
  const cap = caller.principal.tokenExpiresAt ?? Number.POSITIVE_INFINITY;
  return { scopes: [...new Set(scopes)], expiresAt: Math.min(now + seconds * 1000, cap) };
}

/** List and revoke without `admin` reach only one's own tokens. */
export function ownsToken(caller: Caller, record: TokenRecord): boolean {
  return record.identityId === caller.principal.identityId && record.tenantId === caller.tenant.tenantId && record.partnerId === caller.tenant.partnerId;
}

/** The identity-domain fields of a token's view. */
export function tokenKindView(record: TokenRecord) {
  return { kind: record.kind ?? "service", last_used_at: record.lastUsedAt ? new Date(record.lastUsedAt).toISOString() : null, ...(record.kind === "exchange" ? { trust_id: record.trustId ?? null, subject: record.subject ?? null } : {}) };
}
