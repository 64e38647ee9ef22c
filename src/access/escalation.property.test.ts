import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { CompiledPolicySet, PERMISSION_BITS, type HeldRule } from "./authorizer.js";
import { globContains, globsIntersect } from "./glob-relations.js";
import { asPolicyRule, assertScopesWithin, firstUncovered } from "./escalation.js";
import type { Policy, PolicyRule } from "./policy-model.js";
import type { Permission } from "./scopes.js";
import { instance, pattern } from "./testing/glob-reference.js";

const PERMS: Permission[] = ["read", "write", "delete", "list", "rotate", "admin"];
const FIVE: Permission[] = ["read", "write", "delete", "list", "rotate"];

const ruleArb: fc.Arbitrary<PolicyRule> = fc.record({
  path_pattern: pattern,
  permissions: fc.subarray(PERMS, { minLength: 1, maxLength: 3 }),
  effect: fc.constantFrom<"allow" | "deny">("allow", "allow", "allow", "deny"),
  mfa: fc.boolean(),
}).map(({ mfa, ...rule }) => (mfa ? { ...rule, conditions: { require_mfa: true } } : rule));

const policyOf = (rules: PolicyRule[]): Policy => ({ id: "pol_c", partnerId: "ptn_x", tenantId: "tnt_x", scope: "tenant", name: "c", description: null, builtin: false, createdAt: 0, updatedAt: 0, rules });
const validPath = (p: string) => p !== "" && !p.split("/").some((s) => s === "" || s === "." || s === "..");

