import { VaultError } from "../http/errors.js";
import type { ErrorCode } from "../http/errors.js";
import { compileGlob } from "./glob.js";
import type { Policy, PolicyRule } from "./policy-model.js";
import type { PolicyStore } from "./policy-store.js";
import type { Caller } from "../http/context.js";
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

const globCache = new Map<string, RegExp>();
function matcher(pattern: string): RegExp {
  let compiled = globCache.get(pattern);
  if (!compiled) {
    compiled = compileGlob(pattern);
    if (globCache.size > 50_000) globCache.clear();
    globCache.set(pattern, compiled);
  }
  return compiled;
}

function grants(rule: PolicyRule, permission: Permission): boolean {
  return rule.permissions.includes("admin") || rule.permissions.includes(permission);
}

export type Evaluator = (path: string, permission: Permission) => Decision;

/**
 * Default deny: a request on a secret path is allowed when a rule bound to the caller (directly or
 * through a group) matches the path and grants the permission, and no matching deny rule exists.
 */
export function evaluate(policies: readonly Policy[], path: string, permission: Permission): Decision {
  let allow: Decision | null = null;
  for (const policy of policies) {
    for (const [index, rule] of policy.rules.entries()) {
      if (!grants(rule, permission) || !matcher(rule.path_pattern).test(path)) continue;
      if (rule.effect === "deny") return { ...DENY, policyId: policy.id, ruleIndex: index };
      allow ??= { allowed: true, code: null, policyId: policy.id, ruleIndex: index, failedCondition: null };
    }
  }
  return allow ?? DENY;
}

export class Authorizer {
  constructor(private readonly policies: PolicyStore) {}

  /**
   * Loads the caller's policies once; the returned evaluator answers any number of paths. The
   * caller carries what conditions need (source IP, MFA time) besides the identity and tenant.
   */
  async forCaller(caller: Caller, now = Date.now()): Promise<Evaluator> {
    const { principal } = caller;
    const identities = [principal.identityId, ...principal.groups];
    const bound = await this.policies.boundPolicies(principal.partnerId, caller.tenant.tenantId, identities, now);
    const policies = bound.map((b) => b.policy);
    return (path, permission) => evaluate(policies, path, permission);
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
  return new VaultError(code, code === "access_denied" ? `No policy permits ${permission} on this path` : "A policy condition was not met", { details });
}
