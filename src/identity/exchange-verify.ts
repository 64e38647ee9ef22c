import { createLocalJWKSet, createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, type JSONWebKeySet, type JWTPayload } from "jose";
import { VaultError } from "../http/errors.js";
import type { Trust } from "./trust-store.js";
import { LruMap } from "../shared/lru.js";

const SKEW_SECONDS = 30;
const MAX_JWT = 16 * 1024;
type KeySet = ReturnType<typeof createRemoteJWKSet>;

const invalid = (why: string) => new VaultError("token_invalid", "The subject token is not valid", { details: { reason: why } });

/** Audiences a workload token may name (a trust accepts at most 16). */
const MAX_AUDIENCES = 32;

/** The unverified `iss` and `aud` of a subject token, to find its trusts (nothing else is believed before verification). */
export function peek(jwt: string): { iss: string; aud: string[] } {
  if (jwt.length > MAX_JWT || jwt.split(".").length !== 3) throw invalid("malformed");
  try {
    const header = decodeProtectedHeader(jwt);
    if (typeof header.alg !== "string" || header.alg === "none" || header.alg.startsWith("HS")) throw invalid("algorithm");
    const claims = decodeJwt(jwt);
    const aud = typeof claims.aud === "string" ? [claims.aud] : Array.isArray(claims.aud) ? claims.aud.filter((a): a is string => typeof a === "string") : [];
    if (typeof claims.iss !== "string") throw invalid("no_issuer");
    // Each audience is a lookup of the trusts that accept it; real tokens name one or a few.
    if (aud.length > MAX_AUDIENCES) throw invalid("too_many_audiences");
    return { iss: claims.iss, aud };
  } catch (error) {
    if (error instanceof VaultError) throw error;
    throw invalid("malformed");
  }
}

/**
 * Verifies subject tokens against each trust's keys: an inline JWKS, a JWKS URL, or the issuer's
 * discovery document's `jwks_uri`. Remote key sets are cached per URL (refetched on an unknown kid).
 */
export class SubjectVerifier {
  private readonly remote = new LruMap<string, KeySet>(1_000);
  private readonly discovered = new Map<string, { url: string; until: number }>();

  constructor(private readonly timeoutMs = 5000) {}

  async verify(trust: Trust, jwt: string): Promise<JWTPayload> {
    const keys = trust.jwks ? createLocalJWKSet(trust.jwks as JSONWebKeySet) : await this.remoteKeys(trust);
    let claims: JWTPayload;
    try {
      ({ payload: claims } = await jwtVerify(jwt, keys, { algorithms: trust.algorithms, issuer: trust.issuer, audience: trust.audiences, clockTolerance: SKEW_SECONDS, requiredClaims: ["exp"] }));
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === "ERR_JWT_EXPIRED") throw new VaultError("token_expired", "The subject token has expired");
      // jose's generic error comes only from fetching a remote key set (a non-200 answer, a body
      // that is not JSON), and a malformed remote set is the issuer's fault too: the caller's token
      // may well be good, so these are transient 503s rather than token_invalid.
      const keysUnavailable = code === "ERR_JWKS_TIMEOUT" || code === undefined || code === "ERR_JOSE_GENERIC" || (code === "ERR_JWKS_INVALID" && !trust.jwks);
      if (keysUnavailable) throw new VaultError("service_unavailable", "The issuer's keys could not be fetched; retry shortly", { retryAfterSeconds: 5 });
      throw invalid(code === "ERR_JWT_CLAIM_VALIDATION_FAILED" ? "claims" : "signature");
    }
    if (typeof claims.iat === "number" && claims.iat > Date.now() / 1000 + SKEW_SECONDS) throw invalid("issued_in_future");
    return claims;
  }

  private async remoteKeys(trust: Trust): Promise<KeySet> {
    const url = trust.jwksUrl ?? (await this.discover(trust.issuer));
    let set = this.remote.get(url);
    if (!set) {
      set = createRemoteJWKSet(new URL(url), { timeoutDuration: this.timeoutMs, cooldownDuration: 10_000, cacheMaxAge: 10 * 60_000 });
      this.remote.set(url, set);
    }
    return set;
  }

  private async discover(issuer: string): Promise<string> {
    const cached = this.discovered.get(issuer);
    if (cached && cached.until > Date.now()) return cached.url;
    let doc: { jwks_uri?: unknown };
    try {
      const response = await fetch(`${issuer.replace(/\/+$/, "")}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(this.timeoutMs), redirect: "error" });
      if (!response.ok) throw new Error(String(response.status));
      doc = (await response.json()) as typeof doc;
    } catch {
      throw new VaultError("service_unavailable", "The issuer's discovery document could not be fetched; retry shortly", { retryAfterSeconds: 5 });
    }
    if (typeof doc.jwks_uri !== "string") throw new VaultError("service_unavailable", "The issuer's discovery document names no jwks_uri", { retryAfterSeconds: 5 });
    this.discovered.set(issuer, { url: doc.jwks_uri, until: Date.now() + 10 * 60_000 });
    return doc.jwks_uri;
  }
}
