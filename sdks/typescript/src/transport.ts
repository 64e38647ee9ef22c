import { ContextMismatchError, errorFor, NetworkError, ScaiVaultError } from "./errors.js";
import { tlsFetch } from "./tls-fetch.js";

export interface RetryOptions {
  /** Total attempts including the first (default 3; 1 disables retries). */
  maxAttempts?: number;
  /** The longest single wait, in seconds, whatever `Retry-After` says (default 30). */
  maxDelay?: number;
}

export interface ClientOptions {
  baseUrl: string;
  /** A bearer token (`skt_…` or a ScaiKey JWT). */
  token?: string;
  /** Client credentials exchanged at ScaiKey for a JWT, refreshed before it expires. */
  clientId?: string;
  clientSecret?: string;
  /** The ScaiKey token endpoint (default `https://scaikey.scailabs.ai/oauth/token`). */
  tokenUrl?: string;
  /** Scopes asked for in the client-credentials exchange. */
  scopes?: string[];
  /** Sent as `X-Tenant-ID` (partner admins working in one of their tenants). */
  tenantId?: string;
  /**
   * The partner this client is locked to (`SCAIVAULT_PARTNER_ID`): before its first request the
   * client asks `GET /v1/auth/whoami`, and if the token's context lies in another partner every
   * request fails with `context_mismatch` (a PermissionDeniedError) without being sent.
   */
  partnerId?: string;
  /** Per-attempt timeout in milliseconds (default 30000). */
  timeout?: number;
  retries?: RetryOptions;
  /** Opt-in read cache: `ttl` in seconds; the event stream invalidates entries at once. */
  cache?: { ttl: number };
  userAgent?: string;
  /** PEM CA certificate(s) for a vault whose certificate a private CA signed. */
  ca?: string | Buffer;
  /** false turns certificate verification off (development only; default true). */
  verify?: boolean;
  /** An undici Dispatcher (e.g. `new Agent({connect: {ca}})` from the undici package), passed to fetch as is. */
  dispatcher?: unknown;
}

export interface RequestSpec {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  path: string;
  query?: Record<string, string | number | boolean | undefined | null>;
  body?: unknown;
  headers?: Record<string, string>;
  /**
   * Whether repeating the request cannot apply it twice. GET always is; a write is only when the
   * caller says so (e.g. a PUT with `cas`). 503 and network errors are retried only when true.
   */
  idempotent?: boolean;
}

const WHOAMI_PATH = "/v1/auth/whoami";
const DEFAULT_TOKEN_URL = "https://scaikey.scailabs.ai/oauth/token";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Builds `base + path + ?query`; each path segment is already validated by the server's rules. */
export function urlFor(baseUrl: string, path: string, query?: RequestSpec["query"]): string {
  const url = new URL(baseUrl.replace(/\/+$/, "") + path);
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null) url.searchParams.set(key, String(value));
  }
  return url.toString();
}

/** HTTP, authentication, typed errors and bounded retries; shared by every resource. */
export class Transport {
  readonly baseUrl: string;
  private accessToken: string | null;
  private tokenExpiresAt = 0;
  private pendingToken: Promise<string> | null = null;
  private readonly fetchImpl: (url: string, init: RequestInit) => Promise<Response>;
  private partnerCheck: Promise<void> | null = null;

  constructor(readonly options: ClientOptions) {
    if (!options.baseUrl) throw new TypeError("baseUrl is required");
    if (!options.token && !(options.clientId && options.clientSecret)) {
      throw new TypeError("either token or clientId and clientSecret are required");
    }
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.accessToken = options.token ?? null;
    if (options.token) this.tokenExpiresAt = Number.POSITIVE_INFINITY;
    const custom = options.ca !== undefined || options.verify === false ? tlsFetch({ ca: options.ca, rejectUnauthorized: options.verify ?? true }) : null;
    const dispatcher = options.dispatcher;
    this.fetchImpl = custom ?? (dispatcher ? (url, init) => fetch(url, { ...init, dispatcher } as RequestInit) : (url, init) => fetch(url, init));
  }

  /** fetch with this client's TLS settings (CA, verification or dispatcher). */
  fetch(url: string, init: RequestInit): Promise<Response> {
    return this.fetchImpl(url, init);
  }

  /** The bearer token, fetching or refreshing a client-credentials JWT when needed. */
  async bearer(forceRefresh = false): Promise<string> {
    if (this.options.token) return this.options.token;
    if (!forceRefresh && this.accessToken && Date.now() < this.tokenExpiresAt) return this.accessToken;
    this.pendingToken ??= this.exchange().finally(() => {
      this.pendingToken = null;
    });
    return this.pendingToken;
  }

