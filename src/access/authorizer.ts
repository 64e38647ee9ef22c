import { VaultError } from "../http/errors.js";
import type { ErrorCode } from "../http/errors.js";
import { LruMap } from "../shared/lru.js";
import type { Caller } from "../http/context.js";
import { compileConditions, type CompiledConditions, type ConditionContext } from "./conditions.js";
import { globMatcher, type CompiledGlob } from "./glob.js";
import type { Policy, PolicyRule } from "./policy-model.js";
import type { PolicyStore } from "./policy-store.js";
import { ReachLog } from "./reach-log.js";
import type { AccessEpochs } from "./vault-tokens.js";
import type { Permission } from "./scopes.js";

export interface Decision {
  allowed: boolean;
  /** null when allowed; otherwise the 403 code the request gets. */
  code: ErrorCode | null;
  policyId: string | null;
  ruleIndex: number | null;
  failedCondition: string | null;
}

const DENY: Decision = { allowed: false, code: "access_denied", policyId: null, ruleIndex: null, failedCondition: null };

const BITS: Record<Permission, number> = { read: 1, write: 2, delete: 4, list: 8, rotate: 16, admin: 31 };

/** Bit masks of permissions (`admin` = all five). */
export const PERMISSION_BITS = BITS;

/** A rule as the evaluator holds it, for the no-escalation check (escalation.ts). */
export interface HeldRule {
  pattern: string;
  mask: number;
  deny: boolean;
  conditions: PolicyRule["conditions"] | null;
}

interface CompiledRule {
  order: number;
  policyId: string;
  ruleIndex: number;
  glob: CompiledGlob;
  /** A literal every matching path contains: a cheap `includes` before the matcher. */
  needle: string;
  mask: number;
  deny: boolean;
  conditions: CompiledConditions | null;
}

/**
 * The longest literal run of a pattern with the slashes at its ends trimmed: those may vanish when
 * a neighbouring middle double star matches no segment (the pattern a, double star, b matches `a/b`), the rest may not.
 */
export function needleOf(pattern: string): string {
  return pattern
    .split(/[*?]+/)
    .map((piece) => piece.replace(/^\/+|\/+$/g, ""))
    .reduce((longest, piece) => (piece.length > longest.length ? piece : longest), "");
}

interface TrieNode {
  /** Rules whose literal leading segments end here and that have no whole literal segment after them. */
  rules: CompiledRule[];
  /**
   * Rules whose literal leading segments end here, filed under a whole literal segment further on
   * (a rule for the pattern "any/team-1/deeper" with wildcards around team-1 is filed under team-1):
   * any path it matches has that segment here or deeper.
   */
  bySegment: Map<string, CompiledRule[]>;
  children: Map<string, TrieNode>;
}

const newNode = (): TrieNode => ({ rules: [], bySegment: new Map(), children: new Map() });
const isLiteralSegment = (segment: string) => !/[*?]/.test(segment);

/**
 * A caller's policies compiled once: globs to segment matchers, permissions to bit masks, conditions to
 * closures, and rules filed in a trie by their literal leading segments, so a decision only tests
 * the rules whose literal part equals the path's leading segments (a rule for `app/db/x` patterns is looked at for
 * `app/db/x`, never for `billing/x`), whatever the number of rules.
 */
export class CompiledPolicySet {
  private readonly root = newNode();
  readonly ruleCount: number;
  /** Every rule as the decisions use it (deny and conditional ones included), in evaluation order. */
  readonly held: HeldRule[] = [];
  /** grantPrefixes' answers, per permission (a set is compiled once and cached per caller). */
  private readonly prefixes = new Map<Permission, string[]>();

  constructor(policies: readonly Policy[]) {
    let order = 0;
    const seen = new Set<string>();
    for (const policy of policies) {
      // A policy bound both directly and through a group is one policy.
      if (seen.has(policy.id)) continue;
      seen.add(policy.id);
      policy.rules.forEach((rule, ruleIndex) => {
        const compiled: CompiledRule = {
          order: order++,
          policyId: policy.id,
          ruleIndex,
          glob: globMatcher(rule.path_pattern),
          needle: needleOf(rule.path_pattern),
          mask: rule.permissions.reduce((m, p) => m | (BITS[p] ?? 0), 0),
          deny: rule.effect === "deny",
          conditions: compileConditions(rule.conditions),
        };
        const hasConditions = rule.conditions !== undefined && rule.conditions !== null && Object.keys(rule.conditions).length > 0;
        this.held.push({ pattern: rule.path_pattern, mask: compiled.mask, deny: compiled.deny, conditions: hasConditions ? rule.conditions : null });
        let node = this.root;
        const segments = rule.path_pattern.split("/");
        let depth = 0;
        // The last segment stays out of the trie so that the rule is reached for the path itself.
        for (const segment of segments.slice(0, -1)) {
          if (!isLiteralSegment(segment)) break;
          let child = node.children.get(segment);
          if (!child) node.children.set(segment, (child = newNode()));
          node = child;
          depth++;
        }
        // The longest whole literal segment left is the likeliest to be rare among paths.
        const anchor = segments.slice(depth).filter(isLiteralSegment).sort((a, b) => b.length - a.length)[0];
        if (anchor === undefined) node.rules.push(compiled);
        else {
          const filed = node.bySegment.get(anchor);
          if (filed) filed.push(compiled);
          else node.bySegment.set(anchor, [compiled]);
        }
      });
    }
    this.ruleCount = order;
  }

