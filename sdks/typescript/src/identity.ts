import { errorFor, NetworkError } from "./errors.js";
import type { Transport } from "./transport.js";
import type { ApiObject } from "./types.js";

type Query = Record<string, string | number | boolean | undefined | null>;
type Body = Record<string, unknown>;
const enc = encodeURIComponent;

/** The identity cache, syncs and roles (`/v1/identity/*`). */
export class IdentityResource {
  constructor(private readonly http: Transport) {}
  partners(query: Query = {}) { return this.http.request<{ partners: Body[]; total: number }>({ method: "GET", path: "/v1/identity/partners", query }); }
  users(tenantId: string, query: Query = {}) { return this.http.request<{ users: Body[]; total: number }>({ method: "GET", path: `/v1/identity/tenants/${enc(tenantId)}/users`, query }); }
  groups(tenantId: string, query: Query = {}) { return this.http.request<{ groups: Body[]; total: number }>({ method: "GET", path: `/v1/identity/tenants/${enc(tenantId)}/groups`, query }); }
  serviceAccounts(tenantId: string, query: Query = {}) { return this.http.request<{ service_accounts: Body[]; total: number }>({ method: "GET", path: `/v1/identity/tenants/${enc(tenantId)}/service-accounts`, query }); }
  groupMembers(groupId: string, query: Query = {}) { return this.http.request<{ members: Body[]; total: number }>({ method: "GET", path: `/v1/identity/groups/${enc(groupId)}/members`, query }); }
  resolve(type: "user" | "service_account" | "group", id: string) { return this.http.request<Body>({ method: "GET", path: `/v1/identity/resolve/${type}/${enc(id)}` }); }
  sync(scope: { partner_id?: string; tenant_id?: string } = {}) { return this.http.request<{ sync_id: string; status: string; started_at: string }>({ method: "POST", path: "/v1/identity/sync", query: scope }); }
  getSync(id: string) { return this.http.request<Body>({ method: "GET", path: `/v1/identity/sync/${enc(id)}` }); }
  syncHistory(query: Query = {}) { return this.http.request<{ syncs: Body[]; total: number }>({ method: "GET", path: "/v1/identity/sync/history", query }); }
  roles() { return this.http.request<{ roles: Body[] }>({ method: "GET", path: "/v1/identity/roles" }); }
  userRoles(userId: string) { return this.http.request<Body>({ method: "GET", path: `/v1/identity/users/${enc(userId)}/roles` }); }
  setUserRoles(userId: string, roles: string[]) { return this.http.request<Body>({ method: "PUT", path: `/v1/identity/users/${enc(userId)}/roles`, body: { roles }, idempotent: true }); }
}

/** Token-exchange trusts (`/v1/auth/trusts`, scope admin). */
export class TrustsResource {
  constructor(private readonly http: Transport) {}
  create(trust: Body) { return this.http.request<ApiObject>({ method: "POST", path: "/v1/auth/trusts", body: trust }); }
  list(query: Query = {}) { return this.http.request<{ data: ApiObject[]; cursor: string | null; has_more: boolean }>({ method: "GET", path: "/v1/auth/trusts", query }); }
  get(id: string) { return this.http.request<ApiObject>({ method: "GET", path: `/v1/auth/trusts/${enc(id)}` }); }
  update(id: string, patch: Body) { return this.http.request<ApiObject>({ method: "PATCH", path: `/v1/auth/trusts/${enc(id)}`, body: patch, idempotent: true }); }
  delete(id: string) { return this.http.request<Body>({ method: "DELETE", path: `/v1/auth/trusts/${enc(id)}`, idempotent: true }); }
}

export interface ExchangeRequest {
  subjectToken: string;
  subjectTokenType?: string;
  tenantId?: string;
  role?: string;
  scope?: string[];
  expiresIn?: number | string;
  allowedPaths?: string[];
}

export interface ExchangeResult {
  access_token: string;
  issued_token_type: string;
  token_type: "Bearer";
  expires_in: number;
  scope: string;
  expires_at: string;
  token_id: string;
  identity_id: string;
}

/**
 * `POST /v1/auth/exchange` needs no bearer (the workload token authenticates), so it is a function
 * of the base URL rather than a client call: `new ScaiVaultClient({ baseUrl, token: result.access_token })`.
 */
export async function exchangeToken(baseUrl: string, request: ExchangeRequest, options: { timeoutMs?: number } = {}): Promise<ExchangeResult> {
  const body: Body = { grant_type: "urn:ietf:params:oauth:grant-type:token-exchange", subject_token: request.subjectToken };
  if (request.subjectTokenType) body.subject_token_type = request.subjectTokenType;
  if (request.tenantId) body.tenant_id = request.tenantId;
  if (request.role) body.role = request.role;
  if (request.scope) body.scope = request.scope.join(" ");
  if (request.expiresIn !== undefined) body.expires_in = request.expiresIn;
  if (request.allowedPaths) body.allowed_paths = request.allowedPaths;
  let response: Response;
  try {
    response = await fetch(`${baseUrl.replace(/\/+$/, "")}/v1/auth/exchange`, { method: "POST", headers: { "content-type": "application/json", accept: "application/json" }, body: JSON.stringify(body), signal: AbortSignal.timeout(options.timeoutMs ?? 30_000) });
  } catch (error) {
    throw new NetworkError({ code: "network_error", status: 0, message: `request to ScaiVault failed: ${(error as Error).message}` });
  }
  const parsed = (await response.json().catch(() => undefined)) as { error?: { code?: string; message?: string; details?: Record<string, unknown>; request_id?: string } } | undefined;
  if (!response.ok) {
    const wire = parsed?.error;
    throw errorFor({ status: response.status, code: wire?.code ?? `http_${response.status}`, message: wire?.message ?? `HTTP ${response.status}`, details: wire?.details, requestId: wire?.request_id });
  }
  return parsed as unknown as ExchangeResult;
}
