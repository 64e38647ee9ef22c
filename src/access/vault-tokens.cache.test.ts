import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { TokenRecord, TokenStore } from "./token-store.js";
import { VaultTokens, type AccessEpoch, type AccessEpochs } from "./vault-tokens.js";

const KEY = Buffer.alloc(32, 7);
const tokenOf = (name: string) => `skt_${name.padEnd(43, "x")}`;
const hashOf = (token: string) => createHmac("sha256", KEY).update(token, "utf8").digest("hex");

const record = (token: string): TokenRecord => ({
  id: `tok_${token.slice(4, 8)}`, tokenHash: hashOf(token), partnerId: "p", tenantId: "t", identityId: "sa:a", identityType: "service_account",
  scopes: ["secrets:read"], roles: [], description: null, createdBy: null, createdAt: 0, expiresAt: null, revokedAt: null, kind: "service",
});

/**
 * Storage as the token cache sees it: token rows (a read may be held, answering what the row was
 * when it began), the counters, and the revoked rows with the count each was revoked under.
 */
function fakes() {
  const rows = new Map<string, TokenRecord>();
  const state = {
    counters: { access: 0, revocations: 0, revocationsPruned: 0, policies: 0, directory: 0 } as AccessEpochs,
    revoked: [] as Array<{ tokenHash: string; seq: number }>,
    reads: 0,
    hold: null as Promise<void> | null,
  };
  const store = {
    findByHash: async (hash: string) => {
      state.reads++;
      const row = rows.get(hash);
      const answer = row && { ...row };
      if (state.hold) await state.hold;
      return answer;
    },
    revokedSince: async (seq: number, limit: number) => state.revoked.filter((r) => r.seq > seq).slice(0, limit),
    touchLastUsed: async () => {},
  } as unknown as TokenStore;
  const access = { epochs: async () => ({ ...state.counters }) } as unknown as AccessEpoch;
  const add = (name: string) => {
    const token = tokenOf(name);
    rows.set(hashOf(token), record(token));
    return token;
  };
  /** A revocation as revokeTokens commits it: the counter moves and the row keeps its count. */
  const revoke = (token: string) => {
    const seq = ++state.counters.revocations;
    rows.get(hashOf(token))!.revokedAt = 1;
    state.revoked.push({ tokenHash: hashOf(token), seq });
  };
  return { state, rows, add, revoke, tokens: new VaultTokens(store, KEY, access) };
}

const codeOf = (attempt: Promise<unknown>) => attempt.then(() => "ok", (error: { code?: string }) => error.code);

describe("vault token cache: a revocation drops its own tokens", () => {
  it("drops the revoked token on the next request and reads no other token again", async () => {
    const { state, add, revoke, tokens } = fakes();
    const [a, b] = [add("a"), add("b")];
    await tokens.authenticate(a);
    await tokens.authenticate(b);
    expect(state.reads).toBe(2);
    revoke(a);
    expect(await codeOf(tokens.authenticate(a))).toBe("token_revoked");
    expect(await codeOf(tokens.authenticate(b))).toBe("ok");
    expect(state.reads).toBe(3);
  });

  it("does not keep a record read before a revocation that the node applied while the read was out", async () => {
    const { state, add, revoke, tokens } = fakes();
    const [a, b] = [add("a"), add("b")];
    await tokens.authenticate(b);
    let release = () => {};
    state.hold = new Promise((resolve) => (release = resolve));
    // a's read starts under count 0 and answers the row as it was: live.
    const first = tokens.authenticate(a);
    await new Promise((resolve) => setImmediate(resolve));
    state.hold = null;
    revoke(a);
    // Another request catches up to count 1 (a is not cached yet: nothing to drop).
    await tokens.authenticate(b);
    release();
    expect(await codeOf(first)).toBe("ok");
    expect(await codeOf(tokens.authenticate(a))).toBe("token_revoked");
  });

  it("empties the cache when the revocations it has not seen may have been pruned", async () => {
    const { state, add, revoke, tokens } = fakes();
    const [a, b] = [add("a"), add("b")];
    await tokens.authenticate(a);
    await tokens.authenticate(b);
    revoke(a);
    // A retention pass pruned a's row (and its revocation) before this node caught up.
    state.revoked = [];
    state.counters.revocationsPruned = state.counters.revocations;
    expect(await codeOf(tokens.authenticate(a))).toBe("token_revoked");
    expect(state.reads).toBe(3);
  });

  it("empties the cache when it is more than a thousand revocations behind, and reads no more of them", async () => {
    const { state, add, revoke, tokens } = fakes();
    const b = add("b");
    await tokens.authenticate(b);
    for (let i = 0; i < 1_001; i++) revoke(add(`r${i}`));
    expect(await codeOf(tokens.authenticate(b))).toBe("ok");
    expect(state.reads).toBe(2);
  });

  it("when full, forgets the token used longest ago, not the ones in use", async () => {
    const { state, add, tokens } = fakes();
    const hot = add("hot");
    await tokens.authenticate(hot);
    // A caller cycling through 10,000 valid tokens of its own, each used once.
    for (let i = 0; i < 10_000; i++) {
      await tokens.authenticate(add(`c${i}`));
      if (i % 1_000 === 0) await tokens.authenticate(hot);
    }
    const reads = state.reads;
    await tokens.authenticate(hot);
    expect(state.reads).toBe(reads);
  });

  it("the access epoch empties it; counters older than what it caught up to change nothing", async () => {
    const { state, add, tokens } = fakes();
    const a = add("a");
    await tokens.authenticate(a);
    state.counters.access = 1;
    await tokens.authenticate(a);
    expect(state.reads).toBe(2);
    state.counters.access = 0;
    await tokens.authenticate(a);
    expect(state.reads).toBe(2);
  });
});
