import { expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useSecondNode, useVault } from "../testing/harness.js";
import { statementsDuring } from "../testing/plans.js";

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

  it("a token its own user revokes is refused on every node, and no node drops its compiled policies for it", async () => {
    const { admin, anonymous, vault: node } = vault();
    await admin.put("/v1/secrets/steady/a", { data: { v: "a" } });
    const policy = await admin.post("/v1/policies", { name: "steady", rules: [{ path_pattern: "steady/*", permissions: ["read"] }] });
    await admin.post(`/v1/policies/${policy.body.id}/bindings`, { identity_type: "service_account", identity_id: "sa:steady" });
    const steady = anonymous.withToken((await admin.post("/v1/auth/tokens", { identity_id: "sa:steady", scopes: ["secrets:read"] })).body.token);
    expect((await steady.get("/v1/secrets/steady/a")).status).toBe(200);
    // The weakest caller: a user's read-only token issues a personal token and revokes it.
    const weak = anonymous.withToken((await admin.post("/v1/auth/tokens", { identity_id: "user:mallory@acme.example", scopes: ["secrets:read"] })).body.token);
    const personal = await weak.post("/v1/auth/tokens", { scopes: ["secrets:read"] });
    expect(personal.status).toBe(201);
    expect((await anonymous.withToken(personal.body.token).get("/v1/auth/whoami")).status).toBe(200);
    expect((await secondNode().withToken(personal.body.token).get("/v1/auth/whoami")).status).toBe(200);
    expect((await weak.delete(`/v1/auth/tokens/${personal.body.id}`)).status).toBe(200);
    expect((await anonymous.withToken(personal.body.token).get("/v1/auth/whoami")).body.error.code).toBe("token_revoked");
    expect((await secondNode().withToken(personal.body.token).get("/v1/auth/whoami")).body.error.code).toBe("token_revoked");
    // Another identity's next read reuses its compiled policies: a revocation changed none of them.
    const { statements, value } = await statementsDuring(node.db, () => steady.get("/v1/secrets/steady/a"));
    expect(value.status).toBe(200);
    expect(statements.filter((s) => /FROM policies p\b|policy_bindings/.test(s.sql)).map((s) => s.sql.slice(0, 60))).toEqual([]);
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
