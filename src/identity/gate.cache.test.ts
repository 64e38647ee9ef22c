import { describe, expect, it } from "vitest";
import type { Principal } from "../access/principal.js";
import type { AccessEpoch } from "../access/vault-tokens.js";
import { IdentityGate } from "./gate.js";
import type { DirectoryEntry, IdentityStore } from "./store.js";

const entry = (status: DirectoryEntry["status"]): DirectoryEntry => ({
  tenantId: "t", id: "usr_a", partnerId: "p", kind: "user", identityId: "user:a@x.example", email: "a@x.example", clientId: null, name: "A", description: null,
  status, mfaEnabled: false, roles: [], directGroups: [], groupIds: [], groups: [], lastSyncedAt: 0,
});

const principal = (accessEpoch: number): Principal => ({
  identityId: "user:a@x.example", identityType: "user", displayName: null, partnerId: "p", tenantId: "t", scopes: new Set(["secrets:read"]),
  groups: [], roles: [], mfaVerifiedAt: null, tokenExpiresAt: null, tokenKind: "vault", tokenId: "tok_1", accessCounters: { access: accessEpoch, revocations: 0, policies: 0 },
});

describe("identity gate: its cache and a sync committing during a read", () => {
  it("does not keep an answer read before a sync committed under the sync's epoch", async () => {
    // The directory as storage answers it: ACTIVE until the sync disables the user.
    let stored = entry("ACTIVE");
    let release: (() => void) | null = null;
    let reads = 0;
    const store = {
      tenantStatus: async () => "ACTIVE",
      vaultRoles: async () => [],
      findForCredential: async () => {
        reads++;
        const answer = stored;
        // The first read is slow (a round trip to PostgreSQL) and answers what it found when it began.
        if (reads === 1) await new Promise<void>((resolve) => (release = resolve));
        return answer;
      },
    } as unknown as IdentityStore;
    const access = { epoch: async () => 1, epochs: async () => ({ access: 1, revocations: 0, policies: 0 }), bumpEpoch: async () => {}, bumpRevocations: async () => {} } as AccessEpoch;
    const gate = new IdentityGate(store, access);

    const slow = gate.refine(principal(1));
    await new Promise((resolve) => setImmediate(resolve));
    // The sync commits (epoch 2) and a request under epoch 2 reads the disabled user.
    stored = entry("DISABLED");
    await expect(gate.refine(principal(2))).rejects.toMatchObject({ code: "token_revoked" });
    // The slow read ends with the old answer; it must not become epoch 2's.
    release!();
    await slow;
    await expect(gate.refine(principal(2))).rejects.toMatchObject({ code: "token_revoked" });
  });
});
