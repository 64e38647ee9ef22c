import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CompiledPolicySet } from "./authorizer.js";
import type { Permission } from "./scopes.js";
import type { Policy } from "./policy-model.js";
import { path, pattern } from "./testing/glob-reference.js";

const PERMISSIONS: Permission[] = ["read", "write", "delete", "list", "rotate", "admin"];
const CONTEXT = { sourceIp: null, mfaVerifiedAt: null, now: Date.now() };

const rule = fc.record({
  path_pattern: pattern,
  permissions: fc.subarray(PERMISSIONS, { minLength: 1 }),
  effect: fc.constantFrom<"allow" | "deny">("allow", "allow", "deny"),
});

const policyOf = (rules: Policy["rules"]): Policy => ({
  id: "pol_x", partnerId: "ptn_x", tenantId: "tnt_x", scope: "tenant", name: "x", description: null, rules, builtin: false, createdAt: 0, updatedAt: 0,
});

/**
 * The ranges a secret list reads (src/secrets/reader.ts listRanges) come from these prefixes: a
 * path the policies allow to be listed outside all of them would never be listed.
 */
describe("grant prefixes: where every granted path begins", () => {
  it("is sound: every path a rule set allows for a permission starts with one of its prefixes", () => {
    fc.assert(
      fc.property(fc.array(rule, { minLength: 1, maxLength: 6 }), fc.array(path, { maxLength: 30 }), fc.constantFrom(...PERMISSIONS), (rules, paths, permission) => {
        const set = new CompiledPolicySet([policyOf(rules)]);
        const prefixes = set.grantPrefixes(permission);
        for (const p of [...paths, ...rules.map((r) => r.path_pattern.replace(/\*\*?|\?/g, "a"))]) {
          if (set.decide(p, permission, CONTEXT).allowed) expect([p, prefixes.some((prefix) => p.startsWith(prefix))]).toEqual([p, true]);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it("names the everyday cases: literal heads, shorter ones absorbing longer, wildcards first, deny and other permissions left out", () => {
    const prefixesOf = (rules: Policy["rules"], permission: Permission) => new CompiledPolicySet([policyOf(rules)]).grantPrefixes(permission);
    expect(prefixesOf([{ path_pattern: "team-a/**", permissions: ["list"] }, { path_pattern: "team-b/db", permissions: ["read", "list"] }], "list")).toEqual(["team-a", "team-b/db"]);
    expect(prefixesOf([{ path_pattern: "app/**", permissions: ["list"] }, { path_pattern: "app/db/*", permissions: ["list"] }], "list")).toEqual(["app"]);
    expect(prefixesOf([{ path_pattern: "app/db-*", permissions: ["admin"] }], "list")).toEqual(["app/db-"]);
    expect(prefixesOf([{ path_pattern: "*/db", permissions: ["list"] }, { path_pattern: "x/**", permissions: ["list"] }], "list")).toEqual([""]);
    expect(prefixesOf([{ path_pattern: "**", permissions: ["list"], effect: "deny" }, { path_pattern: "x/**", permissions: ["read"] }], "list")).toEqual([]);
  });
});
