import { globMatcher, globProblem } from "../access/glob.js";
import { scopesAllow, type Scope } from "../access/scopes.js";
import { VaultError, validationError } from "../http/errors.js";
import type { VaultEvent } from "./outbox.js";

/** SPEC §7's event types; `webhook.test` is sent only by the test endpoint. */
export const EVENT_TYPES = [
  "secret.created", "secret.updated", "secret.deleted", "secret.rotated", "secret.expiring", "secret.expired", "secret.accessed",
  "policy.created", "policy.updated", "policy.deleted", "policy.binding.created", "policy.binding.deleted", "policy.violation",
  "rotation.due", "rotation.overdue", "rotation.completed", "rotation.failed",
  "webhook.test",
  // dynamic credentials (spec/dynamic.md D6)
  "lease.created", "lease.renewed", "lease.revoked", "lease.expired", "lease.revoke_failed", "engine.root_rotated",
  // pki (spec/pki.md P6)
  "certificate.issued", "certificate.renewed", "certificate.revoked", "certificate.expiring", "certificate.expired", "certificate.renewal_failed",
  "csr.submitted", "csr.approved", "csr.rejected", "ca.created", "ca.revoked",
  // identity domain (path null)
  "identity.sync.completed", "identity.sync.failed", "identity.disabled", "identity.enabled",
] as const;

/** An event filter is an exact type, a family wildcard (`secret.*`, `policy.binding.*`) or `*`. */
export function requireEventFilters(field: string, filters: readonly string[]): string[] {
  const bad = filters.filter((f) => !(f === "*" || (EVENT_TYPES as readonly string[]).includes(f) || (f.endsWith(".*") && EVENT_TYPES.some((t) => t.startsWith(f.slice(0, -1))))));
  if (bad.length > 0) throw validationError({ [field]: `unknown event type ${bad.map((b) => JSON.stringify(b)).join(", ")}; use one of the catalogue's types, a family such as secret.*, or *` });
  return [...new Set(filters)];
}

/**
 * The scope that lets a subscription or stream owner receive an event about no path (SPEC §7):
 * the event's domain's read scope; `admin` for anything else.
 */
export function domainScopeOf(type: string): Scope {
  const family = type.slice(0, type.indexOf("."));
  switch (family) {
    case "policy":
      return "policies:read";
    case "identity":
      return "identity:read";
    case "certificate":
    case "csr":
    case "ca":
      return "pki:admin";
    case "lease":
    case "engine":
      return "dynamic:manage";
    default:
      return "admin";
  }
}

/** Whether an owner holding `scopes` may receive an event about no path. */
export function mayReceivePathless(scopes: ReadonlySet<string>, type: string): boolean {
  return scopesAllow(scopes, domainScopeOf(type));
}

/** Event types a target receives only when it names them exactly: `secret.*` and `*` leave them out (SPEC §7). */
const EXPLICIT_ONLY = new Set(["secret.accessed"]);

export function eventTypeMatches(filters: readonly string[], type: string): boolean {
  if (EXPLICIT_ONLY.has(type)) return filters.includes(type);
  return filters.some((f) => f === "*" || f === type || (f.endsWith(".*") && type.startsWith(f.slice(0, -1))));
}

/**
 * Characters a subscription's patterns may hold together (a stream's `paths` query is bounded so by its schema). They are matched against
 * every event's path in the fan-out shared by all tenants; 100 patterns of 512 characters made one
 * subscription cost up to 2.5 ms per event even with the automaton (docs/benchmarks.md round 37).
 */
export const MAX_FILTER_PATTERN_CHARS = 4096;

export function requirePathGlobs(field: string, globs: readonly string[], maxTotal?: number): string[] {
  if (maxTotal !== undefined && globs.reduce((sum, glob) => sum + glob.length, 0) > maxTotal) {
    throw validationError({ [field]: `the patterns together must not be longer than ${maxTotal} characters` });
  }
  for (const glob of globs) {
    const problem = globProblem(glob);
    if (problem) throw new VaultError("invalid_glob", `${field}: ${problem.replace("path_pattern", "the pattern")}`, { details: { field, pattern: glob } });
  }
  return [...new Set(globs)];
}

/** SPEC §4's one matcher (the policies' own), so filters and policies agree on every pattern. */
export function pathMatchesAny(patterns: readonly string[], path: string | null): boolean {
  if (path === null) return false;
  return patterns.some((p) => globMatcher(p).test(path));
}

/** URLs are checked for syntax only at creation: the host need not resolve yet (SPEC §7). */
export function requireTargetUrl(field: string, text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw validationError({ [field]: "must be an absolute http or https URL" });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw validationError({ [field]: "must be an http or https URL" });
  if (url.username || url.password) throw validationError({ [field]: "must not carry credentials" });
  return url.toString();
}

export interface WebhookFilters {
  path_prefix?: string;
  secret_type?: string;
  tags?: string[];
}

/** Webhook filters: every one given must match; tags match when the secret carries any of them. */
export function webhookFiltersMatch(filters: WebhookFilters, event: VaultEvent, tagsOf: () => string[] | null): boolean {
  if (filters.path_prefix && !(event.path ?? "").startsWith(filters.path_prefix)) return false;
  if (filters.secret_type && event.data.secret_type !== filters.secret_type) return false;
  if (filters.tags && filters.tags.length > 0) {
    const tags = tagsOf();
    if (!tags || !filters.tags.some((t) => tags.includes(t))) return false;
  }
  return true;
}
