import { createHash } from "node:crypto";
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from "jose";
import { LruMap } from "../shared/lru.js";
import { VaultError } from "../http/errors.js";
import type { TenancyStore } from "../tenancy/store.js";
import type { JwtVerifier } from "./authenticator.js";
import type { IdentityType, Principal, Role } from "./principal.js";

export interface ScaiKeySettings {
  url: string | null;
  jwksUrl: string | null;
  audience: string | null;
  issuers: string[];
  jwksCooldownSeconds?: number;
}

/** RS256 and ES256 only: `none` and HMAC (which would let a public key act as a shared secret) are refused. */
const ALGORITHMS = ["RS256", "ES256"];
const CLOCK_SKEW_SECONDS = 30;
const ROLES: readonly Role[] = ["tenant_admin", "partner_admin", "super_admin"];
const MAX_JWT_LENGTH = 16_384;
/**
 * A verified JWT is remembered (by its SHA-256) for at most this long and never past its `exp`:
 * an RS256 verification cost more than the rest of an audited read. The price is that a token
 * signed by a key ScaiKey has since withdrawn from its JWKS keeps working for up to a minute.
 */
const VERIFIED_TTL_MS = 60_000;
const MAX_VERIFIED = 10_000;

type JwksResolver = ReturnType<typeof createRemoteJWKSet>;

const invalid = () => new VaultError("token_invalid", "The token is not valid");

function asList(value: unknown): string[] {
  if (typeof value === "string") return value.split(/[\s,]+/).filter(Boolean);
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === "string" && v !== "");
  return [];
}

/** `mfa_verified_at` as epoch seconds or RFC 3339; else `amr` naming MFA, at `auth_time` (or `iat`). */
function mfaTime(claims: JWTPayload): number | null {
  const raw = claims.mfa_verified_at;
  if (typeof raw === "number" && Number.isFinite(raw)) return raw * 1000;
  if (typeof raw === "string" && !Number.isNaN(Date.parse(raw))) return Date.parse(raw);
  if (asList(claims.amr).some((m) => ["mfa", "otp", "hwk", "swk", "totp", "webauthn"].includes(m))) {
    const at = typeof claims.auth_time === "number" ? claims.auth_time : claims.iat;
    return typeof at === "number" ? at * 1000 : null;
  }
  return null;
}

/** SPEC §2: `user:`/`sa:` subjects as given; a client-credentials token is `sa:<client_id>`; anyone else `user:<email or sub>`. */
export function identityFromClaims(claims: JWTPayload): { id: string; type: IdentityType } {
  const sub = typeof claims.sub === "string" ? claims.sub : "";
  if (sub.startsWith("user:") && sub.length > 5) return { id: sub, type: "user" };
  if (sub.startsWith("sa:") && sub.length > 3) return { id: sub, type: "service_account" };
  const clientId = typeof claims.client_id === "string" ? claims.client_id : null;
  const email = typeof claims.email === "string" ? claims.email : null;
  const noUser = !email && (claims.token_type === "client_credentials" || !sub || sub === clientId);
  if (clientId && noUser) {
    return { id: `sa:${clientId}`, type: "service_account" };
  }
  const name = email ?? sub;
  if (!name) throw invalid();
  return { id: `user:${name}`, type: "user" };
}

/**
 * ScaiKey JWTs: signature against the JWKS (cached by jose, refetched when a `kid` is unknown,
 * at most once per cooldown), issuer, audience and expiry with a small skew. The tenant named by
 * the token must exist here and belong to the partner it names.
 */
export class ScaiKeyVerifier implements JwtVerifier {
  private jwks: JwksResolver | null = null;
  private jwksPending: Promise<JwksResolver> | null = null;
  private readonly issuers: string[];
  private readonly verified = new LruMap<string, { principal: Principal; until: number }>(MAX_VERIFIED);

  constructor(private readonly settings: ScaiKeySettings, private readonly tenancy: TenancyStore) {
    this.issuers = [...new Set([...(settings.url ? [settings.url, settings.url.replace(/\/+$/, "")] : []), ...settings.issuers])];
  }

  static configured(settings: ScaiKeySettings): boolean {
    return Boolean(settings.jwksUrl || settings.url);
  }

