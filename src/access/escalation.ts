import type { Caller } from "../http/context.js";
import { validationError, VaultError } from "../http/errors.js";
import { PERMISSION_BITS, type Authorizer, type CompiledPolicySet, type HeldRule } from "./authorizer.js";
import { globContains, globsIntersect } from "./glob-relations.js";
import type { PolicyRule, RuleConditions } from "./policy-model.js";
import { isPartnerAdmin, type Principal } from "./principal.js";
import { PERMISSIONS, type Permission } from "./scopes.js";

/**
 * No escalation (SPEC §4): nobody grants what they do not hold. Used by policy create, update,
 * bind, unbind and delete, by token issuing, and (identity) by exchange trust rules and personal
 * tokens.
 *
 * "Holds" is decided on the caller's own compiled policy set, the one the evaluator decides with:
 * every (path the granted pattern can match, permission) must be allowed to the caller. Paths
 * cannot be enumerated, so this is decided on the patterns: a granted allow rule is covered for a
 * permission when
 *   - one of the caller's allow rules with that permission contains the granted pattern (every
 *     path it matches is matched by the caller's pattern), and that rule's conditions are all
 *     repeated, identically, in the granted rule (a conditional grant of the caller never covers
 *     an unconditional one; it covers a grant that carries the same condition), and
 *   - none of the caller's deny rules with that permission can match a path the granted pattern
 *     matches (conditional deny rules too: in some context they apply).
 * Each step errs towards refusal (see glob-relations.ts). Granted deny rules need no cover.
 * Partner admins and the bootstrap admin are excepted.
 */

export const BOOTSTRAP_IDENTITY = "system:bootstrap";

/** Who may grant anything: partner (and super) admins and the bootstrap administrator. */
export function isEscalationExempt(principal: Principal): boolean {
  return isPartnerAdmin(principal) || principal.identityId === BOOTSTRAP_IDENTITY;
}

const BIT_NAMES = PERMISSIONS.filter((p) => p !== "admin") as Exclude<Permission, "admin">[];

const canonical = (value: unknown): string => JSON.stringify(value, (_k, v: unknown) => (v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b))) : v));

/** Every condition the caller's rule imposes is imposed, identically, by the granted rule. */
function conditionsImplied(held: RuleConditions | null | undefined, granted: RuleConditions | null | undefined): boolean {
  if (!held) return true;
  for (const [key, value] of Object.entries(held)) {
    if (value === undefined || (key === "require_mfa" && value === false)) continue;
    const other = (granted as Record<string, unknown> | null | undefined)?.[key];
    if (other === undefined || canonical(other) !== canonical(value)) return false;
  }
  return true;
}

export interface Uncovered {
  rule_index: number;
  path_pattern: string;
  permission: Permission;
}

/**
 * How many (held rule, granted pattern) relations one check may compute. A containment or
 * intersection of two long globs costs microseconds to a millisecond, and the check runs on the
 * event loop (inside the write's transaction for updates and bindings): a review's `policies:write`
 * caller holding 10,000 rules sent 1,001 granted rules and held the loop 97 s for a 403. Past the
 * budget the grant is refused as too large to check; exempt callers (partner admins) skip the check.
 */
const RELATION_BUDGET = 50_000;

/** The characters every path a pattern matches starts with: the pattern up to its first wildcard. */
function literalPrefix(pattern: string): string {
  const star = pattern.indexOf("*");
  const question = pattern.indexOf("?");
  const first = star < 0 ? question : question < 0 ? star : Math.min(star, question);
  return first < 0 ? pattern : pattern.slice(0, first);
}

