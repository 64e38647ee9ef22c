/**
 * Rate-limit categories and their per-minute defaults (SPEC §8, the docs' rate-limiting page).
 * Routes name their bucket in `config.category`; routes that do not are mapped by URL prefix here,
 * so a new domain's endpoints are limited from the day they appear.
 */
export const DEFAULT_RATE_LIMITS: Readonly<Record<string, number>> = {
  read: 1000,
  write: 100,
  delete: 100,
  list: 100,
  batch_read: 100,
  batch_metadata: 100,
  audit_query: 50,
  audit_export: 5,
  policy: 50,
  policy_test: 200,
  webhook: 20,
  subscription: 20,
  subscription_poll: 240,
  identity_read: 100,
  identity_sync: 5,
  auth: 300,
  rotation: 50,
  // dynamic credentials (spec/dynamic.md D1)
  dynamic_generate: 100,
  dynamic_admin: 20,
  lease: 100,
  // pki (spec/pki.md P1): issue, sign and CSR submit; ACME orders; everything else under /v1/pki
  pki_issue: 50,
  acme_order: 30,
  pki_admin: 20,
  /** identity domain: POST /v1/auth/exchange, per source IP (no bearer to charge). */
  exchange: 300,
  /** Any route no table entry covers. */
  default: 100,
  /** Requests that fail authentication, per source IP (there is no identity to charge). */
  auth_failure: 100,
  /** resilience: unauthenticated public routes (`config.publicRate`), per source IP (IPv6 per /64). */
  public: 600,
};

// First match wins: the more specific prefixes come first.
const PREFIX_CATEGORIES: ReadonlyArray<readonly [RegExp, string]> = [
  [/^\/v1\/policies\/test(?:[/?]|$)/, "policy_test"],
  [/^\/v1\/policies(?:[/?]|$)/, "policy"],
  [/^\/v1\/secret-policies(?:[/?]|$)/, "policy"],
  [/^\/v1\/audit\/exports?(?:[/?]|$)/, "audit_export"],
  [/^\/v1\/audit(?:[/?]|$)/, "audit_query"],
  [/^\/v1\/webhooks(?:[/?]|$)/, "webhook"],
  [/^\/v1\/subscriptions\/[^/?]+\/(?:poll|ack)(?:[/?]|$)/, "subscription_poll"],
  [/^\/v1\/events(?:[/?]|$)/, "subscription_poll"],
  [/^\/v1\/subscriptions(?:[/?]|$)/, "subscription"],
  [/^\/v1\/identity\/sync(?:[/?]|$)/, "identity_sync"],
  [/^\/v1\/identit(?:y|ies)(?:[/?]|$)/, "identity_read"],
  [/^\/v1\/auth(?:[/?]|$)/, "auth"],
  [/^\/v1\/rotation(?:[/?]|$)/, "rotation"],
  [/^\/v1\/secrets\/[^?]*\/rotate(?:\?|$)/, "rotation"],
  // pki: routes name their own category; these catch any that do not
  [/^\/v1\/pki\/(?:issue|sign)(?:[/?]|$)/, "pki_issue"],
  [/^\/v1\/pki\/acme\/orders(?:[/?]|$)/, "acme_order"],
  [/^\/v1\/(?:pki|dns)(?:[/?]|$)/, "pki_admin"],
];

// Names routes use for a documented category.
const ALIASES: Readonly<Record<string, string>> = { policies: "policy", identity: "identity_read", admin: "auth", tokens: "auth" };

/** The category of a request: the route's own, else the URL prefix table, else `default`. */
export function categoryOf(routeCategory: string | undefined, url: string): string {
  if (routeCategory) return ALIASES[routeCategory] ?? routeCategory;
  for (const [pattern, category] of PREFIX_CATEGORIES) if (pattern.test(url)) return category;
  return "default";
}

/** Per-minute limit for a category: `RATE_LIMIT_<CATEGORY>` wins over the documented default. */
export function limitFor(category: string, overrides: Readonly<Record<string, number>>): number {
  return overrides[category] ?? DEFAULT_RATE_LIMITS[category] ?? overrides.default ?? DEFAULT_RATE_LIMITS.default;
}
