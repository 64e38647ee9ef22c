import { createHmac, timingSafeEqual } from "node:crypto";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Authenticator } from "../access/authenticator.js";
import type { Principal } from "../access/principal.js";
import { open, seal } from "../crypto/aead.js";
import { freshRandomBytes } from "../crypto/random.js";
import { VaultError } from "../http/errors.js";
import type { SessionRow, SessionStore } from "./session-store.js";

export interface SessionSettings {
  idleMs: number;
  maxMs: number;
  /** Over TLS the cookie is `__Host-scaivault_session` and `Secure`. */
  secure: boolean;
  /** BASE_URL's origin; else the request's scheme and Host are the vault's own origin. */
  baseOrigin: string | null;
}

export interface SessionKeys {
  /** HMAC key for the stored session id. */
  id: Buffer;
  /** HMAC key for the CSRF token (an HMAC of the session id). */
  csrf: Buffer;
  /** AES-256-GCM key sealing JWT credentials. */
  jwt: Buffer;
}

const COOKIE = "scaivault_session";
const ID_SHAPE = /^[A-Za-z0-9_-]{43}$/;
/** last_seen_at is written at most this often per session (a write per request would be wasteful). */
const TOUCH_EVERY_MS = 15_000;

/** A session as it answers `POST|GET /v1/ui/session`. */
export interface SessionView {
  principal: Principal;
  expiresAt: number;
  csrfToken: string;
}

/**
 * Console sign-in sessions (spec/console.md §2): the browser holds an HttpOnly cookie, the app an
 * in-memory CSRF token; every request re-checks the stored credential through the Authenticator,
 * so revocation, expiry and scope changes apply at once.
 */
export class ConsoleSessions {
  readonly cookieName: string;

  constructor(
    private readonly store: SessionStore,
    private readonly authenticator: Authenticator,
    private readonly keys: SessionKeys,
    private readonly settings: SessionSettings,
  ) {
    this.cookieName = settings.secure ? `__Host-${COOKIE}` : COOKIE;
  }

  /** Whether the request carries a session cookie (the pipeline uses it only without Authorization). */
  presented(request: FastifyRequest): boolean {
    return this.cookieValue(request) !== null;
  }

  /** Checks `token` as a bearer and makes a session of it; the caller sets the cookie. */
  async create(request: FastifyRequest, token: string, reply: FastifyReply): Promise<SessionView & { principal: Principal }> {
    // Login CSRF: another site must not sign the browser in to a session of its choosing.
    this.checkSameOrigin(request);
    const principal = await this.authenticator.authenticate(`Bearer ${token}`);
    const now = Date.now();
    const id = freshRandomBytes(32).toString("base64url");
    const credentialExpiry = principal.tokenExpiresAt ?? Number.POSITIVE_INFINITY;
    const expiresAt = Math.min(now + this.settings.maxMs, credentialExpiry);
    const isVault = principal.tokenKind === "vault" && principal.tokenId !== null;
    const row: SessionRow = {
      id_hmac: this.idHmac(id),
      partner_id: principal.partnerId,
      tenant_id: principal.tenantId,
      identity_id: principal.identityId,
      credential_kind: isVault ? "vault" : "jwt",
      token_id: isVault ? principal.tokenId : null,
      sealed_jwt: isVault ? null : seal(this.keys.jwt, Buffer.from(token, "utf8"), `ui-session|${this.idHmac(id)}`).toString("base64"),
      created_at: now,
      last_seen_at: now,
      expires_at: expiresAt,
    };
    await this.store.insert(row);
    reply.header("Set-Cookie", this.cookie(id, false));
    return { principal, expiresAt, csrfToken: this.csrfFor(id) };
  }