/** The first (rule, permission) of `rules` that `held` does not cover, or null when all are covered. */
export function firstUncovered(held: readonly HeldRule[], rules: readonly PolicyRule[]): Uncovered | null {
  const withPrefix = (r: HeldRule) => ({ ...r, prefix: literalPrefix(r.pattern) });
  const allows = held.filter((r) => !r.deny).map(withPrefix);
  const denies = held.filter((r) => r.deny).map(withPrefix);
  let spent = 0;
  const relation = (compute: () => boolean): boolean => {
    if (++spent > RELATION_BUDGET) {
      throw validationError({ rules: `too many to check against the ${held.length} rules you hold in this tenant; grant fewer per request` });
    }
    return compute();
  };
  for (const [index, rule] of rules.entries()) {
    if (rule.effect === "deny") continue;
    const mask = rule.permissions.reduce((m, p) => m | (PERMISSION_BITS[p] ?? 0), 0);
    const prefix = literalPrefix(rule.path_pattern);
    // A held pattern contains this one only if this one's literal prefix extends the held one's, and
    // two patterns share a path only if one's literal prefix extends the other's: only those held
    // rules are compared, each once, whatever the permissions asked.
    const covering = allows.filter((h) => prefix.startsWith(h.prefix) && conditionsImplied(h.conditions, rule.conditions)).map((h) => ({ h, contains: null as boolean | null }));
    const meeting = denies.filter((h) => prefix.startsWith(h.prefix) || h.prefix.startsWith(prefix)).map((h) => ({ h, meets: null as boolean | null }));
    for (const permission of BIT_NAMES) {
      const bit = PERMISSION_BITS[permission];
      if ((mask & bit) === 0) continue;
      const allowed = covering.some((c) => (c.h.mask & bit) !== 0 && (c.contains ??= relation(() => globContains(c.h.pattern, rule.path_pattern))));
      const denied = meeting.some((m) => (m.h.mask & bit) !== 0 && (m.meets ??= relation(() => globsIntersect(m.h.pattern, rule.path_pattern))));
      if (!allowed || denied) return { rule_index: index, path_pattern: rule.path_pattern, permission };
    }
  }
  return null;
}

/** What a held rule grants, as a policy rule (to ask whether someone else's grants are covered). */
export function asPolicyRule(rule: HeldRule): PolicyRule {
  const permissions = BIT_NAMES.filter((p) => (rule.mask & PERMISSION_BITS[p]) !== 0);
  return { path_pattern: rule.pattern, permissions, effect: rule.deny ? "deny" : "allow", ...(rule.conditions ? { conditions: rule.conditions } : {}) };
}

/** The caller's own compiled policies in the request's tenant (the evaluator's set, from its cache). */
export function callerPolicySet(authorizer: Authorizer, caller: Caller): Promise<CompiledPolicySet> {
  const { principal } = caller;
  return authorizer.compiledFor(principal.partnerId, caller.tenant.tenantId, [principal.identityId, ...principal.groups], Date.now(), "use", principal.accessCounters);
}

export function grantExceedsCaller(uncovered: Uncovered, what: string): VaultError {
  return new VaultError("access_denied", `You cannot ${what}: it grants ${uncovered.permission} on ${uncovered.path_pattern}, which you do not hold`, {
    details: { reason: "grant_exceeds_caller", ...uncovered },
  });
}

/**
 * 403 `access_denied` (`details.reason: "grant_exceeds_caller"`) unless the caller holds every
 * permission `rules` grant. `held` is the caller's set, loaded before any transaction opens (see
 * `callerPolicySet`); null loads it here.
 */
export async function assertGrantsCovered(authorizer: Authorizer, caller: Caller, rules: readonly PolicyRule[], what = "grant this", held?: CompiledPolicySet | null): Promise<void> {
  if (isEscalationExempt(caller.principal)) return;
  const set = held ?? (await callerPolicySet(authorizer, caller));
  const uncovered = firstUncovered(set.held, rules);
  if (uncovered) throw grantExceedsCaller(uncovered, what);
}

/** The same check, synchronous, on a set already loaded (inside a transaction). */
export function assertCoveredBy(caller: Caller, held: CompiledPolicySet | null, rules: readonly PolicyRule[], what: string): void {
  if (isEscalationExempt(caller.principal)) return;
  const uncovered = firstUncovered(held?.held ?? [], rules);
  if (uncovered) throw grantExceedsCaller(uncovered, what);
}

/** Scopes a caller may hand on: its own (`admin` holds every scope). 403 `insufficient_scope` with `details.scopes` = the excess. */
export function assertScopesWithin(callerScopes: ReadonlySet<string>, requested: readonly string[]): void {
  const excess = [...new Set(requested.filter((s) => !callerScopes.has("admin") && !callerScopes.has(s)))];
  if (excess.length > 0) throw new VaultError("insufficient_scope", `You cannot grant scope ${excess[0]}: you do not hold it`, { details: { scopes: excess } });
}