describe("no escalation: the cover rule against the evaluator", () => {
  it("whenever a grant is accepted, every (path, permission) it grants is allowed to the caller by the evaluator", () => {
    let accepted = 0;
    fc.assert(
      fc.property(fc.array(ruleArb, { minLength: 1, maxLength: 4 }), fc.array(ruleArb, { minLength: 1, maxLength: 2 }), fc.integer({ min: 0, max: 1 << 30 }), (callerRules, granted, seed) => {
        const caller = new CompiledPolicySet([policyOf(callerRules)]);
        if (firstUncovered(caller.held, granted) !== null) return;
        accepted++;
        for (const rule of granted.filter((r) => r.effect !== "deny")) {
          // An unconditional grant must be allowed in any context, so check it without MFA.
          const context = { sourceIp: null, mfaVerifiedAt: rule.conditions?.require_mfa ? Date.now() : null, now: Date.now() };
          const paths = fc.sample(instance(rule.path_pattern), { numRuns: 10, seed }).filter(validPath);
          const perms = rule.permissions.includes("admin") ? FIVE : rule.permissions;
          for (const path of paths) for (const permission of perms) {
            expect([rule, path, permission, caller.decide(path, permission, context).allowed]).toEqual([rule, path, permission, true]);
          }
        }
      }),
      { numRuns: 4000 },
    );
    // The property says something only if grants were accepted, and refused too.
    expect(accepted).toBeGreaterThan(100);
  });

  it("covers what the caller holds and refuses more, conditions, deny overlaps and admin widening", () => {
    const held = new CompiledPolicySet([policyOf([
      { path_pattern: "app/**", permissions: ["read", "list"] },
      { path_pattern: "mfa/**", permissions: ["read"], conditions: { require_mfa: true } },
      { path_pattern: "app/secret/*", permissions: ["read"], effect: "deny" },
    ])]).held;
    const ok = (rules: PolicyRule[]) => firstUncovered(held, rules);
    expect(ok([{ path_pattern: "app/db/*", permissions: ["read", "list"] }])).toBeNull();
    expect(ok([{ path_pattern: "**", permissions: ["admin"], effect: "deny" }])).toBeNull();
    expect(ok([{ path_pattern: "app/db/*", permissions: ["write"] }])).toMatchObject({ permission: "write" });
    expect(ok([{ path_pattern: "app/db/*", permissions: ["admin"] }])).toMatchObject({ permission: "write" });
    expect(ok([{ path_pattern: "**", permissions: ["read"] }])).toMatchObject({ rule_index: 0, path_pattern: "**" });
    expect(ok([{ path_pattern: "app", permissions: ["read"] }])).not.toBeNull();
    expect(ok([{ path_pattern: "app/**", permissions: ["read"] }])).toMatchObject({ permission: "read" });
    expect(ok([{ path_pattern: "app/**", permissions: ["list"] }])).toBeNull();
    expect(ok([{ path_pattern: "mfa/x", permissions: ["read"] }])).not.toBeNull();
    expect(ok([{ path_pattern: "mfa/x", permissions: ["read"], conditions: { require_mfa: true } }])).toBeNull();
    expect(ok([{ path_pattern: "mfa/x", permissions: ["read"], conditions: { require_mfa: true, ip_ranges: ["10.0.0.0/8"] } }])).toBeNull();
    expect(asPolicyRule(new CompiledPolicySet([policyOf([{ path_pattern: "a/*", permissions: ["admin"] }])]).held[0])).toEqual({ path_pattern: "a/*", permissions: FIVE, effect: "allow" });
  });

  it("skipping held rules by literal prefix and comparing each pair once changes no answer", () => {
    // The plain algorithm: every held rule, every permission, every relation computed again.
    const plain = (held: HeldRule[], rules: PolicyRule[]) => {
      for (const [index, rule] of rules.entries()) {
        if (rule.effect === "deny") continue;
        const mask = rule.permissions.reduce((m, p) => m | (PERMISSION_BITS[p] ?? 0), 0);
        for (const permission of FIVE) {
          const bit = PERMISSION_BITS[permission];
          if ((mask & bit) === 0) continue;
          const implied = (h: HeldRule) => !h.conditions?.require_mfa || rule.conditions?.require_mfa === true;
          const allowed = held.some((h) => !h.deny && (h.mask & bit) !== 0 && implied(h) && globContains(h.pattern, rule.path_pattern));
          const denied = held.some((h) => h.deny && (h.mask & bit) !== 0 && globsIntersect(h.pattern, rule.path_pattern));
          if (!allowed || denied) return { rule_index: index, path_pattern: rule.path_pattern, permission };
        }
      }
      return null;
    };
    fc.assert(
      fc.property(fc.array(ruleArb, { minLength: 1, maxLength: 6 }), fc.array(ruleArb, { minLength: 1, maxLength: 3 }), (callerRules, granted) => {
        const held = new CompiledPolicySet([policyOf(callerRules)]).held;
        expect(firstUncovered(held, granted)).toEqual(plain([...held], granted));
      }),
      { numRuns: 3000 },
    );
  });

  it("refuses a grant too large to check against what the caller holds, rather than holding the node", () => {
    // Patterns without a literal prefix are compared with every granted one: 1,000 × 51 relations.
    const held = new CompiledPolicySet([policyOf(Array.from({ length: 1_000 }, (_, i) => ({ path_pattern: `*/r${i}/**`, permissions: ["read"] as Permission[] })))]).held;
    const granted = (n: number) => Array.from({ length: n }, (_, j) => ({ path_pattern: `a/r999/x${j}`, permissions: ["read"] as Permission[] }));
    expect(firstUncovered(held, granted(49))).toBeNull();
    expect(() => firstUncovered(held, granted(51))).toThrow(expect.objectContaining({ code: "validation_error", details: { fields: { rules: "too many to check against the 1000 rules you hold in this tenant; grant fewer per request" } } }));
  });

  it("scopes: only those the caller holds (admin holds all); the excess is named", () => {
    expect(() => assertScopesWithin(new Set(["admin"]), ["secrets:read", "admin"])).not.toThrow();
    expect(() => assertScopesWithin(new Set(["secrets:read"]), ["secrets:read"])).not.toThrow();
    try {
      assertScopesWithin(new Set(["secrets:read"]), ["secrets:read", "secrets:write", "admin"]);
      expect.unreachable();
    } catch (error) {
      expect(error).toMatchObject({ code: "insufficient_scope", details: { scopes: ["secrets:write", "admin"] } });
    }
  });
});