  /**
   * The principal of a cookie-authenticated request. `requireCsrf` is false only for
   * `GET /v1/ui/session`, which is how the app recovers its CSRF token after a reload.
   */
  async authenticate(request: FastifyRequest, requireCsrf = true): Promise<SessionView> {
    this.checkSameOrigin(request);
    const id = this.cookieValue(request);
    if (id === null) throw new VaultError("authentication_required", "Sign in again", { details: { reason: "session_expired" } });
    if (requireCsrf) this.checkCsrf(request, id);
    const idHmac = this.idHmac(id);
    const row = await this.store.find(idHmac);
    const now = Date.now();
    if (!row || row.expires_at <= now || now - row.last_seen_at > this.settings.idleMs) {
      if (row) await this.store.remove(idHmac);
      throw new VaultError("authentication_required", "The console session has expired; sign in again", { details: { reason: "session_expired" } });
    }
    const principal = await this.recheck(row, idHmac);
    if (now - row.last_seen_at >= Math.min(TOUCH_EVERY_MS, this.settings.idleMs / 4)) await this.store.touch(idHmac, now);
    return { principal, expiresAt: row.expires_at, csrfToken: this.csrfFor(id) };
  }

  /** Signs out: removes the session (when the CSRF token matches it) and clears the cookie. */
  async destroy(request: FastifyRequest, reply: FastifyReply): Promise<Principal | null> {
    this.checkSameOrigin(request);
    const id = this.cookieValue(request);
    reply.header("Set-Cookie", this.cookie("", true));
    if (id === null) return null;
    this.checkCsrf(request, id);
    const idHmac = this.idHmac(id);
    const row = await this.store.find(idHmac);
    if (!row) return null;
    await this.store.remove(idHmac);
    return this.recheck(row, idHmac).catch(() => null);
  }

  private async recheck(row: SessionRow, idHmac: string): Promise<Principal> {
    if (row.credential_kind === "vault" && row.token_id) return this.authenticator.authenticateTokenId(row.token_id);
    const jwt = open(this.keys.jwt, Buffer.from(row.sealed_jwt ?? "", "base64"), `ui-session|${idHmac}`).toString("utf8");
    return this.authenticator.authenticate(`Bearer ${jwt}`);
  }

  private checkSameOrigin(request: FastifyRequest): void {
    const origin = request.headers.origin;
    const site = request.headers["sec-fetch-site"];
    const own = this.settings.baseOrigin ?? `${request.protocol}://${request.headers.host ?? ""}`;
    if ((typeof origin === "string" && origin !== own) || site === "cross-site") throw csrfError();
  }

  private checkCsrf(request: FastifyRequest, id: string): void {
    const sent = request.headers["x-csrf-token"];
    const expected = Buffer.from(this.csrfFor(id), "utf8");
    const given = Buffer.from(typeof sent === "string" ? sent : "", "utf8");
    // Compared in constant time; the length check first is safe (the expected length is public).
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw csrfError();
  }

  private cookieValue(request: FastifyRequest): string | null {
    const header = request.headers.cookie;
    if (typeof header !== "string") return null;
    for (const part of header.split(";")) {
      const eq = part.indexOf("=");
      if (eq < 0 || part.slice(0, eq).trim() !== this.cookieName) continue;
      const value = part.slice(eq + 1).trim();
      return ID_SHAPE.test(value) ? value : null;
    }
    return null;
  }

  private cookie(value: string, clear: boolean): string {
    const attributes = [`${this.cookieName}=${value}`, "HttpOnly", "SameSite=Strict", "Path=/"];
    if (this.settings.secure) attributes.push("Secure");
    if (clear) attributes.push("Max-Age=0");
    return attributes.join("; ");
  }

  private idHmac(id: string): string {
    return createHmac("sha256", this.keys.id).update(id, "utf8").digest("hex");
  }

  private csrfFor(id: string): string {
    return createHmac("sha256", this.keys.csrf).update(id, "utf8").digest("base64url");
  }
}

function csrfError(): VaultError {
  return new VaultError("forbidden", "Cross-site request refused: send the console's X-CSRF-Token from the same origin", { details: { reason: "csrf" } });
}
