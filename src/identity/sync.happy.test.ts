import { beforeAll, expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useSecondNode, useVault, type ApiClient } from "../testing/harness.js";
import { statementsDuring } from "../testing/plans.js";
import { LocalIssuer } from "./testing/local-issuer.js";
import { baseFixture, startupSync, syncNow, useStandIn, waitForSync } from "./testing/use-standin.js";

describeEachBackend("identity sync: the directory's changes reach every credential on every node", (backend) => {
  const { env, standIn } = useStandIn();
  const vault = useVault(backend, { env });
  const second = useSecondNode(vault);
  let alice: string;
  let bob: string;
  let dave: string;
  let ci: string;
  const as = (client: ApiClient, token: string) => client.withToken(token);

  beforeAll(async () => {
    const { admin } = vault();
    // The startup sync: wait for it to finish before anything depends on the cache.
    const startup = await startupSync(admin);
    const done = await waitForSync(admin, startup.sync_id);
    expect(done.status).toBe("completed");
    const policy = await admin.post("/v1/policies", { name: "platform", rules: [{ path_pattern: "app/**", permissions: ["read"] }] });
    expect(policy.status).toBe(201);
    expect((await admin.post(`/v1/policies/${policy.body.id}/bindings`, { identity_type: "group", identity_id: "group:platform" })).status).toBe(201);
    expect((await admin.put("/v1/secrets/app/db", { data: { password: "p" } })).status).toBe(201);
    const issue = async (identity_id: string, headers: Record<string, string> = {}) => {
      const response = await admin.post("/v1/auth/tokens", { identity_id, scopes: ["secrets:read"] }, { headers });
      expect(response.status).toBe(201);
      return response.body.token as string;
    };
    alice = await issue("user:alice@acme.example");
    bob = await issue("user:bob@acme.example");
    ci = await issue("sa:ci-bot");
    dave = await issue("user:dave@acme.example", { "x-tenant-id": "tnt_two" });
  });

  it("the startup sync added partners, tenants, users, groups and service accounts, with nested groups transitive", async () => {
    const { admin } = vault();
    const users = await admin.get("/v1/identity/tenants/tnt_default/users");
    expect(users.status).toBe(200);
    expect(users.body.users.map((u: { id: string }) => u.id).sort()).toEqual(["usr_alice", "usr_bob"]);
    const resolved = await admin.get("/v1/identity/resolve/user/alice@acme.example");
    expect(resolved.body).toMatchObject({ id: "usr_alice", identity_id: "user:alice@acme.example", status: "ACTIVE" });
    expect(resolved.body.groups.sort()).toEqual(["group:platform", "group:sre"]);
    const tenants = await admin.get("/v1/identity/tenants");
    expect(tenants.body.tenants.find((t: { id: string }) => t.id === "tnt_two")).toMatchObject({ source: "scaikey", slug: "acme-dev", status: "ACTIVE" });
  });

  it("a directory group (through a nested group) grants access; a group change moves it", async () => {
    const { anonymous } = vault();
    expect((await as(anonymous, alice).get("/v1/secrets/app/db")).status).toBe(200);
    expect((await as(anonymous, bob).get("/v1/secrets/app/db")).status).toBe(403);
    standIn().edit((f) => {
      f.memberships = f.memberships.filter((m) => m.member_id !== "usr_alice");
      f.memberships.push({ group_id: "grp_sre", member_type: "user", member_id: "usr_bob" });
    });
    const sync = await syncNow(vault().admin);
    expect(sync.stats.updated).toBeGreaterThanOrEqual(2);
    expect((await as(anonymous, alice).get("/v1/secrets/app/db")).status).toBe(403);
    expect((await as(anonymous, bob).get("/v1/secrets/app/db")).status).toBe(200);
    expect((await second().withToken(bob).get("/v1/secrets/app/db")).status).toBe(200);
    expect((await second().withToken(alice).get("/v1/secrets/app/db")).status).toBe(403);
  });

  it("a group disabled, then removed, in the directory grants nothing on either node; restored, it grants again", async () => {
    const { anonymous, admin } = vault();
    // After the previous test bob reaches group:platform through grp_sre (nested in grp_platform).
    expect((await as(anonymous, bob).get("/v1/secrets/app/db")).status).toBe(200);
    standIn().edit((f) => {
      f.groups.find((g) => g.id === "grp_platform")!.status = "DISABLED";
    });
    await syncNow(admin);
    for (const client of [anonymous, second()]) expect((await client.withToken(bob).get("/v1/secrets/app/db")).status).toBe(403);
    standIn().edit((f) => {
      f.groups = f.groups.filter((g) => g.id !== "grp_platform");
      f.memberships = f.memberships.filter((m) => m.group_id !== "grp_platform");
    });
    await syncNow(admin);
    expect((await admin.get("/v1/identity/resolve/group/platform")).body.status).toBe("DELETED");
    for (const client of [anonymous, second()]) expect((await client.withToken(bob).get("/v1/secrets/app/db")).status).toBe(403);
    standIn().edit((f) => {
      f.groups.push({ ...baseFixture().groups.find((g) => g.id === "grp_platform")! });
      f.memberships.push({ group_id: "grp_platform", member_type: "group", member_id: "grp_sre" });
    });
    await syncNow(admin);
    for (const client of [anonymous, second()]) expect((await client.withToken(bob).get("/v1/secrets/app/db")).status).toBe(200);
  });

  it("a suspended identity's next request fails on both nodes, for vault tokens, ScaiKey JWTs and console sessions; reactivation restores them", async () => {
    const { anonymous, admin } = vault();
    const jwt = await standIn().sign({ sub: "usr_bob", email: "bob@acme.example", tenant_id: "tnt_default", scope: "secrets:read" });
    expect((await as(anonymous, jwt).get("/v1/auth/whoami")).status).toBe(200);
    expect((await second().withToken(bob).get("/v1/secrets/app/db")).status).toBe(200);
    // A console session signed in with bob's vault token: a cookie, no Authorization header.
    const signIn = await fetch(`${vault().baseUrl}/v1/ui/session`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ token: bob }) });
    expect(signIn.status).toBe(201);
    const cookie = (signIn.headers.get("set-cookie") ?? "").split(";")[0];
    const csrf = ((await signIn.json()) as { csrf_token: string }).csrf_token;
    const inConsole = async () => {
      const answer = await fetch(`${vault().baseUrl}/v1/secrets/app/db`, { headers: { cookie, "x-csrf-token": csrf } });
      return { status: answer.status, body: (await answer.json()) as any };
    };
    const before = await inConsole();
    expect(before.status, JSON.stringify(before.body)).toBe(200);
    standIn().edit((f) => {
      f.users.find((u) => u.id === "usr_bob")!.status = "SUSPENDED";
    });
    const sync = await syncNow(admin);
    expect(sync.stats.disabled).toBe(1);
    for (const client of [anonymous, second()]) {
      for (const token of [bob, jwt]) {
        const refused = await client.withToken(token).get("/v1/secrets/app/db");
        expect(refused.status).toBe(401);
        expect(refused.body.error).toMatchObject({ code: "token_revoked", details: { reason: "identity_disabled" } });
      }
    }
    const session = await inConsole();
    expect(session.status).toBe(401);
    expect(session.body.error).toMatchObject({ code: "token_revoked", details: { reason: "identity_disabled" } });
    const events = await vault().vault.db.all<{ event_type: string; data: string }>("SELECT event_type, data FROM events WHERE event_type LIKE 'identity.%' ORDER BY id");
    expect(events.some((e) => e.event_type === "identity.disabled" && JSON.parse(e.data).directory_id === "usr_bob")).toBe(true);
    standIn().edit((f) => {
      f.users.find((u) => u.id === "usr_bob")!.status = "ACTIVE";
    });
    await syncNow(admin);
    expect((await as(anonymous, bob).get("/v1/secrets/app/db")).status).toBe(200);
    expect((await second().withToken(jwt).get("/v1/auth/whoami")).status).toBe(200);
    expect((await inConsole()).status).toBe(200);
    const enabled = await vault().vault.db.all<{ event_type: string }>("SELECT event_type FROM events WHERE event_type = 'identity.enabled'");
    expect(enabled.length).toBeGreaterThanOrEqual(1);
  });

  it("an exchange rule whose identity is suspended in the directory is refused (identity_disabled), and its exchanged token stops working", async () => {
    const { anonymous, admin } = vault();
    const issuer = await LocalIssuer.start();
    try {
      const trust = await admin.post("/v1/auth/trusts", { name: "pods", issuer: issuer.url, audiences: ["sync-test"], jwks: issuer.jwks, rules: [{ conditions: { sub: "pod" }, identity_id: "sa:ci-bot", scopes: ["secrets:read"] }] });
      expect(trust.status, trust.text).toBe(201);
      const exchange = async () => anonymous.post("/v1/auth/exchange", { grant_type: "urn:ietf:params:oauth:grant-type:token-exchange", subject_token: await issuer.sign({ sub: "pod" }, { audience: "sync-test", expiresIn: "5m" }) });
      const granted = await exchange();
      expect(granted.status, granted.text).toBe(200);
      expect((await second().withToken(granted.body.access_token).get("/v1/auth/whoami")).status).toBe(200);
      standIn().edit((f) => {
        f.applications.find((a) => a.id === "app_ci")!.status = "SUSPENDED";
      });
      await syncNow(admin);
      const refused = await exchange();
      expect(refused.status).toBe(403);
      expect(refused.body.error).toMatchObject({ code: "access_denied", details: { reason: "identity_disabled" } });
      const revoked = await second().withToken(granted.body.access_token).get("/v1/auth/whoami");
      expect(revoked.body.error).toMatchObject({ code: "token_revoked", details: { reason: "identity_disabled" } });
      standIn().edit((f) => {
        f.applications.find((a) => a.id === "app_ci")!.status = "ACTIVE";
      });
      await syncNow(admin);
      expect((await exchange()).status).toBe(200);
      expect((await admin.delete(`/v1/auth/trusts/${trust.body.id}`)).status).toBe(200);
    } finally {
      await issuer.close();
    }
  });

  it("a service account removed from the directory is DELETED and its tokens revoked for good; new users are added", async () => {
    const { anonymous, admin } = vault();
    expect((await as(anonymous, ci).get("/v1/auth/whoami")).status).toBe(200);
    standIn().edit((f) => {
      f.applications = [];
      f.users.push({ id: "usr_carol", tenant_id: "tnt_default", email: "carol@acme.example", display_name: "Carol", status: "ACTIVE", mfa_enabled: false, roles: [] });
    });
    const sync = await syncNow(admin);
    expect(sync.stats).toMatchObject({ added: 1, deleted: 1, tokens_revoked: 1 });
    expect((await as(anonymous, ci).get("/v1/auth/whoami")).body.error.code).toBe("token_revoked");
    standIn().edit((f) => {
      f.applications = baseFixture().applications;
    });
    await syncNow(admin);
    // Back in the directory, but its old token stays revoked.
    expect((await as(anonymous, ci).get("/v1/auth/whoami")).body.error.code).toBe("token_revoked");
    const accounts = await admin.get("/v1/identity/tenants/tnt_default/service-accounts");
    expect(accounts.body.service_accounts[0]).toMatchObject({ id: "app_ci", identity_id: "sa:ci-bot", status: "ACTIVE" });
  });

  it("a change to one tenant's directory drops no other tenant's cached answers, on either node", async () => {
    const { anonymous, vault: node1 } = vault();
    const readers = [{ node: node1, client: as(anonymous, alice) }, { node: second.vault(), client: second().withToken(alice) }];
    for (const { client } of readers) expect((await client.get("/v1/auth/whoami")).status).toBe(200);
    standIn().edit((f) => {
      f.users.find((u) => u.id === "usr_dave")!.display_name = "Dave Renamed";
    });
    const sync = await syncNow(vault().admin);
    expect(sync.stats.updated).toBe(1);
    for (const { node, client } of readers) {
      const { statements, value } = await statementsDuring(node.db, () => client.get("/v1/auth/whoami"));
      expect(value.status).toBe(200);
      expect(statements.filter((st) => /directory_identities|FROM tenants|identity_vault_roles|FROM tokens/.test(st.sql)).map((st) => st.sql.slice(0, 60))).toEqual([]);
    }
    // The changed tenant's own answers are read again on both nodes.
    for (const client of [anonymous, second()]) expect((await client.withToken(dave).get("/v1/auth/whoami")).body.display_name).toBe("Dave Renamed");
  });

  it("a tenant suspended in ScaiKey answers tenant_access_denied (tenant_suspended); a failed fetch keeps the cache", async () => {
    const { anonymous, admin } = vault();
    expect((await as(anonymous, dave).get("/v1/auth/whoami")).status).toBe(200);
    standIn().edit((f) => {
      f.tenants.find((t) => t.id === "tnt_two")!.status = "SUSPENDED";
    });
    await syncNow(admin);
    const refused = await second().withToken(dave).get("/v1/auth/whoami");
    expect(refused.status).toBe(403);
    expect(refused.body.error).toMatchObject({ code: "tenant_access_denied", details: { reason: "tenant_suspended" } });
    // A partner admin naming the suspended tenant is refused too, on either node.
    for (const client of [admin, second()]) {
      for (const named of [client.get("/v1/secrets?prefix=x", { headers: { "x-tenant-id": "tnt_two" } }), client.get("/v1/t/tnt_two/secrets?prefix=x")]) {
        const answer = await named;
        expect(answer.status, answer.text).toBe(403);
        expect(answer.body.error).toMatchObject({ code: "tenant_access_denied", details: { reason: "tenant_suspended" } });
      }
    }
    standIn().edit((f) => {
      f.tenants.find((t) => t.id === "tnt_two")!.status = "ACTIVE";
      f.users = f.users.filter((u) => u.id !== "usr_dave");
      f.fail_tenants = ["tnt_two"];
    });
    const sync = await syncNow(admin);
    expect(sync.status).toBe("completed");
    expect(sync.errors).toEqual([expect.objectContaining({ tenant_id: "tnt_two" })]);
    const users = await admin.get("/v1/identity/tenants/tnt_two/users");
    expect(users.body.users.map((u: { id: string }) => u.id)).toEqual(["usr_dave"]);
    const audit = await vault().vault.db.all<{ action: string }>("SELECT action FROM audit_log WHERE action = 'identity_sync' AND identity_id = 'system:identity-sync'");
    expect(audit.length).toBeGreaterThanOrEqual(1);
  });
});


