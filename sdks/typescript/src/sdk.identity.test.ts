import { afterAll, beforeAll, expect, it } from "vitest";
import { describeEachBackend } from "../../../src/testing/backends.js";
import { useVault } from "../../../src/testing/harness.js";
import { LocalIssuer } from "../../../src/identity/testing/local-issuer.js";
import { useStandIn } from "../../../src/identity/testing/use-standin.js";
import { exchangeToken, PermissionDeniedError, ScaiVaultClient } from "./index.js";

describeEachBackend("TypeScript SDK: identity, trusts, exchange and personal tokens against the real server", (backend) => {
  const vault = useVault(backend);
  let issuer: LocalIssuer;
  const admin = () => new ScaiVaultClient({ baseUrl: vault().baseUrl, token: vault().adminToken });
  beforeAll(async () => {
    issuer = await LocalIssuer.start();
  });
  afterAll(async () => issuer?.close());

  it("creates a trust, exchanges a workload token for a client, and lists the token's kind", async () => {
    const trust = await admin().trusts.create({ name: "pods", issuer: issuer.url, audiences: ["scaivault"], jwks: issuer.jwks, rules: [{ conditions: { sub: "system:serviceaccount:billing:*" }, identity_id: "sa:billing", scopes: ["secrets:read"] }] });
    expect(trust.id).toMatch(/^trust_/);
    expect((await admin().trusts.list()).data.map((t) => t.id)).toContain(trust.id);
    const jwt = await issuer.sign({ sub: "system:serviceaccount:billing:api" }, { audience: "scaivault", expiresIn: "5m" });
    const result = await exchangeToken(vault().baseUrl, { subjectToken: jwt, role: "sa:billing", expiresIn: "5m" });
    expect(result).toMatchObject({ identity_id: "sa:billing", expires_in: 300, token_type: "Bearer" });
    const workload = new ScaiVaultClient({ baseUrl: vault().baseUrl, token: result.access_token, retries: { maxAttempts: 1 } });
    expect((await workload.auth.whoami()).identity_id).toBe("sa:billing");
    await expect(exchangeToken(vault().baseUrl, { subjectToken: jwt, role: "sa:other" })).rejects.toBeInstanceOf(PermissionDeniedError);
    const tokens = await admin().tokens.list({ kind: "exchange" });
    expect(tokens.data[0]).toMatchObject({ kind: "exchange", trust_id: trust.id });
    await admin().trusts.update(trust.id as string, { enabled: false });
    await expect(workload.auth.whoami()).rejects.toMatchObject({ code: "token_revoked" });
  });

  it("creates a personal token, and reads the identity endpoints", async () => {
    // Personal tokens are for users: the bootstrap admin (system:bootstrap) issues a user a token first.
    const issued = await admin().tokens.create({ identity_id: "user:sdk-person", identity_type: "user", scopes: ["secrets:read", "secrets:list"] });
    const person = new ScaiVaultClient({ baseUrl: vault().baseUrl, token: (issued as { token: string }).token });
    const personal = await person.tokens.create({ scopes: ["secrets:read"] });
    expect(personal).toMatchObject({ kind: "personal", identity_id: "user:sdk-person" });
    expect((await admin().identity.roles()).roles).toHaveLength(3);
    expect(await admin().identity.users("tnt_default")).toMatchObject({ users: [], total: 0 });
    expect((await admin().identity.syncHistory()).syncs).toEqual([]);
    await expect(admin().identity.resolve("user", "nobody")).rejects.toMatchObject({ code: "identity_not_found" });
  });
});

describeEachBackend("TypeScript SDK: the identity cache filled from the ScaiKey stand-in", (backend) => {
  const { env } = useStandIn();
  const vault = useVault(backend, { env });
  const admin = () => new ScaiVaultClient({ baseUrl: vault().baseUrl, token: vault().adminToken });

  it("runs a sync and reads partners, users, groups, service accounts, members, resolve and roles", async () => {
    const asked = await admin().identity.sync({ tenant_id: "tnt_default" });
    expect(asked.sync_id).toMatch(/^sync_/);
    // Polled on the sync's own record (it runs in the background), with a generous bound.
    const until = Date.now() + 30_000;
    let sync = await admin().identity.getSync(asked.sync_id);
    while (sync.status !== "completed" && sync.status !== "failed" && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      sync = await admin().identity.getSync(asked.sync_id);
    }
    expect(sync).toMatchObject({ status: "completed", trigger: "manual", errors: [] });
    expect((await admin().identity.syncHistory({ limit: 50 })).syncs.map((s) => s.sync_id)).toContain(asked.sync_id);
    expect((await admin().identity.partners()).partners.map((p) => p.id)).toEqual(["ptn_default"]);
    expect((await admin().identity.users("tnt_default", { q: "bob" })).users.map((u) => u.identity_id)).toEqual(["user:bob@acme.example"]);
    expect((await admin().identity.groups("tnt_default")).total).toBe(3);
    expect((await admin().identity.serviceAccounts("tnt_default")).service_accounts.map((s) => s.identity_id)).toEqual(["sa:ci-bot"]);
    expect((await admin().identity.groupMembers("grp_platform")).members).toEqual([expect.objectContaining({ identity_id: "user:alice@acme.example", membership_type: "INHERITED", via_group_id: "grp_sre" })]);
    expect((await admin().identity.resolve("user", "alice@acme.example")).groups).toEqual(["group:platform", "group:sre"]);
    expect(await admin().identity.setUserRoles("usr_bob", ["tenant_admin"])).toMatchObject({ roles: ["tenant_admin"], sources: { tenant_admin: "vault" } });
    expect((await admin().identity.userRoles("usr_bob")).roles).toEqual(["tenant_admin"]);
  });
});