  private async exchange(): Promise<string> {
    const form = new URLSearchParams({ grant_type: "client_credentials", client_id: this.options.clientId!, client_secret: this.options.clientSecret! });
    if (this.options.scopes?.length) form.set("scope", this.options.scopes.join(" "));
    let response: Response;
    try {
      response = await this.fetch(this.options.tokenUrl ?? DEFAULT_TOKEN_URL, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
        body: form.toString(),
        signal: AbortSignal.timeout(this.options.timeout ?? 30_000),
      });
    } catch (error) {
      throw new NetworkError({ code: "network_error", status: 0, message: `token endpoint unreachable: ${(error as Error).message}` });
    }
    const body = (await response.json().catch(() => ({}))) as { access_token?: string; expires_in?: number; error?: string };
    if (!response.ok || typeof body.access_token !== "string") {
      // The client secret never appears in the message.
      throw errorFor({ code: "authentication_required", status: 401, message: `client-credentials exchange failed (${response.status}${body.error ? ` ${body.error}` : ""})` });
    }
    const lifetime = typeof body.expires_in === "number" ? body.expires_in : 3600;
    // Refresh a minute early (or at half-life for short tokens) so no request carries an expiring token.
    this.tokenExpiresAt = Date.now() + Math.max(1, lifetime - Math.min(60, lifetime / 2)) * 1000;
    this.accessToken = body.access_token;
    return body.access_token;
  }

  /** Headers for a request to `path` (any path but whoami is held to `partnerId` first). */
  async headers(extra?: Record<string, string>, path?: string): Promise<Record<string, string>> {
    if (this.options.partnerId && path !== WHOAMI_PATH) await this.partnerConfirmed(this.options.partnerId);
    const headers: Record<string, string> = { accept: "application/json", "user-agent": this.options.userAgent ?? "scaivault-js/0.1.0", ...extra };
    headers.authorization = `Bearer ${await this.bearer()}`;
    if (this.options.tenantId) headers["x-tenant-id"] = this.options.tenantId;
    return headers;
  }

  /** Asked once per client: a mismatch is remembered, a check that could not be made (network, 401) is asked again. */
  private partnerConfirmed(partnerId: string): Promise<void> {
    this.partnerCheck ??= this.checkPartner(partnerId).catch((error: unknown) => {
      if (!(error instanceof ContextMismatchError)) this.partnerCheck = null;
      throw error;
    });
    return this.partnerCheck;
  }

  private async checkPartner(partnerId: string): Promise<void> {
    const me = await this.request<{ partner_id?: string | null }>({ method: "GET", path: WHOAMI_PATH });
    if (me?.partner_id !== partnerId) {
      throw new ContextMismatchError({ code: "context_mismatch", status: 0, message: `This token works in partner ${me?.partner_id ?? "(none)"}, not ${partnerId}, the partner this client is locked to (SCAIVAULT_PARTNER_ID)` });
    }
  }

  /** One API call: JSON in, JSON out, the contract's errors as typed exceptions. */
  async request<T>(spec: RequestSpec): Promise<T> {
    const maxAttempts = Math.max(1, this.options.retries?.maxAttempts ?? 3);
    const maxDelay = this.options.retries?.maxDelay ?? 30;
    const idempotent = spec.idempotent ?? spec.method === "GET";
    let refreshed = false;
    for (let attempt = 1; ; attempt++) {
      let error: ScaiVaultError;
      try {
        return await this.once<T>(spec);
      } catch (caught) {
        if (!(caught instanceof ScaiVaultError)) throw caught;
        error = caught;
      }
      // An expired client-credentials JWT: fetch a fresh one once, then repeat (nothing was applied).
      if (error.code === "token_expired" && !this.options.token && !refreshed) {
        refreshed = true;
        await this.bearer(true);
        attempt--;
        continue;
      }
      // 429 is refused before anything is applied, so any request may repeat; a 503 or a lost
      // connection may hide an applied write, so only idempotent requests repeat after one.
      const retryable = error.code === "rate_limited" || ((error.code === "service_unavailable" || error.code === "network_error") && idempotent);
      if (!retryable || attempt >= maxAttempts) throw error;
      const wait = error.retryAfter ?? Math.min(2 ** (attempt - 1), maxDelay);
      await sleep(Math.min(wait, maxDelay) * 1000);
    }
  }

  private async once<T>(spec: RequestSpec): Promise<T> {
    const headers = await this.headers(spec.headers, spec.path);
    let body: string | undefined;
    if (spec.body !== undefined) {
      body = JSON.stringify(spec.body);
      headers["content-type"] = "application/json";
    }
    let response: Response;
    try {
      response = await this.fetch(urlFor(this.baseUrl, spec.path, spec.query), {
        method: spec.method,
        headers,
        body,
        signal: AbortSignal.timeout(this.options.timeout ?? 30_000),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; errors?: { code?: string }[] } }).cause;
      const reason = cause?.code ?? cause?.errors?.[0]?.code ?? (error as Error).name;
      throw new NetworkError({ code: "network_error", status: 0, message: `request to ScaiVault failed: ${reason}` });
    }
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (response.ok) return parsed as T;
    const wire = (parsed as { error?: { code?: string; message?: string; details?: Record<string, unknown>; request_id?: string } } | undefined)?.error;
    const retryAfterHeader = response.headers.get("retry-after");
    const retryAfter = retryAfterHeader !== null && /^\d+$/.test(retryAfterHeader.trim()) ? Number(retryAfterHeader) : null;
    throw errorFor({
      code: wire?.code ?? `http_${response.status}`,
      message: wire?.message ?? `ScaiVault answered ${response.status}`,
      status: response.status,
      requestId: wire?.request_id ?? response.headers.get("x-request-id"),
      details: wire?.details ?? {},
      retryAfter,
    });
  }
}
