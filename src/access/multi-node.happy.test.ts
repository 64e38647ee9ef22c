import { expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useSecondNode, useVault } from "../testing/harness.js";
import { planOf, statementsDuring } from "../testing/plans.js";
import { RetentionJob } from "../ops/retention.js";
import { ENDED_TOKENS } from "./token-store.js";

const HOUR = 3_600_000;

/**
 * Two vault nodes on one database: node 2 keeps compiled policies in memory, so this proves a
 * change made through node 1 reaches node 2's very next request (the access epoch).
 */
describeEachBackend("access: policy changes reach every node sharing the database", (backend) => {
  const vault = useVault(backend);
  const secondNode = useSecondNode(vault);

  it("a binding added, a rule changed and a binding removed on node 1 apply on node 2's next request", async () => {
    const node1 = vault().admin;
    await node1.put("/v1/secrets/nodes/a", { data: { v: "a" } });
    const token = (await node1.post("/v1/auth/tokens", { identity_id: "sa:nodes", scopes: ["secrets:read"] })).body.token;
    const client2 = secondNode().withToken(token);
    // Warm node 2's cache with a denial.
    expect((await client2.get("/v1/secrets/nodes/a")).status).toBe(403);
    expect((await client2.get("/v1/secrets/nodes/a")).status).toBe(403);

    const policy = await node1.post("/v1/policies", { name: "nodes", rules: [{ path_pattern: "nodes/*", permissions: ["read"] }] });
    const binding = await node1.post(`/v1/policies/${policy.body.id}/bindings`, { identity_type: "service_account", identity_id: "sa:nodes" });
    expect(binding.status).toBe(201);
    expect((await client2.get("/v1/secrets/nodes/a")).status).toBe(200);

    expect((await node1.put(`/v1/policies/${policy.body.id}`, { name: "nodes", rules: [{ path_pattern: "elsewhere/*", permissions: ["read"] }] })).status).toBe(200);
    expect((await client2.get("/v1/secrets/nodes/a")).status).toBe(403);

    expect((await node1.patch(`/v1/policies/${policy.body.id}`, { rules: [{ path_pattern: "nodes/*", permissions: ["read"] }] })).status).toBe(200);
    expect((await client2.get("/v1/secrets/nodes/a")).status).toBe(200);

    expect((await node1.delete(`/v1/policies/${policy.body.id}/bindings/${binding.body.id}`)).status).toBe(200);
    const denied = await client2.get("/v1/secrets/nodes/a");
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe("access_denied");
  });

  it("a token revoked on node 1 is refused by node 2", async () => {
    const node1 = vault().admin;
    const issued = await node1.post("/v1/auth/tokens", { identity_id: "sa:nodes2", scopes: ["secrets:read"] });
    expect((await secondNode().withToken(issued.body.token).get("/v1/auth/whoami")).status).toBe(200);
    await node1.delete(`/v1/auth/tokens/${issued.body.id}`);
    expect((await secondNode().withToken(issued.body.token).get("/v1/auth/whoami")).body.error.code).toBe("token_revoked");
  });

  it("a token its own user revokes is refused on every node, and no node drops another token or its compiled policies for it", async () => {
    const { admin, anonymous, vault: node } = vault();
    await admin.put("/v1/secrets/steady/a", { data: { v: "a" } });
    const policy = await admin.post("/v1/policies", { name: "steady", rules: [{ path_pattern: "steady/*", permissions: ["read"] }] });
    await admin.post(`/v1/policies/${policy.body.id}/bindings`, { identity_type: "service_account", identity_id: "sa:steady" });
    const steadyToken = (await admin.post("/v1/auth/tokens", { identity_id: "sa:steady", scopes: ["secrets:read"] })).body.token;
    const steady = anonymous.withToken(steadyToken);
    const steady2 = secondNode().withToken(steadyToken);
    expect((await steady.get("/v1/secrets/steady/a")).status).toBe(200);
    expect((await steady2.get("/v1/secrets/steady/a")).status).toBe(200);
    // The weakest caller: a user's read-only token issues a personal token and revokes it.
    const weak = anonymous.withToken((await admin.post("/v1/auth/tokens", { identity_id: "user:mallory@acme.example", scopes: ["secrets:read"] })).body.token);
    const personal = await weak.post("/v1/auth/tokens", { scopes: ["secrets:read"] });
    expect(personal.status).toBe(201);
    expect((await anonymous.withToken(personal.body.token).get("/v1/auth/whoami")).status).toBe(200);
    expect((await secondNode().withToken(personal.body.token).get("/v1/auth/whoami")).status).toBe(200);
    expect((await weak.delete(`/v1/auth/tokens/${personal.body.id}`)).status).toBe(200);
    expect((await anonymous.withToken(personal.body.token).get("/v1/auth/whoami")).body.error.code).toBe("token_revoked");
    expect((await secondNode().withToken(personal.body.token).get("/v1/auth/whoami")).body.error.code).toBe("token_revoked");
    // Another identity's next read, on either node, reuses its token and its compiled policies: a
    // revocation changed neither.
    for (const [db, reader] of [[node.db, steady], [secondNode.vault().db, steady2]] as const) {
      const { statements, value } = await statementsDuring(db, () => reader.get("/v1/secrets/steady/a"));
      expect(value.status).toBe(200);
      expect(statements.filter((s) => /FROM policies p\b|policy_bindings|FROM tokens/.test(s.sql)).map((s) => s.sql.slice(0, 60))).toEqual([]);
    }
  });

  it("a node reads the tokens revoked since it last looked along their index", async () => {
    const { admin } = vault();
    const [kept, revoked] = await Promise.all(["sa:kept", "sa:gone"].map(async (identity_id) => (await admin.post("/v1/auth/tokens", { identity_id, scopes: ["secrets:read"] })).body));
    const onNode2 = secondNode().withToken(kept.token);
    expect((await onNode2.get("/v1/auth/whoami")).status).toBe(200);
    expect((await admin.delete(`/v1/auth/tokens/${revoked.id}`)).status).toBe(200);
    const db = secondNode.vault().db;
    const { statements } = await statementsDuring(db, () => onNode2.get("/v1/auth/whoami"));
    const catchUp = statements.find((s) => /FROM tokens WHERE revoked_seq >/.test(s.sql));
    expect(catchUp?.rows).toBe(1);
    expect(await planOf(db, catchUp!.sql, catchUp!.params)).toMatch(/tokens_revoked_seq/);
  });

  it("a node that has not caught up to revocations since pruned drops every cached token, so a pruned revoked token is refused", async () => {
    const { admin, vault: node } = vault();
    const issued = await admin.post("/v1/auth/tokens", { identity_id: "sa:pruned", scopes: ["secrets:read"] });
    const onNode2 = secondNode().withToken(issued.body.token);
    expect((await onNode2.get("/v1/auth/whoami")).status).toBe(200);
    expect((await admin.delete(`/v1/auth/tokens/${issued.body.id}`)).status).toBe(200);
    // A retention pass two hours from now, window thirty minutes: the revoked row goes before node 2 looks.
    const job = new RetentionJob(node.db, { job: "credentials_retention", steps: ENDED_TOKENS, windowMs: HOUR / 2, intervalMs: 1000, log: () => {} });
    expect((await job.runIfDue(Date.now() + 2 * HOUR))?.tokens_revoked).toBeGreaterThanOrEqual(1);
    expect(await node.db.get("SELECT id FROM tokens WHERE id = ?", [issued.body.id])).toBeUndefined();
    const refused = await onNode2.get("/v1/auth/whoami");
    expect([refused.status, refused.body.error.code]).toEqual([401, "token_invalid"]);
  });

  it("a revocation that revokes nothing leaves the revocation counter where it was", async () => {
    const { admin, vault: node } = vault();
    const counter = async () => Number((await node.db.get<{ revocations: number | string }>("SELECT revocations FROM access_epoch WHERE id = 1"))!.revocations);
    const trust = await admin.post("/v1/auth/trusts", {
      name: "unused", issuer: "https://issuer.unused.example", audiences: ["scaivault"],
      rules: [{ conditions: { sub: "x" }, identity_id: "sa:unused", scopes: ["secrets:read"] }],
    });
    expect(trust.status, trust.text).toBe(201);
    const before = await counter();
    expect((await admin.delete(`/v1/auth/trusts/${trust.body.id}`)).body).toMatchObject({ deleted: true, tokens_revoked: 0 });
    expect(await counter()).toBe(before);
    const issued = await admin.post("/v1/auth/tokens", { identity_id: "sa:unused", scopes: ["secrets:read"] });
    expect((await admin.delete(`/v1/auth/tokens/${issued.body.id}`)).status).toBe(200);
    expect(await counter()).toBe(before + 1);
  });
});