  /** The JWKS URL from configuration, else from ScaiKey's OpenID discovery document (fetched once). */
  private async resolver(): Promise<JwksResolver> {
    if (this.jwks) return this.jwks;
    this.jwksPending ??= (async () => {
      let url = this.settings.jwksUrl;
      if (!url && this.settings.url) {
        const discovery = await fetch(`${this.settings.url.replace(/\/+$/, "")}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(5000) });
        const document = (await discovery.json()) as { jwks_uri?: unknown };
        if (!discovery.ok || typeof document.jwks_uri !== "string") throw new Error("ScaiKey discovery has no jwks_uri");
        url = document.jwks_uri;
      }
      if (!url) throw new Error("no JWKS URL configured");
      this.jwks = createRemoteJWKSet(new URL(url), { cacheMaxAge: 10 * 60_000, cooldownDuration: (this.settings.jwksCooldownSeconds ?? 10) * 1000, timeoutDuration: 5000 });
      return this.jwks;
    })().finally(() => {
      this.jwksPending = null;
    });
    return this.jwksPending;
  }

  async verify(jwt: string): Promise<Principal> {
    // Without an audience and an issuer to check, no JWT is accepted (fail closed).
    const audience = this.settings.audience;
    if (!audience || this.issuers.length === 0 || jwt.length > MAX_JWT_LENGTH) throw invalid();
    const digest = createHash("sha256").update(jwt).digest("base64url");
    const now = Date.now();
    const remembered = this.verified.get(digest);
    if (remembered && now < remembered.until) return { ...remembered.principal };
    const principal = await this.verifyFully(jwt, audience);
    const until = Math.min(now + VERIFIED_TTL_MS, principal.tokenExpiresAt ?? 0);
    if (until > now) {
      this.verified.set(digest, { principal, until });
    }
    return { ...principal };
  }

  private async verifyFully(jwt: string, audience: string): Promise<Principal> {
    let claims: JWTPayload;
    try {
      const jwks = await this.resolver();
      ({ payload: claims } = await jwtVerify(jwt, jwks, {
        algorithms: ALGORITHMS,
        issuer: this.issuers,
        audience,
        clockTolerance: CLOCK_SKEW_SECONDS,
        requiredClaims: ["exp", "sub"],
      }));
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === "ERR_JWT_EXPIRED") throw new VaultError("token_expired", "The token has expired");
      if (code === "ERR_JWKS_TIMEOUT" || (code === undefined && !(error instanceof VaultError))) {
        // ScaiKey unreachable: a transient failure, not a bad token.
        throw new VaultError("service_unavailable", "The identity provider's keys could not be fetched; retry shortly", { retryAfterSeconds: 5 });
      }
      throw invalid();
    }
    return this.principal(claims);
  }

  private async principal(claims: JWTPayload): Promise<Principal> {
    const identity = identityFromClaims(claims);
    const tenantId = typeof claims.tenant_id === "string" && claims.tenant_id !== "" ? claims.tenant_id : null;
    let partnerId = typeof claims.partner_id === "string" && claims.partner_id !== "" ? claims.partner_id : null;
    if (tenantId) {
      const tenant = await this.tenancy.getTenant(tenantId);
      if (!tenant) throw new VaultError("tenant_not_found", "The token's tenant is not known to this vault", { details: { tenant_id: tenantId } });
      if (partnerId && partnerId !== tenant.partnerId) throw invalid();
      partnerId = tenant.partnerId;
    }
    if (!partnerId) throw invalid();
    const roles = [...new Set([...asList(claims.role), ...asList(claims.roles)])].filter((r): r is Role => (ROLES as readonly string[]).includes(r));
    const groups = [...new Set(asList(claims.groups).map((g) => (g.startsWith("group:") ? g : `group:${g}`)))];
    const displayName = typeof claims.name === "string" ? claims.name : typeof claims.email === "string" ? claims.email : null;
    return {
      identityId: identity.id,
      identityType: identity.type,
      displayName,
      partnerId,
      tenantId,
      scopes: new Set(asList(claims.scope)),
      groups,
      roles,
      mfaVerifiedAt: mfaTime(claims),
      tokenExpiresAt: typeof claims.exp === "number" ? claims.exp * 1000 : null,
      tokenIssuedAt: typeof claims.iat === "number" ? claims.iat * 1000 : null,
      tokenKind: "scaikey",
      tokenId: typeof claims.jti === "string" ? claims.jti : null,
    };
  }
}
