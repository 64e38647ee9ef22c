import { VaultError } from "../http/errors.js";
import type { ErrorCode } from "../http/errors.js";
import type { Caller } from "../http/context.js";
import { compileConditions, type CompiledConditions, type ConditionContext } from "./conditions.js";
import { compileGlob } from "./glob.js";
import type { Policy } from "./policy-model.js";
import type { PolicyStore } from "./policy-store.js";
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

const globCache = new Map<string, RegExp>();
function matcher(pattern: string): RegExp {
  let compiled = globCache.get(pattern);
  if (!compiled) {
    compiled = compileGlob(pattern);
    if (globCache.size > 100_000) globCache.clear();
    globCache.set(pattern, compiled);
  }
  return compiled;
}

interface CompiledRule {
  order: number;
  policyId: string;
  ruleIndex: number;
  regex: RegExp;
  mask: number;
  deny: boolean;
  conditions: CompiledConditions | null;
}

/**
 * A caller's policies compiled once: globs to RegExps, permissions to bit masks, conditions to
 * closures, and rules indexed by their literal first segment so a decision only looks at rules
 * that can match the path (plus the few whose first segment is a wildcard).
 */
export class CompiledPolicySet {
  private readonly byFirst = new Map<string, CompiledRule[]>();
  private readonly wildFirst: CompiledRule[] = [];
  readonly ruleCount: number;

  constructor(policies: readonly Policy[]) {
    let order = 0;
    const seen = new Set<string>();
    for (const policy of policies) {
      // A policy bound both directly and through a group is one policy.
      if (seen.has(policy.id)) continue;
      seen.add(policy.id);
      policy.rules.forEach((rule, ruleIndex) => {
        const mask = rule.permissions.reduce((m, p) => m | (BITS[p] ?? 0), 0);
        const compiled: CompiledRule = {
          order: order++,
          policyId: policy.id,
          ruleIndex,
          regex: matcher(rule.path_pattern),
          mask,
          deny: rule.effect === "deny",
          conditions: compileConditions(rule.conditions),
        };
        const first = rule.path_pattern.split("/", 1)[0];
        if (/[*?]/.test(first)) this.wildFirst.push(compiled);
        else {
          const list = this.byFirst.get(first);
          if (list) list.push(compiled);
          else this.byFirst.set(first, [compiled]);
        }
      });
    }
    this.ruleCount = order;
  }

  /**
   * Default deny. Allowed when a matching rule grants the permission with its conditions met and
   * no matching deny rule applies; otherwise the first failed condition of a matching allow rule
   * names the code, else `access_denied`.
   */
  decide(path: string, permission: Permission, context: ConditionContext): Decision {
    const need = BITS[permission];
    const slash = path.indexOf("/");
    const first = slash < 0 ? path : path.slice(0, slash);
    let allow: CompiledRule | null = null;
    let failed: { rule: CompiledRule; code: ErrorCode; condition: string } | null = null;
    const visit = (rules: readonly CompiledRule[] | undefined): CompiledRule | null => {
      if (!rules) return null;
      for (const rule of rules) {
        if ((rule.mask & need) !== need || !rule.regex.test(path)) continue;
        const failure = rule.conditions ? rule.conditions(context) : null;
        if (failure) {
          if (!rule.deny && (!failed || rule.order < failed.rule.order)) failed = { rule, code: failure.code, condition: failure.condition };
          continue;
        }
        if (rule.deny) return rule;
        if (!allow || rule.order < allow.order) allow = rule;
      }
      return null;
    };
    const denied = visit(this.byFirst.get(first)) ?? visit(this.wildFirst);
    if (denied) return { ...DENY, policyId: denied.policyId, ruleIndex: denied.ruleIndex };
    const granted = allow as CompiledRule | null;
    if (granted) return { allowed: true, code: null, policyId: granted.policyId, ruleIndex: granted.ruleIndex, failedCondition: null };
    const failure = failed as { rule: CompiledRule; code: ErrorCode; condition: string } | null;
    if (failure) return { allowed: false, code: failure.code, policyId: failure.rule.policyId, ruleIndex: failure.rule.ruleIndex, failedCondition: failure.condition };
    return DENY;
  }
}

export type Evaluator = (path: string, permission: Permission) => Decision;

interface CacheEntry {
  epoch: number;
  /** The earliest binding expiry among the loaded bindings: the entry is stale from then on. */
  validUntil: number;
  set: CompiledPolicySet;
}

const MAX_ENTRIES = 10_000;

/**
 * Policy decisions for requests. Compiled policy sets are cached per (partner, tenant, identity
 * set) and tagged with the access epoch read before loading; every request reads the epoch (one
 * indexed single-row read) and uses an entry only when its tag is current, so a policy or binding
 * change made on any node sharing the database applies from the next request.
 */
export class Authorizer {
  private readonly cache = new Map<string, CacheEntry>();
  private lastEpoch = -1;

  constructor(private readonly policies: PolicyStore) {}

  /** `cache: false` for dry runs at another time, whose binding expiries must not leak into the cache. */
  async compiledFor(partnerId: string, tenantId: string, identityIds: readonly string[], now = Date.now(), cache = true): Promise<CompiledPolicySet> {
    const epoch = await this.policies.epoch();
    if (epoch !== this.lastEpoch) {
      this.cache.clear();
      this.lastEpoch = epoch;
    }
    const key = `${partnerId}\u0000${tenantId}\u0000${[...new Set(identityIds)].sort().join("\u0000")}`;
    const hit = cache ? this.cache.get(key) : undefined;
    if (hit && hit.epoch === epoch && now < hit.validUntil) return hit.set;
    const bound = await this.policies.boundPolicies(partnerId, tenantId, identityIds, now);
    const validUntil = bound.reduce((min, b) => (b.binding.expiresAt !== null && b.binding.expiresAt < min ? b.binding.expiresAt : min), Number.POSITIVE_INFINITY);
    const set = new CompiledPolicySet(bound.map((b) => b.policy));
    if (!cache) return set;
    if (this.cache.size >= MAX_ENTRIES) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(key, { epoch, validUntil, set });
    return set;
  }

  /**
   * Loads the caller's compiled policies once; the returned evaluator answers any number of paths
   * with the request's source IP, MFA time and the time of the call.
   */
  async forCaller(caller: Caller, now = Date.now()): Promise<Evaluator> {
    const { principal } = caller;
    const set = await this.compiledFor(principal.partnerId, caller.tenant.tenantId, [principal.identityId, ...principal.groups], now);
    const context: ConditionContext = { sourceIp: caller.ctx.sourceIp, mfaVerifiedAt: principal.mfaVerifiedAt, now };
    return (path, permission) => set.decide(path, permission, context);
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