  /**
   * Where every path an allow rule grants `permission` on begins: each such rule's text before its
   * first wildcard, its trailing slashes dropped (a `**` may match no segment), shorter ones absorbing
   * longer ones; `[""]` when a rule starts with a wildcard, `[]` when none grants it. Default deny
   * refuses every path outside them, so a list need not read them. Deny rules and conditions only
   * narrow what is granted: the prefixes stay a superset.
   */
  grantPrefixes(permission: Permission): string[] {
    const known = this.prefixes.get(permission);
    if (known) return known;
    const need = BITS[permission];
    const literal = this.held
      .filter((rule) => !rule.deny && (rule.mask & need) === need)
      .map((rule) => rule.pattern.slice(0, rule.pattern.search(/[*?]|$/)).replace(/\/+$/, ""))
      .sort();
    const minimal = literal.filter((prefix, i) => !literal.slice(0, i).some((shorter) => prefix.startsWith(shorter)));
    this.prefixes.set(permission, minimal);
    return minimal;
  }

  /**
   * Default deny. Allowed when a matching rule grants the permission with its conditions met and
   * no matching deny rule applies; otherwise the first failed condition of a matching allow rule
   * names the code, else `access_denied`.
   */
  decide(path: string, permission: Permission, context: ConditionContext): Decision {
    const need = BITS[permission];
    let allow = null as CompiledRule | null;
    let failed = null as { rule: CompiledRule; code: ErrorCode; condition: string } | null;
    const segments = path.split("/");
    /** Tests one candidate rule; true when a deny rule decides. */
    const consider = (rule: CompiledRule): boolean => {
      if ((rule.mask & need) !== need || !path.includes(rule.needle) || !rule.glob.test(path)) return false;
      const failure = rule.conditions ? rule.conditions(context) : null;
      if (failure) {
        if (!rule.deny && (!failed || rule.order < failed.rule.order)) failed = { rule, code: failure.code, condition: failure.condition };
        return false;
      }
      if (rule.deny) return true;
      if (!allow || rule.order < allow.order) allow = rule;
      return false;
    };
    let node: TrieNode | undefined = this.root;
    for (let depth = 0; node; depth++) {
      for (const rule of node.rules) if (consider(rule)) return { ...DENY, policyId: rule.policyId, ruleIndex: rule.ruleIndex };
      if (node.bySegment.size > 0) {
        for (let i = depth; i < segments.length; i++) {
          for (const rule of node.bySegment.get(segments[i]) ?? []) if (consider(rule)) return { ...DENY, policyId: rule.policyId, ruleIndex: rule.ruleIndex };
        }
      }
      node = depth < segments.length ? node.children.get(segments[depth]) : undefined;
    }
    if (allow) return { allowed: true, code: null, policyId: allow.policyId, ruleIndex: allow.ruleIndex, failedCondition: null };
    if (failed) return { allowed: false, code: failed.code, policyId: failed.rule.policyId, ruleIndex: failed.rule.ruleIndex, failedCondition: failed.condition };
    return DENY;
  }
}

const compiledSets = new WeakMap<readonly Policy[], CompiledPolicySet>();

/** One decision over a list of policies, compiled on first use of that list (benchmarks, dry runs). */
export function evaluate(policies: readonly Policy[], path: string, permission: Permission, context: ConditionContext = { sourceIp: null, mfaVerifiedAt: null, now: Date.now() }): Decision {
  let set = compiledSets.get(policies);
  if (!set) {
    set = new CompiledPolicySet(policies);
    compiledSets.set(policies, set);
  }
  return set.decide(path, permission, context);
}

export type CacheUse = "use" | "read" | "none";

export type Evaluator = (path: string, permission: Permission) => Decision;

interface CacheEntry {
  epoch: number;
  /** The policy counter read before loading: stale once a change reaching its tenant came after it. */
  policies: number;
  partnerId: string;
  tenantId: string;
  /** The earliest binding expiry among the loaded bindings: the entry is stale from then on. */
  validUntil: number;
  set: CompiledPolicySet;
}

const MAX_ENTRIES = 10_000;

/**
 * Policy decisions for requests. Compiled policy sets are cached per (partner, tenant, identity
 * set), tagged with the access counters read before loading. Every request reads the counters
 * (one indexed single-row read, shared with authentication). The access epoch moving (a partner's
 * status in the directory) drops every entry; the policy counter moving means policies or bindings changed
 * somewhere: the node reads which tenants (or partners, for partner-wide policies) those changes
 * reached and drops their entries only. A change made on any node sharing the database applies
 * from the next request, and one tenant's changes cost other tenants nothing.
 */
