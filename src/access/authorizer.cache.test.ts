import { describe, expect, it } from "vitest";
import { Authorizer } from "./authorizer.js";
import type { Binding, Policy } from "./policy-model.js";
import type { BoundPolicy, PolicyStore } from "./policy-store.js";
import type { AccessEpochs } from "./vault-tokens.js";

/** One policy granting `read` on `pattern`, bound to the identity asked for. */
function grant(pattern: string): BoundPolicy {
  const policy: Policy = { id: "pol_1", partnerId: "p", tenantId: "t", scope: "tenant", name: "one", description: null, rules: [{ path_pattern: pattern, permissions: ["read"] }], builtin: false, createdAt: 0, updatedAt: 0 };
  const binding = { id: "bnd_1", policyId: "pol_1", partnerId: "p", tenantId: "t", identityType: "service_account", identityId: "sa:a", expiresAt: null, createdAt: 0 } as Binding;
  return { policy, binding };
}

/** Storage as the authorizer sees it: the counters, the change log, and bound policies (a load may be held). */
function fakeStore() {
  const state = {
    counters: { access: 1, revocations: 0, policies: 5 } as AccessEpochs,
    changes: [] as { reach: string; seq: number }[],
    bound: [grant("old/*")],
    loads: 0,
    hold: null as Promise<void> | null,
  };
  const store = {
    epochs: async () => state.counters,
    policyChangesSince: async (seq: number) => state.changes.filter((c) => c.seq > seq),
    boundPolicies: async () => {
      state.loads++;
      // What the load finds is what storage held when it began (a round trip to PostgreSQL).
      const found = state.bound;
      if (state.hold) await state.hold;
      return found;
    },
  } as unknown as PolicyStore;
  /** A policy change committed in `reach` (`t:…` or `p:…`): the counter moves and names it. */
  const commitChange = (reach: string, bound?: BoundPolicy[]) => {
    state.counters = { ...state.counters, policies: state.counters.policies + 1 };
    state.changes = [...state.changes.filter((c) => c.reach !== reach), { reach, seq: state.counters.policies }];
    if (bound) state.bound = bound;
  };
  return { state, store, commitChange };
}

const reads = async (authorizer: Authorizer, path: string, tenant = "t") => (await authorizer.compiledFor("p", tenant, ["sa:a"])).decide(path, "read", { sourceIp: null, mfaVerifiedAt: null, now: Date.now() }).allowed;

describe("Authorizer: compiled policies cached per tenant, dropped by the changes that reach them", () => {
  it("keeps a tenant's entry when another tenant's policies change, drops it for its own or its partner's", async () => {
    const { state, store, commitChange } = fakeStore();
    const authorizer = new Authorizer(store);
    expect(await reads(authorizer, "old/x")).toBe(true);
    expect(state.loads).toBe(1);
    commitChange("t:other");
    expect(await reads(authorizer, "old/x")).toBe(true);
    expect(state.loads).toBe(1);
    commitChange("t:t", [grant("new/*")]);
    expect(await reads(authorizer, "old/x")).toBe(false);
    expect(state.loads).toBe(2);
    commitChange("p:p", [grant("wide/*")]);
    expect(await reads(authorizer, "wide/x")).toBe(true);
    expect(state.loads).toBe(3);
    commitChange("p:other-partner");
    expect(await reads(authorizer, "wide/x")).toBe(true);
    expect(state.loads).toBe(3);
  });

  it("does not use an entry loaded before a change to its tenant and stored after the node caught up", async () => {
    const { state, store, commitChange } = fakeStore();
    const authorizer = new Authorizer(store);
    expect(await reads(authorizer, "old/x", "warm")).toBe(true);
    // A request loads tenant t's policies under counter 5; its round trip is held.
    let release!: () => void;
    state.hold = new Promise<void>((resolve) => (release = resolve));
    const slow = reads(authorizer, "old/x");
    await new Promise((resolve) => setImmediate(resolve));
    // The binding is replaced (counter 6, reaching t); the next request catches up and loads afresh.
    state.hold = null;
    commitChange("t:t", [grant("new/*")]);
    expect(await reads(authorizer, "new/x")).toBe(true);
    // The slow load finishes and stores what it read, tagged 5, over the fresh entry.
    release();
    expect(await slow).toBe(true);
    // The next request must not take the pre-change answer from the cache.
    expect(await reads(authorizer, "old/x")).toBe(false);
    expect(await reads(authorizer, "new/x")).toBe(true);
  });

  it("a dry run now finds a request's entry but adds none: made-up identity sets stay out of the cache", async () => {
    const { state, store } = fakeStore();
    const authorizer = new Authorizer(store);
    const context = { sourceIp: null, mfaVerifiedAt: null, now: Date.now() };
    for (let i = 0; i < 3; i++) expect((await authorizer.compiledFor("p", "t", ["sa:a", `group:made-up-${i}`], Date.now(), "read")).decide("old/x", "read", context).allowed).toBe(true);
    expect(state.loads).toBe(3);
    // The same made-up set again: still not cached, so loaded again.
    await authorizer.compiledFor("p", "t", ["sa:a", "group:made-up-0"], Date.now(), "read");
    expect(state.loads).toBe(4);
    // A request's own entry is found by a dry run for the same set.
    expect(await reads(authorizer, "old/x")).toBe(true);
    expect(state.loads).toBe(5);
    await authorizer.compiledFor("p", "t", ["sa:a"], Date.now(), "read");
    expect(state.loads).toBe(5);
  });
});