describeEachBackend("identity sync: the scheduled sync runs on its own", (backend) => {
  const { env, standIn } = useStandIn(baseFixture, { SCAIVAULT_IDENTITY_SYNC_INTERVAL: "1s" });
  const vault = useVault(backend, { env });
  const second = useSecondNode(vault);

  it("a directory change reaches the cache with no manual sync; scheduled syncs are recorded as such", async () => {
    const { admin } = vault();
    await waitForSync(admin, (await startupSync(admin)).sync_id);
    standIn().edit((f) => {
      f.users.find((u) => u.id === "usr_alice")!.display_name = "Alice Scheduled";
    });
    const edited = Date.now();
    // Each node runs a startup sync of its own, so only a scheduled sync that started after the
    // edit proves the schedule: polled with a generous bound (the interval is 1 s), not slept.
    const until = Date.now() + 60_000;
    let scheduled: any = null;
    while (!scheduled && Date.now() < until) {
      const history = await admin.get("/v1/identity/sync/history?limit=100");
      scheduled = history.body.syncs.find((s: { trigger: string; status: string; started_at: string }) => s.trigger === "scheduled" && s.status === "completed" && Date.parse(s.started_at) >= edited);
      if (!scheduled) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(scheduled).toMatchObject({ triggered_by: "system:identity-sync", scope: { partner_id: null, tenant_id: null }, errors: [] });
    expect((await second().get("/v1/identity/resolve/user/usr_alice")).body.display_name).toBe("Alice Scheduled");
    const history = await admin.get("/v1/identity/sync/history?limit=100");
    expect(history.body.syncs.some((s: { trigger: string }) => s.trigger === "manual")).toBe(false);
  });
});
