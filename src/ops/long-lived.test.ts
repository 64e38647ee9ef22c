import { afterEach, describe, expect, it } from "vitest";
import type { Principal } from "../access/principal.js";
import type { AccessEpochs } from "../access/vault-tokens.js";
import type { TenantRef } from "../http/context.js";
import { VaultError } from "../http/errors.js";
import type { Admission } from "../http/pipeline.js";
import { LongLivedConnections, type StreamSlot } from "./long-lived.js";

const tenant: TenantRef = { tenantId: "tnt_default", partnerId: "ptn_default" };

function principal(groups: string[]): Principal {
  return { identityId: "user:alice", identityType: "user", displayName: null, partnerId: "ptn_default", tenantId: "tnt_default", scopes: new Set(["secrets:read"]), groups, roles: [], mfaVerifiedAt: null, tokenExpiresAt: null, tokenKind: "vault", tokenId: "tok_1" };
}

/** A promise with its resolve and reject. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe("LongLivedConnections: an open connection's admission kept current", () => {
  let counters: AccessEpochs = { access: 1, revocations: 0, revocationsPruned: 0, policies: 0, directory: 0 };
  const slots: StreamSlot[] = [];
  const open = (readmit: () => Promise<Admission>, recheckMs = 60_000) => {
    const slot = new LongLivedConnections({ maxPerIdentity: 5, maxPerTenant: 5, recheckMs }, async () => counters).admit(principal(["group:sre"]), tenant, readmit);
    slots.push(slot);
    return slot;
  };
  afterEach(() => {
    for (const slot of slots.splice(0)) slot.release();
    counters = { access: 1, revocations: 0, revocationsPruned: 0, policies: 0, directory: 0 };
  });

  it("admits again only when an access counter moved since the last admission", async () => {
    let calls = 0;
    const slot = open(async () => ({ principal: principal([`group:g${++calls}`]), tenant }));
    expect((await slot.current()).principal.groups).toEqual(["group:g1"]);
    expect((await slot.current()).principal.groups).toEqual(["group:g1"]);
    counters = { access: 2, revocations: 0, revocationsPruned: 0, policies: 0, directory: 0 };
    expect((await slot.current()).principal.groups).toEqual(["group:g2"]);
    counters = { access: 2, revocations: 1, revocationsPruned: 0, policies: 0, directory: 0 };
    expect((await slot.current()).principal.groups).toEqual(["group:g3"]);
    counters = { access: 2, revocations: 1, revocationsPruned: 0, policies: 1, directory: 0 };
    expect((await slot.current()).principal.groups).toEqual(["group:g4"]);
    counters = { access: 2, revocations: 1, revocationsPruned: 0, policies: 1, directory: 1 };
    expect((await slot.current()).principal.groups).toEqual(["group:g5"]);
    expect(calls).toBe(5);
  });

  it("does not trust a re-admission that began before the counters moved", async () => {
    const held = deferred<Admission>();
    const answers = [held.promise, Promise.resolve({ principal: principal(["group:after"]), tenant })];
    let calls = 0;
    const slot = open(() => answers[calls++]);
    // A re-admission starts under counters 1 (as the periodic recheck's would) and is held.
    const first = slot.current();
    await new Promise((resolve) => setImmediate(resolve));
    expect(calls).toBe(1);
    // Access changes; events committed after the change are read; the caller is asked for.
    counters = { access: 2, revocations: 0, revocationsPruned: 0, policies: 0, directory: 0 };
    const second = slot.current();
    held.resolve({ principal: principal(["group:before"]), tenant });
    expect((await first).principal.groups).toEqual(["group:before"]);
    expect((await second).principal.groups).toEqual(["group:after"]);
    expect(calls).toBe(2);
  });

  it("ends on a 401 or 403 verdict with that error, not on a storage failure", async () => {
    let answer: () => Promise<Admission> = async () => {
      throw new VaultError("service_unavailable", "storage down");
    };
    const slot = open(() => answer());
    await expect(slot.current()).rejects.toMatchObject({ code: "service_unavailable" });
    expect(slot.signal.aborted).toBe(false);
    answer = async () => {
      throw new VaultError("tenant_access_denied", "suspended");
    };
    await expect(slot.current()).rejects.toMatchObject({ code: "tenant_access_denied" });
    expect(slot.signal.aborted).toBe(true);
    expect((slot.signal.reason as VaultError).code).toBe("tenant_access_denied");
    await expect(slot.current()).rejects.toMatchObject({ code: "tenant_access_denied" });
  });

  it("admits again on its recheck interval even when no counter moved (a console session signed out)", async () => {
    let signedOut = false;
    const slot = open(async () => {
      if (signedOut) throw new VaultError("authentication_required", "Sign in again");
      return { principal: principal([]), tenant };
    }, 20);
    signedOut = true;
    const ended = await new Promise<VaultError>((resolve) => slot.signal.addEventListener("abort", () => resolve(slot.signal.reason as VaultError), { once: true }));
    expect(ended.code).toBe("authentication_required");
  });
});
