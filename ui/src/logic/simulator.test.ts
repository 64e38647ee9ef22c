import { describe, expect, it } from "vitest";
import { debounce, describe as describeResult, latestOnly, testBody, type Timers } from "./simulator";

/** Timers driven by hand: no waiting in tests. */
function manualTimers() {
  let next = 1;
  const pending = new Map<number, () => void>();
  const timers: Timers = {
    set: (fn) => {
      const id = next++;
      pending.set(id, fn);
      return id;
    },
    clear: (id) => void pending.delete(id as number),
  };
  return { timers, fire: () => [...pending.entries()].forEach(([id, fn]) => (pending.delete(id), fn())), count: () => pending.size };
}

describe("console policy simulator", () => {
  it("asks nothing until identity and path are set; builds the context", () => {
    const base = { identity_id: "", path: "", permission: "read", source_ip: "", mfa_verified: false, timestamp: "" };
    expect(testBody(base)).toBeNull();
    expect(testBody({ ...base, identity_id: "sa:x" })).toBeNull();
    expect(testBody({ ...base, identity_id: " sa:x ", path: "a/b", source_ip: "10.0.0.1", mfa_verified: true, timestamp: "2026-01-02T03:04" })).toEqual({
      identity_id: "sa:x",
      path: "a/b",
      permission: "read",
      context: { mfa_verified: true, source_ip: "10.0.0.1", timestamp: new Date("2026-01-02T03:04").toISOString() },
    });
  });

  it("debounces: only the last call of a burst runs, once", () => {
    const { timers, fire, count } = manualTimers();
    const calls: string[] = [];
    const run = debounce((value: string) => calls.push(value), 300, timers);
    run("a");
    run("ab");
    run("abc");
    expect(count()).toBe(1);
    expect(calls).toEqual([]);
    fire();
    expect(calls).toEqual(["abc"]);
    run("x");
    run.cancel();
    fire();
    expect(calls).toEqual(["abc"]);
  });

  it("drops an answer that arrives after a newer request", () => {
    const ticket = latestOnly();
    const first = ticket();
    const second = ticket();
    const applied: string[] = [];
    second(() => applied.push("second"));
    first(() => applied.push("first"));
    expect(applied).toEqual(["second"]);
  });

  it("describes allowed and denied results with the policy, rule and failed condition", () => {
    expect(describeResult({ allowed: true, code: null, policy_id: "pol_1", rule_index: 0, failed_condition: null })).toBe("Allowed by pol_1, rule 0");
    expect(describeResult({ allowed: false, code: "ip_not_allowed", policy_id: "pol_2", rule_index: 1, failed_condition: "ip_ranges" })).toBe("Denied: ip_not_allowed, policy pol_2, rule 1, failed condition ip_ranges");
    expect(describeResult({ allowed: false, code: "access_denied", policy_id: null, rule_index: null, failed_condition: null })).toBe("Denied: access_denied");
  });
});
