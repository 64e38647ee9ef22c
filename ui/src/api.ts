/**
 * The console's only way to the API. The session cookie is HttpOnly (the app never sees it); the
 * app holds just the CSRF token, in memory, and sends it on every call (spec/console.md §2).
 */
export interface ApiErrorBody {
  code: string;
  message: string;
  details: Record<string, unknown>;
  request_id: string;
}

export class ApiError extends Error {
  constructor(readonly status: number, readonly body: ApiErrorBody) {
    super(body.message);
    this.name = "ApiError";
  }
  get code(): string {
    return this.body.code;
  }
}

export interface SessionInfo {
  identity_id: string;
  identity_type: string;
  display_name: string | null;
  tenant_id: string | null;
  partner_id: string;
  scopes: string[];
  roles: string[];
  expires_at: string;
  csrf_token: string;
}

let csrfToken: string | null = null;
let tenant: string | null = null;
let onSignedOut: (() => void) | null = null;

export function setCsrf(token: string | null): void {
  csrfToken = token;
}
/** Partner admins switch tenants: calls then go to /v1/t/{tenant}/… */
export function setTenant(id: string | null): void {
  tenant = id;
}
export function currentTenant(): string | null {
  return tenant;
}
export function whenSignedOut(handler: () => void): void {
  onSignedOut = handler;
}

/** Paths that are never tenant-prefixed. */
const UNPREFIXED = /^\/v1\/(ui\/session|identity\/tenants|health|version)/;

export function apiUrl(path: string): string {
  if (!tenant || UNPREFIXED.test(path)) return path;
  return `/v1/t/${encodeURIComponent(tenant)}${path.slice(3)}`;
}

export async function api<T = any>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (csrfToken) headers["x-csrf-token"] = csrfToken;
  if (body !== undefined) headers["content-type"] = "application/json";
  let response: Response;
  try {
    response = await fetch(apiUrl(path), { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: "same-origin", cache: "no-store" });
  } catch {
    throw new ApiError(0, { code: "network_error", message: "The vault could not be reached", details: {}, request_id: "" });
  }
  const text = await response.text();
  let parsed: any = undefined;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!response.ok) {
    const error = parsed?.error ?? { code: `http_${response.status}`, message: response.statusText, details: {}, request_id: response.headers.get("x-request-id") ?? "" };
    if (response.status === 401 && path !== "/v1/ui/session") onSignedOut?.();
    throw new ApiError(response.status, error);
  }
  return parsed as T;
}

export const get = <T = any>(path: string) => api<T>("GET", path);
export const post = <T = any>(path: string, body?: unknown) => api<T>("POST", path, body ?? {});
export const put = <T = any>(path: string, body: unknown) => api<T>("PUT", path, body);
export const patch = <T = any>(path: string, body: unknown) => api<T>("PATCH", path, body);
export const del = <T = any>(path: string) => api<T>("DELETE", path);

/** A secret path in a URL: each segment encoded, slashes kept. */
export function secretUrl(path: string, suffix = ""): string {
  return `/v1/secrets/${path.split("/").map(encodeURIComponent).join("/")}${suffix}`;
}

export function query(params: Record<string, string | number | boolean | null | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== null && value !== "") search.set(key, String(value));
  const text = search.toString();
  return text ? `?${text}` : "";
}
