import { secretPath } from "./secrets.js";
import type { Transport } from "./transport.js";
import type {
  ApiObject, AuditEntry, AuditExportBody, AuditLogsQuery, AuditVerifyResult, CreateBindingBody, CreatePolicyBody, CreateSubscriptionBody,
  CreateWebhookBody, Page, PatchPolicyBody, PatchSubscriptionBody, PatchWebhookBody, PollQuery, ReplacePolicyBody, RotationDueQuery,
  RotationHistoryItem, RotationPolicy, RotationPolicyCreate, RotationPolicyPatch, SecretPolicy, SecretPolicyCreate, SecretPolicyPatch,
  TestPolicyBody, TestPolicyResponse, VaultEvent,
} from "./types.js";

type Query = Record<string, string | number | boolean | undefined | null>;
type Body = Record<string, unknown>;
const enc = encodeURIComponent;

/** Turns a list answer (`{<key>: [...], cursor, has_more}`) into a Page. */
function page<T>(answer: Record<string, unknown>, key: string): Page<T> {
  const data = (answer[key] ?? answer.data ?? []) as T[];
  return { data, cursor: (answer.cursor as string | null | undefined) ?? null, hasMore: Boolean(answer.has_more) };
}

abstract class Resource {
  constructor(protected readonly http: Transport) {}
  protected get<T>(path: string, query?: Query) {
    return this.http.request<T>({ method: "GET", path, query });
  }
  /** POST creates are not idempotent: a 503 or a lost connection is surfaced, not repeated. */
  protected post<T>(path: string, body: unknown = {}, idempotent = false, query?: Query) {
    return this.http.request<T>({ method: "POST", path, body, idempotent, query });
  }
  protected put<T>(path: string, body: unknown) {
    return this.http.request<T>({ method: "PUT", path, body, idempotent: true });
  }
  protected patch<T>(path: string, body: unknown) {
    return this.http.request<T>({ method: "PATCH", path, body, idempotent: true });
  }
  protected del<T>(path: string, query?: Query) {
    return this.http.request<T>({ method: "DELETE", path, query, idempotent: true });
  }
}

export class PoliciesResource extends Resource {
  create(policy: CreatePolicyBody) { return this.post<ApiObject>("/v1/policies", policy); }
  async list(query: Query = {}) { return page<ApiObject>(await this.get("/v1/policies", query), "policies"); }
  retrieve(id: string) { return this.get<ApiObject>(`/v1/policies/${enc(id)}`); }
  replace(id: string, policy: ReplacePolicyBody) { return this.put<ApiObject>(`/v1/policies/${enc(id)}`, policy); }
  update(id: string, changes: PatchPolicyBody) { return this.patch<ApiObject>(`/v1/policies/${enc(id)}`, changes); }
  delete(id: string, options: { force?: boolean } = {}) { return this.del<unknown>(`/v1/policies/${enc(id)}`, { force: options.force ? true : undefined }); }
  async listBindings(id: string) { return page<ApiObject>(await this.get(`/v1/policies/${enc(id)}/bindings`), "bindings"); }
  bind(id: string, binding: CreateBindingBody) { return this.post<ApiObject>(`/v1/policies/${enc(id)}/bindings`, binding); }
  unbind(id: string, bindingId: string) { return this.del<unknown>(`/v1/policies/${enc(id)}/bindings/${enc(bindingId)}`); }
  test(request: TestPolicyBody) { return this.post<TestPolicyResponse>("/v1/policies/test", request, true); }
}

export class RotationResource extends Resource {
  createPolicy(policy: RotationPolicyCreate) { return this.post<RotationPolicy>("/v1/rotation/policies", policy); }
  async listPolicies(query: Query = {}) { return page<RotationPolicy>(await this.get("/v1/rotation/policies", query), "data"); }
  getPolicy(id: string) { return this.get<RotationPolicy>(`/v1/rotation/policies/${enc(id)}`); }
  updatePolicy(id: string, changes: RotationPolicyPatch) { return this.patch<RotationPolicy>(`/v1/rotation/policies/${enc(id)}`, changes); }
  deletePolicy(id: string) { return this.del<unknown>(`/v1/rotation/policies/${enc(id)}`); }
  enable(id: string) { return this.post<ApiObject>(`/v1/rotation/policies/${enc(id)}/enable`, {}, true); }
  disable(id: string) { return this.post<ApiObject>(`/v1/rotation/policies/${enc(id)}/disable`, {}, true); }
  assign(id: string, path: string) { return this.post<Body>(`/v1/rotation/policies/${enc(id)}/secrets`, { secret_path: path }); }
  unassign(id: string, path: string) { return this.del<unknown>(`/v1/rotation/policies/${enc(id)}/secrets/${secretPath(path)}`); }
  rotate(id: string, secretPaths?: string[]) { return this.post<Body>(`/v1/rotation/policies/${enc(id)}/rotate`, secretPaths ? { secret_paths: secretPaths } : {}); }
  async history(id: string, query: Query = {}) { return page<RotationHistoryItem>(await this.get(`/v1/rotation/policies/${enc(id)}/history`, query), "data"); }
  due(query: RotationDueQuery = {}) { return this.get<Body>("/v1/rotation/due", query); }
}

