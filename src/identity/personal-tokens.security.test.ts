import { beforeAll, expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault, type ApiClient } from "../testing/harness.js";
import { eventually } from "../events/test-receiver.js";

describeEachBackend("personal access tokens never exceed their creator", (backend) => {
  const vault = useVault(backend, { env: { SCAIVAULT_PERSONAL_TOKEN_MAX_TTL: "30d" } });
  let alice: ApiClient;
  let service: ApiClient;
  let aliceExpiry: string;

  beforeAll(async () => {
    const { admin, anonymous } = vault();
    const issued = await admin.post("/v1/auth/tokens", { identity_id: "user:alice@acme.example", scopes: ["secrets:read", "secrets:list"], expires_in: "7d" });
    expect(issued.body.kind).toBe("service");
    aliceExpiry = issued.body.expires_at;
    alice = anonymous.withToken(issued.body.token);
    service = anonymous.withToken((await admin.post("/v1/auth/tokens", { identity_id: "sa:robot", scopes: ["secrets:read"] })).body.token);
  });

  it("a user creates a personal token without admin: the caller's scopes by default, never past the creating token", async () => {
    const created = await alice.post("/v1/auth/tokens", { description: "laptop" });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ kind: "personal", identity_id: "user:alice@acme.example", scopes: ["secrets:read", "secrets:list"], token: expect.stringMatching(/^skt_/) });
    // Asked for 90 days by default, capped at the creating token's 7.
    expect(Date.parse(created.body.expires_at)).toBeLessThanOrEqual(Date.parse(aliceExpiry));
    expect(created.body.last_used_at).toBeNull();
    const mine = alice.withToken(created.body.token);
    expect((await mine.get("/v1/auth/whoami")).body.identity_id).toBe("user:alice@acme.example");
    // Its use shows in the list (the write is coalesced and off the request's path).
    const listed = await eventually(() => alice.get("/v1/auth/tokens"), (res) => res.body.data?.find((t: { id: string }) => t.id === created.body.id)?.last_used_at != null);
    const item = listed.body.data.find((t: { id: string }) => t.id === created.body.id);
    expect(Date.parse(item.last_used_at)).toBeGreaterThan(Date.parse(created.body.created_at) - 1000);
  });

  it("refuses scopes beyond the creator (details.scopes), other identities, non-users, and lifetimes beyond the maximum", async () => {
    const excess = await alice.post("/v1/auth/tokens", { scopes: ["secrets:read", "secrets:write", "admin"] });
    expect(excess.status).toBe(403);
    expect(excess.body.error).toMatchObject({ code: "insufficient_scope", details: { scopes: ["secrets:write", "admin"] } });
    expect((await alice.post("/v1/auth/tokens", { identity_id: "user:bob@acme.example" })).body.error.code).toBe("insufficient_scope");
    const robot = await service.post("/v1/auth/tokens", {});
    expect(robot.body.error).toMatchObject({ code: "forbidden", details: { reason: "not_a_user" } });
    expect((await alice.post("/v1/auth/tokens", { expires_in: "31d" })).body.error.code).toBe("invalid_duration");
  });

  it("without admin one lists and revokes only one's own tokens; another's is token_not_found", async () => {
    const { admin } = vault();
    const own = await alice.post("/v1/auth/tokens", { scopes: ["secrets:read"] });
    const list = await alice.get("/v1/auth/tokens");
    expect(list.status).toBe(200);
    expect(list.body.data.every((t: { identity_id: string }) => t.identity_id === "user:alice@acme.example")).toBe(true);
    const others = (await admin.get("/v1/auth/tokens?identity_id=sa:robot")).body.data;
    expect(others).toHaveLength(1);
    expect((await alice.delete(`/v1/auth/tokens/${others[0].id}`)).body.error.code).toBe("token_not_found");
    expect((await alice.delete(`/v1/auth/tokens/${own.body.id}`)).status).toBe(200);
    expect((await alice.withToken(own.body.token).get("/v1/auth/whoami")).body.error.code).toBe("token_revoked");
    const personal = await admin.get("/v1/auth/tokens?kind=personal&include_revoked=false");
    expect(personal.body.data.map((t: { kind: string; revoked_at: string | null }) => [t.kind, t.revoked_at])).toEqual([["personal", null]]);
    const boot = await admin.get("/v1/auth/tokens?kind=bootstrap");
    expect(boot.body.data).toHaveLength(1);
  });
});
