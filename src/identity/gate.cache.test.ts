import { describe, expect, it } from "vitest";
import type { Principal } from "../access/principal.js";
import type { ReachedChange } from "../access/reach-log.js";
import type { AccessEpoch, AccessEpochs } from "../access/vault-tokens.js";
import { IdentityGate } from "./gate.js";
import type { DirectoryEntry, IdentityStore } from "./store.js";

const entry = (status: DirectoryEntry["status"], tenantId = "t"): DirectoryEntry => ({
  tenantId, id: "usr_a", partnerId: "p", kind: "user", identityId: "user:a@x.example", email: "a@x.example", clientId: null, name: "A", description: null,
  status, mfaEnabled: false, roles: [], directGroups: [], groupIds: [], groups: [], lastSyncedAt: 0,
});

const principal = (counters: AccessEpochs, tenantId = "t"): Principal => ({
  identityId: "user:a@x.example", identityType: "user", displayName: null, partnerId: "p", tenantId, scopes: new Set(["secrets:read"]),
  groups: [], roles: [], mfaVerifiedAt: null, tokenExpiresAt: null, tokenKind: "vault", tokenId: "tok_1", accessCounters: counters,
});

/** Storage as the gate sees it: directory entries per tenant (a read may be held), the counters and the directory change log. */
function fakes() {
  const state = { stored: new Map([["t", entry("ACTIVE")], ["u", entry("ACTIVE", "u")]]), reads: 0, hold: null as Promise<void> | null, changes: [] as ReachedChange[] };
  const store = {
    tenantStatus: async () => "ACTIVE",
    vaultRoles: async () => [],
    findForCredential: async (tenantId: string) => {
      state.reads++;
      // A read answers what storage held when it began (a round trip to PostgreSQL).
      const answer = state.stored.get(tenantId);
      if (state.hold) await state.hold;
      return answer;
    },
  } as unknown as IdentityStore;
  const access = { directoryChangesSince: async (seq: number) => state.changes.filter((c) => c.seq > seq) } as unknown as AccessEpoch;
  return { state, gate: new IdentityGate(store, access) };
}

const at = (access: number, directory: number): AccessEpochs => ({ access, revocations: 0, revocationsPruned: 0, policies: 0, directory });

describe("identity gate: its cache and a sync committing during a read", () => {
  for (const how of ["the access epoch", "a directory change to the tenant"] as const) {
    it(`does not keep an answer read before a sync committed (${how})`, async () => {
      const { state, gate } = fakes();
      let release!: () => void;
      state.hold = new Promise<void>((resolve) => (release = resolve));
      const slow = gate.refine(principal(at(1, 1)));
      await new Promise((resolve) => setImmediate(resolve));
      // The sync commits and disables the user; a request under the sync's counters reads it.
      state.hold = null;
      state.stored.set("t", entry("DISABLED"));
      const after = how === "the access epoch" ? at(2, 1) : at(1, 2);
      if (how !== "the access epoch") state.changes.push({ reach: "t:t", seq: 2 });
      await expect(gate.refine(principal(after))).rejects.toMatchObject({ code: "token_revoked" });
      // The slow read ends with the old answer; it must not become current.
      release();
      await slow;
      await expect(gate.refine(principal(after))).rejects.toMatchObject({ code: "token_revoked" });
    });
  }

  it("keeps the other tenants' answers when one tenant's directory changes", async () => {
    const { state, gate } = fakes();
    await gate.refine(principal(at(1, 1), "t"));
    await gate.refine(principal(at(1, 1), "u"));
    expect(state.reads).toBe(2);
    state.stored.set("t", entry("DISABLED"));
    state.changes.push({ reach: "t:t", seq: 2 });
    await expect(gate.refine(principal(at(1, 2), "t"))).rejects.toMatchObject({ code: "token_revoked" });
    await gate.refine(principal(at(1, 2), "u"));
    expect(state.reads).toBe(3);
  });

  it("when full, forgets the answers used longest ago, not the ones in use", async () => {
    const { state, gate } = fakes();
    const counters = at(1, 1);
    await gate.refine(principal(counters));
    // A tenant administrator's tokens for 10,000 made-up identities, used once each.
    for (let i = 0; i < 10_000; i++) {
      await gate.refine({ ...principal(counters), identityId: `sa:made-up-${i}` });
      if (i % 1_000 === 0) await gate.refine(principal(counters));
    }
    const reads = state.reads;
    await gate.refine(principal(counters));
    expect(state.reads).toBe(reads);
  });
});
