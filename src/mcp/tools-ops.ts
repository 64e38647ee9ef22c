import { confirm, p, page, type Json, type ToolSpec } from "./tool.js";

const webhookId = { webhook_id: p.str("webhook id (wh_…)") };
const subscriptionId = { subscription_id: p.str("subscription id (sub_…)") };
/** Where a batch read's audit entry names the paths it read or was refused (its secret_path is null). */
const BATCH_NAMES = ["extra_data.paths", "extra_data.denied_or_failed"];
/** `filters.path_prefix` as the API matches it; no prefix (or no filters) reaches every path. */
const filterPrefix = (args: Json) => {
  const prefix = (args.filters as Json | undefined)?.path_prefix;
  return [typeof prefix === "string" ? prefix : ""];
};
/** An update without `filters` keeps the webhook's filters; one with them replaces them whole. */
const changedFilterPrefix = (args: Json) => (args.filters === undefined ? [] : filterPrefix(args));

/** Audit, webhooks, subscriptions, access, identity and system: 33 tools. */
export const OPS_TOOLS: ToolSpec[] = [
  {
    name: "query_audit_logs", category: "audit", title: "Query audit logs", kind: "read", pathArgs: ["path_prefix"], filter: [{ list: "logs", field: "secret_path", named: BATCH_NAMES }],
    description: "Audit entries by time, action, identity, path prefix, outcome, source IP or request id.",
    properties: { from: p.str("RFC 3339"), to: p.str("RFC 3339"), action: p.str("e.g. read"), identity_id: p.str("e.g. sa:app"), identity_type: p.str("user, service_account, …"), path_prefix: p.str("secret path prefix"), success: p.bool("outcome"), source_ip: p.str("client address"), request_id: p.str("req_…"), ...page },
    route: { method: "GET", path: "/v1/audit/logs", query: ["from", "to", "action", "identity_id", "identity_type", "path_prefix", "success", "source_ip", "request_id", "limit", "cursor"] },
  },
  { name: "get_secret_audit_trail", category: "audit", title: "A secret's audit trail", kind: "read", pathArgs: ["path"], filter: [{ list: "logs", field: "secret_path", named: BATCH_NAMES }], description: "Who accessed one secret, recently.", properties: { path: p.str("secret path") }, required: ["path"], route: { method: "GET", path: "/v1/audit/secrets/{path}" } },
  { name: "get_identity_audit_trail", category: "audit", title: "An identity's audit trail", kind: "read", filter: [{ list: "logs", field: "secret_path", named: BATCH_NAMES }], description: "What one identity did, recently.", properties: { identity_id: p.str("e.g. sa:app") }, required: ["identity_id"], route: { method: "GET", path: "/v1/audit/identities/{identity_id}" } },
  { name: "get_audit_summary", category: "audit", title: "Audit summary", kind: "read", filter: [{ list: "top_paths", field: "path" }], description: "Counts by action, identity and outcome.", properties: { from: p.str("RFC 3339"), to: p.str("RFC 3339") }, route: { method: "GET", path: "/v1/audit/summary", query: ["from", "to"] } },
  { name: "verify_audit_chain", category: "audit", title: "Verify the audit chain", kind: "read", description: "Check the tamper-evident hash chains (and checkpoints) of the entries the caller may see.", properties: {}, route: { method: "GET", path: "/v1/audit/verify" } },
  {
    name: "export_audit_logs", category: "audit", title: "Export audit logs", kind: "write", description: "Start an export of audit entries (jsonl or csv) to a file or S3 destination.",
    properties: { from: p.str("RFC 3339"), to: p.str("RFC 3339"), format: p.str("jsonl or csv"), filters: p.obj("the query filters"), destination: p.obj("{type: file|s3, …}") },
    required: ["format", "destination"], prefixes: filterPrefix, route: { method: "POST", path: "/v1/audit/export" },
  },
  { name: "get_audit_export", category: "audit", title: "Get an audit export", kind: "read", description: "An export's status and files.", properties: { export_id: p.str("exp_…") }, required: ["export_id"], route: { method: "GET", path: "/v1/audit/exports/{export_id}" } },

  { name: "list_webhooks", category: "webhooks", title: "List webhooks", kind: "read", description: "Webhooks of the tenant (never their secrets).", properties: { ...page }, route: { method: "GET", path: "/v1/webhooks", query: ["limit", "cursor"] } },
  {
    name: "create_webhook", category: "webhooks", title: "Create a webhook", kind: "write", mask: "signing", prefixes: filterPrefix, description: "Deliver signed events to a URL.",
    properties: { name: p.str("unique name"), url: p.str("http(s) URL"), secret: p.str("signing secret"), events: p.strings("event types, e.g. secret.*"), filters: p.obj("path_prefix, secret_type, tags"), enabled: p.bool("default true"), signature_scheme: p.str("timestamped or body") },
    required: ["name", "url", "secret", "events"], route: { method: "POST", path: "/v1/webhooks" },
  },
  {
    name: "update_webhook", category: "webhooks", title: "Update a webhook", kind: "write", mask: "signing", prefixes: changedFilterPrefix, description: "Change a webhook (a new secret may keep the old one valid for previous_secret_ttl).",
    properties: { ...webhookId, name: p.str("name"), url: p.str("URL"), secret: p.str("new signing secret"), previous_secret_ttl: p.str("e.g. 1h"), events: p.strings("event types"), filters: p.obj("filters"), enabled: p.bool("on or off") },
    required: ["webhook_id"], route: { method: "PATCH", path: "/v1/webhooks/{webhook_id}" },
  },
  {
    name: "delete_webhook", category: "webhooks", title: "Delete a webhook", kind: "destructive", description: "Delete a webhook and its pending deliveries.",
    properties: { ...webhookId, ...confirm }, required: ["webhook_id"], effect: (args) => `would delete webhook ${String(args.webhook_id)}`, route: { method: "DELETE", path: "/v1/webhooks/{webhook_id}" },
  },
  { name: "test_webhook", category: "webhooks", title: "Test a webhook", kind: "write", description: "Send a webhook.test event now.", properties: webhookId, required: ["webhook_id"], route: { method: "POST", path: "/v1/webhooks/{webhook_id}/test" } },
  { name: "list_webhook_deliveries", category: "webhooks", title: "List webhook deliveries", kind: "read", filter: [{ list: "deliveries", field: "path" }], description: "Deliveries of a webhook by status.", properties: { ...webhookId, status: p.str("pending, success, failed"), ...page }, required: ["webhook_id"], route: { method: "GET", path: "/v1/webhooks/{webhook_id}/deliveries", query: ["status", "limit", "cursor"] } },
  { name: "redeliver_webhook_delivery", category: "webhooks", title: "Redeliver", kind: "write", description: "Send a delivery again now.", properties: { ...webhookId, delivery_id: p.str("del_…") }, required: ["webhook_id", "delivery_id"], route: { method: "POST", path: "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver" } },

  { name: "list_subscriptions", category: "subscriptions", title: "List subscriptions", kind: "read", description: "Event subscriptions of the tenant.", properties: { ...page }, route: { method: "GET", path: "/v1/subscriptions", query: ["limit", "cursor"] } },
  {
    name: "create_subscription", category: "subscriptions", title: "Create a subscription", kind: "write", mask: "signing", description: "Subscribe to events on path globs, by webhook or polling.",
    properties: { name: p.str("unique name"), paths: p.strings("path globs"), events: p.strings("event types"), delivery: p.obj("{type: webhook|polling, url, secret, buffer_size}") },
    required: ["name", "paths", "events", "delivery"], patterns: (args) => (Array.isArray(args.paths) ? args.paths.map(String) : []), route: { method: "POST", path: "/v1/subscriptions" },
  },
  {
    name: "delete_subscription", category: "subscriptions", title: "Delete a subscription", kind: "destructive", description: "Delete a subscription.",
    properties: { ...subscriptionId, ...confirm }, required: ["subscription_id"], effect: (args) => `would delete subscription ${String(args.subscription_id)}`, route: { method: "DELETE", path: "/v1/subscriptions/{subscription_id}" },
  },
  {
    name: "poll_subscription", category: "subscriptions", title: "Poll a subscription", kind: "read", filter: [{ list: "events", field: "path" }], description: "Fetch waiting events (never acknowledges them).",
    properties: { ...subscriptionId, timeout: p.int("seconds to wait, ≤ 60", { minimum: 0, maximum: 60 }), since_event_id: p.str("evt_…"), max_events: p.int("at most this many", { minimum: 1, maximum: 1000 }) },
    required: ["subscription_id"], route: { method: "GET", path: "/v1/subscriptions/{subscription_id}/poll", query: ["timeout", "since_event_id", "max_events"] },
  },
  { name: "ack_subscription_events", category: "subscriptions", title: "Acknowledge events", kind: "write", description: "Acknowledge polled events so they are not delivered again.", properties: { ...subscriptionId, event_ids: p.strings("evt_… ids", { minItems: 1 }) }, required: ["subscription_id", "event_ids"], route: { method: "POST", path: "/v1/subscriptions/{subscription_id}/ack" } },

  { name: "get_whoami", category: "access", title: "Who am I", kind: "read", description: "The calling identity, tenant, scopes and roles.", properties: {}, route: { method: "GET", path: "/v1/auth/whoami" } },
  { name: "list_tokens", category: "access", title: "List tokens", kind: "read", description: "Vault tokens (own ones; with admin, the tenant's).", properties: { identity_id: p.str("filter"), kind: p.str("personal, service, exchange, bootstrap"), ...page }, route: { method: "GET", path: "/v1/auth/tokens", query: ["identity_id", "kind", "limit", "cursor"] } },
  {
    name: "create_token", category: "access", title: "Create a token", kind: "write", mask: "token", grantsAccess: true, description: "Issue a vault token: a personal token by default, or (admin) one for another identity.",
    properties: { description: p.str("what it is for"), scopes: p.strings("scopes (never beyond the caller's)"), expires_in: p.str("e.g. 30d"), identity_id: p.str("another identity (admin)"), identity_type: p.str("its type") },
    route: { method: "POST", path: "/v1/auth/tokens" },
  },
  {
    name: "revoke_token", category: "access", title: "Revoke a token", kind: "destructive", description: "Revoke a vault token at once.",
    properties: { token_id: p.str("tok_…"), ...confirm }, required: ["token_id"], effect: (args) => `would revoke token ${String(args.token_id)}`, route: { method: "DELETE", path: "/v1/auth/tokens/{token_id}" },
  },
  { name: "list_exchange_trusts", category: "access", title: "List exchange trusts", kind: "read", description: "Trusted workload-token issuers (GitHub Actions, Kubernetes, OIDC).", properties: { ...page }, route: { method: "GET", path: "/v1/auth/trusts", query: ["limit", "cursor"] } },
  {
    name: "create_exchange_trust", category: "access", title: "Create an exchange trust", kind: "write", grantsAccess: true, description: "Trust an issuer's workload tokens, mapped by claim rules to identities.",
    properties: { name: p.str("unique name"), description: p.str("what it is for"), issuer: p.str("https issuer"), audiences: p.strings("accepted audiences"), jwks_url: p.str("JWKS URL"), jwks: p.obj("inline JWKS"), algorithms: p.strings("RS256, ES256"), default_ttl: p.str("e.g. 15m"), max_ttl: p.str("e.g. 1h"), enabled: p.bool("default true"), rules: { type: "array", items: { type: "object" }, description: "[{conditions, identity_id, scopes, max_ttl, allowed_paths}]" } },
    required: ["name", "issuer", "audiences", "rules"], route: { method: "POST", path: "/v1/auth/trusts" },
  },
  {
    name: "delete_exchange_trust", category: "access", title: "Delete an exchange trust", kind: "destructive", description: "Delete a trust (its tokens are revoked).",
    properties: { trust_id: p.str("trust_…"), ...confirm }, required: ["trust_id"], effect: (args) => `would delete trust ${String(args.trust_id)} and revoke the tokens it issued`, route: { method: "DELETE", path: "/v1/auth/trusts/{trust_id}" },
  },

  { name: "list_tenants", category: "identity", title: "List tenants", kind: "read", description: "Tenants of the caller's partner.", properties: { status: p.str("ACTIVE, SUSPENDED, …"), ...page }, route: { method: "GET", path: "/v1/identity/tenants", query: ["status", "limit", "cursor"] } },
  {
    name: "list_users", category: "identity", title: "List users", kind: "read", description: "Users of a tenant from the identity directory.",
    properties: { tenant_id: p.str("tnt_…"), status: p.str("ACTIVE, …"), q: p.str("email or name contains"), page: p.int("page from 1", { minimum: 1 }), page_size: p.int("≤ 500", { minimum: 1, maximum: 500 }) },
    required: ["tenant_id"], route: { method: "GET", path: "/v1/identity/tenants/{tenant_id}/users", query: ["status", "q", "page", "page_size"] },
  },
  {
    name: "list_groups", category: "identity", title: "List groups", kind: "read", description: "Groups of a tenant from the identity directory.",
    properties: { tenant_id: p.str("tnt_…"), status: p.str("ACTIVE, …"), q: p.str("name contains"), page: p.int("page from 1", { minimum: 1 }), page_size: p.int("≤ 500", { minimum: 1, maximum: 500 }) },
    required: ["tenant_id"], route: { method: "GET", path: "/v1/identity/tenants/{tenant_id}/groups", query: ["status", "q", "page", "page_size"] },
  },
  { name: "resolve_identity", category: "identity", title: "Resolve an identity", kind: "read", description: "An identity's status, groups (transitive) and roles.", properties: { identity_type: p.str("user, service_account or group"), identity_id: p.str("usr_…, an email, a client id or a group name") }, required: ["identity_type", "identity_id"], route: { method: "GET", path: "/v1/identity/resolve/{identity_type}/{identity_id}" } },
  { name: "sync_identities", category: "identity", title: "Sync identities", kind: "write", description: "Re-read the directory from ScaiKey now.", properties: { partner_id: p.str("ptn_…"), tenant_id: p.str("tnt_…") }, route: { method: "POST", path: "/v1/identity/sync", query: ["partner_id", "tenant_id"] } },
  { name: "get_identity_sync_history", category: "identity", title: "Identity sync history", kind: "read", description: "Recent directory syncs and their results.", properties: { status: p.str("completed, failed, …"), limit: p.int("at most this many", { minimum: 1, maximum: 100 }) }, route: { method: "GET", path: "/v1/identity/sync/history", query: ["status", "limit"] } },

  { name: "get_health", category: "system", title: "Vault health", kind: "read", description: "Whether the vault is ready: database, Redis, encryption.", properties: {}, route: { method: "GET", path: "/v1/health/ready" } },
];
