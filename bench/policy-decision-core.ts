import { evaluate } from "../src/access/authorizer.js";
import type { Policy } from "../src/access/policy-model.js";

function policiesWith(rules: number): Policy[] {
  const now = Date.now();
  // Unrelated rules first, the matching one last: the evaluator must look at every rule.
  const ruleList = Array.from({ length: rules - 1 }, (_, i) => ({ path_pattern: `teams/team-${i}/**/db-*`, permissions: ["read" as const] }));
  ruleList.push({ path_pattern: "bench/**", permissions: ["read" as const] });
  return [{ id: "pol_bench", partnerId: "ptn", tenantId: "tnt", scope: "tenant", name: "bench", description: null, rules: ruleList, builtin: false, createdAt: now, updatedAt: now }];
}

/** Microseconds per decision, median of several timed batches, after warm-up. */
export function measurePolicyDecisions(sizes: number[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const size of sizes) {
    const policies = policiesWith(size);
    const iterations = Math.max(200, Math.floor(2_000_000 / size));
    for (let i = 0; i < iterations; i++) evaluate(policies, "bench/app/secret", "read");
    const samples: number[] = [];
    for (let batch = 0; batch < 7; batch++) {
      const start = process.hrtime.bigint();
      for (let i = 0; i < iterations; i++) {
        if (!evaluate(policies, "bench/app/secret", "read").allowed) throw new Error("expected allow");
      }
      samples.push(Number(process.hrtime.bigint() - start) / 1000 / iterations);
    }
    samples.sort((a, b) => a - b);
    out[String(size)] = samples[3];
  }
  return out;
}