/**
 * Policies and bindings belong to one tenant (or, partner-wide, to every tenant of a partner): a
 * change drops the compiled policies of the tenants it reaches, on every node, and no others. One
 * tenant's administrator changing its policies must not make every node reload every tenant's.
 */
describeEachBackend("access: a policy change reaches the tenants it concerns, and only those", (backend) => {
  const vault = useVault(backend);
  const secondNode = useSecondNode(vault);
  const inB = { headers: { "x-tenant-id": "tnt_reach_b" } };

  /** The statements that load policies or tokens while `work` runs on the node. */
  const loadsDuring = async (node: { db: Parameters<typeof statementsDuring>[0] }, work: () => Promise<{ status: number }>) => {
    const { statements, value } = await statementsDuring(node.db, work);
    expect(value.status).toBe(200);
    return statements.filter((s) => /FROM policies p\b|policy_bindings|FROM tokens/.test(s.sql)).map((s) => s.sql.slice(0, 60));
  };

  it("a change in another tenant drops no compiled policy and no cached token on either node", async () => {
    const { admin, anonymous, vault: node1 } = vault();
    expect((await admin.post("/v1/identity/tenants", { id: "tnt_reach_b", name: "Reach B" })).status).toBe(201);
    await admin.put("/v1/secrets/reach/a", { data: { v: "a" } });
    const policy = await admin.post("/v1/policies", { name: "reach", rules: [{ path_pattern: "reach/*", permissions: ["read"] }] });
    await admin.post(`/v1/policies/${policy.body.id}/bindings`, { identity_type: "service_account", identity_id: "sa:reach" });
    const token = (await admin.post("/v1/auth/tokens", { identity_id: "sa:reach", scopes: ["secrets:read"] })).body.token;
    const reader1 = anonymous.withToken(token);
    const reader2 = secondNode().withToken(token);
    for (const reader of [reader1, reader2]) expect((await reader.get("/v1/secrets/reach/a")).status).toBe(200);

    // Tenant B's administrator creates, binds, changes and deletes a policy of its own.
    const other = await admin.post("/v1/policies", { name: "b-only", rules: [{ path_pattern: "b/*", permissions: ["read"] }] }, inB);
    expect(other.status).toBe(201);
    const bound = await admin.post(`/v1/policies/${other.body.id}/bindings`, { identity_type: "service_account", identity_id: "sa:reach" }, inB);
    expect(bound.status).toBe(201);
    expect((await admin.patch(`/v1/policies/${other.body.id}`, { rules: [{ path_pattern: "b/**", permissions: ["read"] }] }, inB)).status).toBe(200);

    expect(await loadsDuring(node1, () => reader1.get("/v1/secrets/reach/a"))).toEqual([]);
    expect(await loadsDuring(secondNode.vault(), () => reader2.get("/v1/secrets/reach/a"))).toEqual([]);
  });

  it("a partner-wide policy's change reaches every tenant of the partner, on both nodes", async () => {
    const { admin, anonymous } = vault();
    await admin.put("/v1/secrets/wide/a", { data: { v: "a" } });
    const token = (await admin.post("/v1/auth/tokens", { identity_id: "sa:wide", scopes: ["secrets:read"] })).body.token;
    const readers = [anonymous.withToken(token), secondNode().withToken(token)];
    for (const reader of readers) expect((await reader.get("/v1/secrets/wide/a")).status).toBe(403);
    // Made and bound in tenant B's name: partner-wide, so it applies in the default tenant too.
    const wide = await admin.post("/v1/policies", { name: "wide", scope: "partner", rules: [{ path_pattern: "wide/*", permissions: ["read"] }] }, inB);
    expect(wide.status, wide.text).toBe(201);
    const binding = await admin.post(`/v1/policies/${wide.body.id}/bindings`, { identity_type: "service_account", identity_id: "sa:wide" }, inB);
    expect(binding.status).toBe(201);
    for (const reader of readers) expect((await reader.get("/v1/secrets/wide/a")).status).toBe(200);
    expect((await admin.delete(`/v1/policies/${wide.body.id}/bindings/${binding.body.id}`, inB)).status).toBe(200);
    for (const reader of readers) expect((await reader.get("/v1/secrets/wide/a")).status).toBe(403);
  });
});
