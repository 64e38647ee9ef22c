import { expect, it } from "vitest";
import fc from "fast-check";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import type { PolicyRule } from "./policy-model.js";
import { instance, pattern } from "./testing/glob-reference.js";

const PERMS = ["read", "write", "delete", "list", "rotate", "admin"] as const;
const FIVE = ["read", "write", "delete", "list", "rotate"];
const ruleArb: fc.Arbitrary<PolicyRule> = fc
  .record({ path_pattern: pattern, permissions: fc.subarray([...PERMS], { minLength: 1, maxLength: 2 }), effect: fc.constantFrom<"allow" | "deny">("allow", "allow", "allow", "deny"), mfa: fc.boolean() })
  .map(({ mfa, ...rule }) => (mfa ? { ...rule, conditions: { require_mfa: true } } : rule));
const validPath = (p: string) => p !== "" && !p.split("/").some((s) => s === "" || s === "." || s === "..");

describeEachBackend("access: no escalation, property over HTTP (issue 13 must-show)", (backend) => {
  const vault = useVault(backend);

  it("whenever a policy create, update (PUT, PATCH), bind or token issue is accepted, the evaluator allows the caller every (path, permission) it grants", { timeout: 600_000 }, async () => {
    const { admin, anonymous } = vault();
    let run = 0;
    let accepted = 0;
    /** Every (path, permission) the rules grant is allowed to `identity` by POST /v1/policies/test. */
    const assertHeld = async (identity: string, rules: PolicyRule[], seed: number) => {
      for (const rule of rules.filter((r) => r.effect !== "deny")) {
        const paths = fc.sample(instance(rule.path_pattern), { numRuns: 3, seed }).filter(validPath);
        for (const path of paths) for (const permission of rule.permissions.includes("admin") ? FIVE : rule.permissions) {
          const decision = await admin.post("/v1/policies/test", { identity_id: identity, path, permission, context: { mfa_verified: Boolean(rule.conditions?.require_mfa) } });
          expect(decision.status).toBe(200);
          expect([rule, path, permission, decision.body.allowed]).toEqual([rule, path, permission, true]);
        }
      }
    };
    await fc.assert(
      fc.asyncProperty(fc.array(ruleArb, { minLength: 1, maxLength: 3 }), fc.array(ruleArb, { minLength: 1, maxLength: 2 }), fc.integer({ min: 0, max: 1 << 30 }), async (held, granted, seed) => {
        run++;
        const caller = `user:caller-${run}`;
        const own = await admin.post("/v1/policies", { name: `held-${run}`, rules: held });
        expect(own.status).toBe(201);
        expect((await admin.post(`/v1/policies/${own.body.id}/bindings`, { identity_type: "user", identity_id: caller })).status).toBe(201);
        const token = await admin.post("/v1/auth/tokens", { identity_id: caller, scopes: ["admin"] });
        expect(token.status).toBe(201);
        const client = anonymous.withToken(token.body.token);

        const created = await client.post("/v1/policies", { name: `granted-${run}`, rules: granted });
        expect([201, 403]).toContain(created.status);
        if (created.status !== 201) expect(created.body.error.details.reason).toBe("grant_exceeds_caller");
        if (created.status === 201) {
          accepted++;
          await assertHeld(caller, granted, seed);
        }
        // Granting exactly what one holds is always accepted when nothing of one's own is denied.
        const echo = held.filter((r) => r.effect !== "deny");
        if (echo.length === held.length) {
          const same = await client.post("/v1/policies", { name: `echo-${run}`, rules: echo });
          expect(same.status).toBe(201);
          accepted++;
          await assertHeld(caller, echo, seed);
        }
        // Update: the caller's own harmless policy (deny rules need no cover), rewritten to the grants by PUT and by PATCH.
        const base = await client.post("/v1/policies", { name: `base-${run}`, rules: [{ path_pattern: "nothing/here", permissions: ["read"], effect: "deny" }] });
        expect(base.status).toBe(201);
        const put = await client.put(`/v1/policies/${base.body.id}`, { name: `base-${run}`, rules: granted });
        const patched = await client.patch(`/v1/policies/${base.body.id}`, { rules: granted });
        for (const answer of [put, patched]) {
          expect([200, 403]).toContain(answer.status);
          if (answer.status === 200) await assertHeld(caller, granted, seed);
          else expect(answer.body.error.details.reason).toBe("grant_exceeds_caller");
        }
        // PUT and PATCH decide the same rules alike, and as create did.
        expect(patched.status === 200).toBe(put.status === 200);
        expect(put.status === 200).toBe(created.status === 201);
        // Bind: a policy the admin made, bound by the caller to someone else.
        const made = await admin.post("/v1/policies", { name: `made-${run}`, rules: granted });
        const bound = await client.post(`/v1/policies/${made.body.id}/bindings`, { identity_type: "user", identity_id: `user:target-${run}` });
        expect([201, 403]).toContain(bound.status);
        if (bound.status === 201) await assertHeld(caller, granted, seed);
        // Token issue for an identity the admin bound to those grants.
        expect((await admin.post(`/v1/policies/${made.body.id}/bindings`, { identity_type: "service_account", identity_id: `sa:target-${run}` })).status).toBe(201);
        const issued = await client.post("/v1/auth/tokens", { identity_id: `sa:target-${run}`, scopes: ["secrets:read"] });
        expect([201, 403]).toContain(issued.status);
        if (issued.status === 201) await assertHeld(caller, granted, seed);
      }),
      { numRuns: 12 },
    );
    expect(run).toBe(12);
    // Not vacuous: some grants were accepted (an echo of one's own rules always is).
    expect(accepted).toBeGreaterThan(0);
    console.info(`escalation property [${backend}]: ${accepted} of ${run * 2} creates accepted`);
  });
});