export class SecretPoliciesResource extends Resource {
  create(policy: SecretPolicyCreate) { return this.post<SecretPolicy>("/v1/secret-policies", policy); }
  async list(query: Query = {}) { return page<ApiObject>(await this.get("/v1/secret-policies", query), "data"); }
  retrieve(id: string) { return this.get<ApiObject>(`/v1/secret-policies/${enc(id)}`); }
  update(id: string, changes: SecretPolicyPatch) { return this.patch<SecretPolicy>(`/v1/secret-policies/${enc(id)}`, changes); }
  delete(id: string) { return this.del<unknown>(`/v1/secret-policies/${enc(id)}`); }
  preview(id: string) { return this.post<Body>(`/v1/secret-policies/${enc(id)}/preview`, {}, true); }
}

export class WebhooksResource extends Resource {
  create(webhook: CreateWebhookBody) { return this.post<ApiObject>("/v1/webhooks", webhook); }
  async list(query: Query = {}) { return page<ApiObject>(await this.get("/v1/webhooks", query), "webhooks"); }
  retrieve(id: string) { return this.get<ApiObject>(`/v1/webhooks/${enc(id)}`); }
  update(id: string, changes: PatchWebhookBody) { return this.patch<ApiObject>(`/v1/webhooks/${enc(id)}`, changes); }
  delete(id: string) { return this.del<unknown>(`/v1/webhooks/${enc(id)}`); }
  test(id: string) { return this.post<Body>(`/v1/webhooks/${enc(id)}/test`); }
  async deliveries(id: string, query: { status?: string; limit?: number; cursor?: string } = {}) { return page<Body>(await this.get(`/v1/webhooks/${enc(id)}/deliveries`, query), "deliveries"); }
  redeliver(id: string, deliveryId: string) { return this.post<Body>(`/v1/webhooks/${enc(id)}/deliveries/${enc(deliveryId)}/redeliver`); }
}

export class SubscriptionsResource extends Resource {
  create(subscription: CreateSubscriptionBody) { return this.post<ApiObject>("/v1/subscriptions", subscription); }
  async list(query: Query = {}) { return page<ApiObject>(await this.get("/v1/subscriptions", query), "data"); }
  retrieve(id: string) { return this.get<ApiObject>(`/v1/subscriptions/${enc(id)}`); }
  update(id: string, changes: PatchSubscriptionBody) { return this.patch<ApiObject>(`/v1/subscriptions/${enc(id)}`, changes); }
  delete(id: string) { return this.del<unknown>(`/v1/subscriptions/${enc(id)}`); }
  /** Long poll: waits up to `timeout` seconds (≤ 60) for events. */
  poll(id: string, query: PollQuery = {}) {
    return this.get<{ events: VaultEvent[] } & Body>(`/v1/subscriptions/${enc(id)}/poll`, query);
  }
  redeliver(id: string, deliveryId: string) { return this.post<Body>(`/v1/subscriptions/${enc(id)}/deliveries/${enc(deliveryId)}/redeliver`); }
  ack(id: string, eventIds: string[]) { return this.post<Body>(`/v1/subscriptions/${enc(id)}/ack`, { event_ids: eventIds }, true); }
  async deliveries(id: string, query: Query = {}) { return page<Body>(await this.get(`/v1/subscriptions/${enc(id)}/deliveries`, query), "deliveries"); }
}

export class AuditResource extends Resource {
  async logs(query: AuditLogsQuery = {}) { return page<AuditEntry>(await this.get("/v1/audit/logs", query as Query), "logs"); }
  async forSecret(path: string, query: Query = {}) { return page<Body>(await this.get(`/v1/audit/secrets/${secretPath(path)}`, query), "logs"); }
  async forIdentity(id: string, query: Query = {}) { return page<Body>(await this.get(`/v1/audit/identities/${enc(id)}`, query), "logs"); }
  summary(query: Query = {}) { return this.get<Body>("/v1/audit/summary", query); }
  verify() { return this.get<AuditVerifyResult>("/v1/audit/verify"); }
  export(request: AuditExportBody) { return this.post<Body>("/v1/audit/export", request); }
  async exports(query: Query = {}) { return page<Body>(await this.get("/v1/audit/exports", query), "data"); }
  getExport(id: string) { return this.get<Body>(`/v1/audit/exports/${enc(id)}`); }
}

export class TokensResource extends Resource {
  /** The answer carries `token` once; it is never shown again. */
  /** Without `identity_id`: a personal token for the caller (no admin needed). */
  create(request: { identity_id?: string; identity_type?: string; scopes?: string[]; expires_in?: string; description?: string } = {}) {
    return this.post<ApiObject & { token: string }>("/v1/auth/tokens", request);
  }
  async list(query: Query = {}) { return page<ApiObject>(await this.get("/v1/auth/tokens", query), "data"); }
  revoke(id: string) { return this.del<unknown>(`/v1/auth/tokens/${enc(id)}`); }
}

export class AuthResource extends Resource {
  whoami() { return this.get<Body>("/v1/auth/whoami"); }
  introspect(token: string) { return this.post<Body>("/v1/auth/introspect", { token }, true); }
}

export class TenantsResource extends Resource {
  create(tenant: { id?: string; name: string }) { return this.post<ApiObject>("/v1/identity/tenants", tenant); }
  async list(query: Query = {}) { return page<ApiObject>(await this.get("/v1/identity/tenants", query), "data"); }
}

export class SystemResource extends Resource {
  health() { return this.get<Body>("/v1/health"); }
  ready() { return this.get<Body>("/v1/health/ready"); }
  version() { return this.get<Body>("/v1/version"); }
}
