export const SCOPES = [
  "secrets:read",
  "secrets:write",
  "secrets:delete",
  "secrets:list",
  "secrets:rotate",
  "policies:read",
  "policies:write",
  "audit:read",
  "audit:export",
  "subscriptions:read",
  "subscriptions:write",
  "identity:read",
  "identity:admin",
  // dynamic credentials (spec/dynamic.md D1)
  "dynamic:read",
  "dynamic:manage",
  // resilience: /v1/metrics when SCAIVAULT_METRICS_REQUIRE_TOKEN=true
  "metrics:read",
  // PKI (spec/pki.md P1)
  "pki:admin",
  "pki:issue",
  "admin",
] as const;

export type Scope = (typeof SCOPES)[number];

export const PERMISSIONS = ["read", "write", "delete", "list", "rotate", "admin"] as const;
export type Permission = (typeof PERMISSIONS)[number];

export function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value);
}

/** `admin` satisfies any scope check. */
export function scopesAllow(granted: ReadonlySet<string>, required: Scope): boolean {
  return granted.has("admin") || granted.has(required);
}