export class Authorizer {
  private readonly cache = new LruMap<string, CacheEntry>(MAX_ENTRIES);
  private lastEpoch = -1;
  /** Which tenants and partners the policy changes counted so far reached. */
  private readonly changes: ReachLog;

  constructor(private readonly policies: PolicyStore) {
    this.changes = new ReachLog((seq) => policies.policyChangesSince(seq));
  }

  /**
   * `cache`: `use` for requests' own callers; `read` for dry runs now (`POST /v1/policies/test`):
   * they may find a request's entry but add none, as a caller naming made-up identities and groups
   * would fill the cache with sets no request asks for (a review kept ~9 MB per test of a large
   * policy); `none` for dry runs at another time, whose binding expiries must not leak into it.
   */
  async compiledFor(partnerId: string, tenantId: string, identityIds: readonly string[], now = Date.now(), cache: CacheUse = "use", known?: AccessEpochs): Promise<CompiledPolicySet> {
    // Counters read earlier in this same request are as fresh as "the next request" requires.
    const counters = known ?? (await this.policies.epochs());
    // Counters only grow; ones read before the last move (a long-lived caller's) clear nothing.
    if (counters.access > this.lastEpoch) {
      this.cache.clear();
      this.lastEpoch = counters.access;
    }
    if (this.changes.behind(counters.policies)) {
      await this.changes.catchUp(counters.policies, this.cache.size === 0);
      for (const [key, entry] of this.cache) if (this.changedSince(entry)) this.cache.delete(key);
    }
    const key = `${partnerId}\u0000${tenantId}\u0000${[...new Set(identityIds)].sort().join("\u0000")}`;
    const hit = cache === "none" ? undefined : this.cache.get(key);
    if (hit && hit.epoch === counters.access && now < hit.validUntil && !this.changedSince(hit)) return hit.set;
    const bound = await this.policies.boundPolicies(partnerId, tenantId, identityIds, now);
    const validUntil = bound.reduce((min, b) => (b.binding.expiresAt !== null && b.binding.expiresAt < min ? b.binding.expiresAt : min), Number.POSITIVE_INFINITY);
    const set = new CompiledPolicySet(bound.map((b) => b.policy));
    if (cache !== "use") return set;
    this.cache.set(key, { epoch: counters.access, policies: counters.policies, partnerId, tenantId, validUntil, set });
    return set;
  }

  /** A change reaching the entry's tenant or partner committed after the counter it was loaded under. */
  private changedSince(entry: CacheEntry): boolean {
    return this.changes.changedAfter(entry.policies, `t:${entry.tenantId}`, `p:${entry.partnerId}`);
  }

  /**
   * Loads the caller's compiled policies once; the returned evaluator answers any number of paths
   * with the request's source IP, MFA time and the time of the call.
   */
  async forCaller(caller: Caller, now = Date.now()): Promise<Evaluator> {
    const { principal } = caller;
    const set = await this.setFor(caller, now);
    const context: ConditionContext = { sourceIp: caller.ctx.sourceIp, mfaVerifiedAt: principal.mfaVerifiedAt, now };
    // Exchanged tokens (spec/identity.md §4): a path outside any of their allowed_paths lists is denied whatever the policies say.
    const limits = principal.allowedPaths;
    if (limits && limits.length > 0) return (path, permission) => (limits.every((globs) => globs.some((g) => globMatcher(g).test(path))) ? set.decide(path, permission, context) : DENY);
    return (path, permission) => set.decide(path, permission, context);
  }

  /** The caller's CompiledPolicySet.grantPrefixes (from the same cached set forCaller uses). */
  async grantPrefixes(caller: Caller, permission: Permission): Promise<string[]> {
    return (await this.setFor(caller, Date.now())).grantPrefixes(permission);
  }

  /** The caller's compiled policies: its identity's and groups' in its tenant, at the counters its authentication read. */
  private setFor(caller: Caller, now: number): Promise<CompiledPolicySet> {
    const { principal } = caller;
    return this.compiledFor(principal.partnerId, caller.tenant.tenantId, [principal.identityId, ...principal.groups], now, "use", principal.accessCounters);
  }

  async decide(caller: Caller, path: string, permission: Permission): Promise<Decision> {
    return (await this.forCaller(caller))(path, permission);
  }

  async require(caller: Caller, path: string, permission: Permission): Promise<void> {
    const decision = await this.decide(caller, path, permission);
    if (!decision.allowed) throw denial(decision, permission);
  }
}

export function denial(decision: Decision, permission: Permission): VaultError {
  const code = decision.code ?? "access_denied";
  const details: Record<string, unknown> = { permission };
  if (decision.failedCondition) details.failed_condition = decision.failedCondition;
  return new VaultError(code, code === "access_denied" ? `No policy permits ${permission} on this path` : `A policy condition was not met: ${decision.failedCondition}`, { details });
}
