import { beforeAll, expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { planOf, statementsDuring } from "../testing/plans.js";
import { SyncStore } from "./sync-store.js";
import { startupSync, syncNow, useStandIn, waitForSync, WEBHOOK_SECRET } from "./testing/use-standin.js";
import { signScaiKeyWebhook } from "./webhook.js";

describeEachBackend("identity endpoints: documented shapes, scopes and codes", (backend) => {
  const { env, standIn } = useStandIn();
  const vault = useVault(backend, { env });
  let reader: ReturnType<ReturnType<typeof vault>["anonymous"]["withToken"]>;

  beforeAll(async () => {
    const { admin, anonymous } = vault();
    await waitForSync(admin, (await startupSync(admin)).sync_id);
    const token = await admin.post("/v1/auth/tokens", { identity_id: "sa:reader", scopes: ["identity:read"] });
    reader = anonymous.withToken(token.body.token);
  });

  it("partners, users, groups, service accounts and members answer their shapes", async () => {
    const { admin } = vault();
    const partners = await admin.get("/v1/identity/partners?status=ACTIVE");
    expect(partners.body).toMatchObject({ total: 1, page: 1, page_size: 50 });
    expect(partners.body.partners[0]).toEqual({ id: "ptn_default", name: "Acme", slug: "acme", region: "eu-west-1", status: "ACTIVE", last_synced_at: expect.any(String) });
    const users = await reader.get("/v1/identity/tenants/tnt_default/users?q=ALI&page_size=10");
    expect(users.body).toMatchObject({ total: 1, page: 1, page_size: 10 });
    expect(users.body.users[0]).toEqual({ id: "usr_alice", identity_id: "user:alice@acme.example", tenant_id: "tnt_default", email: "alice@acme.example", display_name: "Alice", status: "ACTIVE", mfa_enabled: true, groups: ["grp_sre"], roles: [], last_synced_at: expect.any(String) });
    const groups = await reader.get("/v1/identity/tenants/tnt_default/groups");
    expect(groups.body.total).toBe(3);
    expect(groups.body.groups.find((g: { id: string }) => g.id === "grp_oncall")).toEqual({ id: "grp_oncall", identity_id: "group:oncall", tenant_id: "tnt_default", name: "oncall", description: "On call", status: "ACTIVE", member_count: 2, last_synced_at: expect.any(String) });
    const members = await reader.get("/v1/identity/groups/grp_platform/members");
    expect(members.body).toMatchObject({ total: 1 });
    expect(members.body.members[0]).toEqual({ user_id: "usr_alice", identity_id: "user:alice@acme.example", member_type: "user", email: "alice@acme.example", membership_type: "INHERITED", via_group_id: "grp_sre", added_at: expect.any(String) });
    const sas = await reader.get("/v1/identity/tenants/tnt_default/service-accounts");
    expect(sas.body.service_accounts[0]).toMatchObject({ id: "app_ci", client_id: "ci-bot", groups: ["grp_oncall"] });
  });

  it("every §3 read answers its whole documented shape; identity:read is needed (roles need only a token)", async () => {
    const { admin, anonymous } = vault();
    const at = expect.stringMatching(/^\d{4}-\d\d-\d\dT/);
    const tenants = await reader.get("/v1/identity/tenants?partner_id=ptn_default");
    expect(tenants.status, tenants.text).toBe(200);
    expect(tenants.body).toMatchObject({ total: expect.any(Number), data: expect.any(Array), has_more: expect.any(Boolean) });
    expect("cursor" in tenants.body).toBe(true);
    expect(tenants.body.tenants.find((t: { id: string }) => t.id === "tnt_default")).toMatchObject({ id: "tnt_default", partner_id: "ptn_default", slug: "acme-prod", source: "scaikey", status: "ACTIVE", last_synced_at: at });
    const sas = await reader.get("/v1/identity/tenants/tnt_default/service-accounts");
    expect(sas.body).toEqual({ service_accounts: [{ id: "app_ci", identity_id: "sa:ci-bot", tenant_id: "tnt_default", client_id: "ci-bot", name: "CI bot", status: "ACTIVE", groups: ["grp_oncall"], last_synced_at: at }], total: 1, page: 1, page_size: 50 });
    const oncall = await reader.get("/v1/identity/groups/grp_oncall/members");
    expect(oncall.body.members.map((m: { identity_id: string; member_type: string; membership_type: string }) => [m.identity_id, m.member_type, m.membership_type]).sort()).toEqual([["sa:ci-bot", "service_account", "DIRECT"], ["user:bob@acme.example", "user", "DIRECT"]]);
    expect((await reader.get("/v1/identity/resolve/user/usr_alice")).body).toEqual({
      id: "usr_alice", type: "user", identity_id: "user:alice@acme.example", tenant_id: "tnt_default", display_name: "Alice", email: "alice@acme.example", status: "ACTIVE",
      groups: ["group:platform", "group:sre"], group_ids: ["grp_platform", "grp_sre"], roles: [], last_synced_at: at,
    });
    expect((await reader.get("/v1/identity/roles")).body).toEqual({ roles: [
      { name: "tenant_admin", description: expect.any(String), scope: "tenant" }, { name: "partner_admin", description: expect.any(String), scope: "partner" }, { name: "super_admin", description: expect.any(String), scope: "platform" },
    ] });
    const history = await reader.get("/v1/identity/sync/history?status=completed&limit=5");
    expect(history.body.syncs.length).toBeGreaterThanOrEqual(1);
    for (const sync of history.body.syncs) {
      expect(sync).toEqual({
        sync_id: expect.stringMatching(/^sync_/), status: "completed", trigger: expect.stringMatching(/^(startup|scheduled|manual|webhook)$/), scope: { partner_id: expect.toBeOneOf([null, "ptn_default"]), tenant_id: expect.toBeOneOf([null, "tnt_default"]) },
        triggered_by: expect.any(String), started_at: at, completed_at: at, duration_ms: expect.any(Number),
        stats: { seen: expect.any(Number), added: expect.any(Number), updated: expect.any(Number), disabled: expect.any(Number), deleted: expect.any(Number), tokens_revoked: expect.any(Number) }, errors: [],
      });
    }
    expect((await reader.get("/v1/identity/sync/history?status=failed")).body).toMatchObject({ syncs: [], total: 0 });
    // A token without identity:read reads none of it; the role catalogue needs only a token.
    const other = anonymous.withToken((await admin.post("/v1/auth/tokens", { identity_id: "sa:secrets-only", scopes: ["secrets:read"] })).body.token);
    for (const path of ["/v1/identity/partners", "/v1/identity/tenants/tnt_default/users", "/v1/identity/tenants/tnt_default/groups", "/v1/identity/groups/grp_sre/members", "/v1/identity/resolve/user/usr_alice", "/v1/identity/sync/history", "/v1/identity/users/usr_alice/roles"]) {
      const refused = await other.get(path);
      expect({ path, status: refused.status, code: refused.body.error?.code }).toEqual({ path, status: 403, code: "insufficient_scope" });
    }
    expect((await other.get("/v1/identity/roles")).status).toBe(200);
    expect((await anonymous.get("/v1/identity/roles")).status).toBe(401);
    // Reads are audited as the contract names them.
    const actions = await vault().vault.db.all<{ action: string }>("SELECT DISTINCT action FROM audit_log WHERE action IN ('identity_list', 'identity_resolve')");
    expect(actions.map((a) => a.action).sort()).toEqual(["identity_list", "identity_resolve"]);
  });

  it("resolve takes a directory id, a canonical id or a bare name; unknown → identity_not_found", async () => {
    for (const id of ["usr_alice", encodeURIComponent("user:alice@acme.example"), "alice@acme.example"]) {
      const resolved = await reader.get(`/v1/identity/resolve/user/${id}`);
      expect(resolved.status).toBe(200);
      expect(resolved.body).toMatchObject({ id: "usr_alice", type: "user", tenant_id: "tnt_default", email: "alice@acme.example", group_ids: ["grp_platform", "grp_sre"] });
    }
    expect((await reader.get("/v1/identity/resolve/service_account/ci-bot")).body.groups).toEqual(["group:oncall"]);
    expect((await reader.get("/v1/identity/resolve/group/sre")).body).toMatchObject({ id: "grp_sre", groups: ["group:platform"] });
    const missing = await reader.get("/v1/identity/resolve/user/nobody@acme.example");
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe("identity_not_found");
    expect((await reader.get("/v1/identity/groups/grp_nope/members")).body.error.code).toBe("identity_not_found");
    // Another tenant's users are not this (non partner admin) reader's to list.
    expect((await reader.get("/v1/identity/tenants/tnt_two/users")).body.error.code).toBe("tenant_access_denied");
    expect((await vault().admin.get("/v1/identity/tenants/tnt_missing/users")).body.error.code).toBe("tenant_not_found");
  });

  it("sync needs identity:admin; history and one sync answer their shapes; unknown sync → sync_not_found", async () => {
    expect((await reader.post("/v1/identity/sync")).body.error.code).toBe("insufficient_scope");
    const asked = await vault().admin.post("/v1/identity/sync?tenant_id=tnt_default");
    expect(asked.status).toBe(202);
    expect(asked.body).toEqual({ sync_id: expect.stringMatching(/^sync_/), status: expect.stringMatching(/^(pending|running)$/), started_at: expect.any(String), scope: { partner_id: "ptn_default", tenant_id: "tnt_default" } });
    const done = await waitForSync(reader, asked.body.sync_id);
    expect(done).toMatchObject({ status: "completed", trigger: "manual", triggered_by: "system:bootstrap", duration_ms: expect.any(Number), stats: { seen: expect.any(Number), added: 0, updated: 0, disabled: 0, deleted: 0, tokens_revoked: 0 }, errors: [] });
    const history = await reader.get("/v1/identity/sync/history?limit=1");
    expect(history.body.total).toBeGreaterThanOrEqual(2);
    expect(history.body.syncs).toHaveLength(1);
    expect((await reader.get("/v1/identity/sync/sync_nope")).body.error.code).toBe("sync_not_found");
    expect((await vault().admin.post("/v1/identity/sync?partner_id=ptn_other")).body.error.code).toBe("tenant_access_denied");
  });

  it("one scheduled moment is claimed by exactly one of two contenders", async () => {
    const db = vault().vault.db;
    const [a, b] = [new SyncStore(db), new SyncStore(db)];
    await db.run("UPDATE identity_sync_schedule SET next_at = 1 WHERE id = 1");
    const claims = await Promise.all([a.claimScheduled(60_000), b.claimScheduled(60_000), a.claimScheduled(60_000)]);
    expect(claims.filter(Boolean)).toHaveLength(1);
  });

  it("roles: the catalogue; vault-assigned roles with the docs' rules; invalid_role", async () => {
    const { admin } = vault();
    expect((await reader.get("/v1/identity/roles")).body.roles.map((r: { name: string }) => r.name)).toEqual(["tenant_admin", "partner_admin", "super_admin"]);
    expect((await admin.put("/v1/identity/users/usr_bob/roles", { roles: ["wizard"] })).body.error.code).toBe("invalid_role");
    expect((await admin.put("/v1/identity/users/usr_bob/roles", { roles: ["super_admin"] })).body.error.code).toBe("forbidden");
    const set = await admin.put("/v1/identity/users/usr_bob/roles", { roles: ["tenant_admin"] });
    expect(set.body).toEqual({ user_id: "usr_bob", identity_id: "user:bob@acme.example", roles: ["tenant_admin"], sources: { tenant_admin: "vault" } });
    expect((await reader.get("/v1/identity/users/usr_bob/roles")).body.roles).toEqual(["tenant_admin"]);
    const bob = await admin.post("/v1/auth/tokens", { identity_id: "user:bob@acme.example", scopes: ["identity:read"] });
    expect((await vault().anonymous.withToken(bob.body.token).get("/v1/auth/whoami")).body.roles).toEqual(["tenant_admin"]);
  });

  it("a signed ScaiKey webhook re-syncs the tenant within seconds; bad or stale signatures are refused; repeats ignored", async () => {
    const { anonymous, admin } = vault();
    standIn().edit((f) => {
      f.users.find((u) => u.id === "usr_alice")!.display_name = "Alice Webhooked";
    });
    const body = JSON.stringify({ event_id: "evt_1", event_type: "user.updated", tenant_id: "tnt_default", partner_id: "ptn_default", data: {} });
    const post = (signature: string, raw = body) => anonymous.post("/v1/identity/webhooks/scaikey", undefined, { raw, headers: { "content-type": "application/json", "x-scaikey-signature": signature } });
    expect((await post(signScaiKeyWebhook("wrong-secret", body))).body.error.code).toBe("token_invalid");
    expect((await post(signScaiKeyWebhook(WEBHOOK_SECRET, body, Math.floor(Date.now() / 1000) - 301))).body.error.code).toBe("token_invalid");
    expect((await post(signScaiKeyWebhook(WEBHOOK_SECRET, body), body.replace("evt_1", "evt_2"))).body.error.code).toBe("token_invalid");
    const { value: accepted, statements } = await statementsDuring(vault().vault.db, () => post(signScaiKeyWebhook(WEBHOOK_SECRET, body)), { writes: true });
    expect(accepted.status).toBe(202);
    expect(accepted.body).toEqual({ received: true });
    // Forgetting the ids older than a day reads those only, not every id of the day (SQLite's plan).
    const forgetting = statements.filter((st) => /DELETE FROM identity_webhook_events WHERE received_at/.test(st.sql));
    expect(forgetting).toHaveLength(1);
    if (backend === "sqlite") expect(await planOf(vault().vault.db, forgetting[0].sql, forgetting[0].params)).not.toMatch(/^SCAN identity_webhook_events$/m);
    // "Within 5 s", bounded generously (≥ 5×) on a loaded machine: polled, not slept.
    const until = Date.now() + 25_000;
    let name = "";
    while (Date.now() < until && name !== "Alice Webhooked") {
      name = (await admin.get("/v1/identity/resolve/user/usr_alice")).body.display_name;
      if (name !== "Alice Webhooked") await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(name).toBe("Alice Webhooked");
    const before = (await admin.get("/v1/identity/sync/history")).body.total;
    expect((await post(signScaiKeyWebhook(WEBHOOK_SECRET, body))).status).toBe(202);
    expect((await admin.get("/v1/identity/sync/history")).body.total).toBe(before);
    await syncNow(admin);
  });

  it("a webhook whose sync could not be started is not marked seen: ScaiKey's retry of the same event re-syncs", async () => {
    const { anonymous, admin } = vault();
    const db = vault().vault.db;
    const body = JSON.stringify({ event_id: "evt_retry", event_type: "group.member_added", tenant_id: "tnt_default", partner_id: "ptn_default", data: {} });
    const post = () => anonymous.post("/v1/identity/webhooks/scaikey", undefined, { raw: body, headers: { "content-type": "application/json", "x-scaikey-signature": signScaiKeyWebhook(WEBHOOK_SECRET, body) } });
    const before = (await admin.get("/v1/identity/sync/history")).body.total;
    // The sync record cannot be written (its table is briefly away): the delivery fails with a 5xx.
    await db.run("ALTER TABLE identity_syncs RENAME TO identity_syncs_away");
    let failed: Awaited<ReturnType<typeof post>>;
    try {
      failed = await post();
    } finally {
      await db.run("ALTER TABLE identity_syncs_away RENAME TO identity_syncs");
    }
    expect(failed.status).toBeGreaterThanOrEqual(500);
    const retried = await post();
    expect(retried.status).toBe(202);
    const history = await admin.get("/v1/identity/sync/history?limit=100");
    expect(history.body.total).toBe(before + 1);
    const webhookSync = history.body.syncs.find((s: { trigger: string }) => s.trigger === "webhook");
    await waitForSync(admin, webhookSync.sync_id);
  });
});

describeEachBackend("identity endpoints standalone (no directory)", (backend) => {
  const vault = useVault(backend);
  it("manual sync is invalid_config, the webhook receiver is not_found, the cache is empty", async () => {
    const { admin, anonymous } = vault();
    const sync = await admin.post("/v1/identity/sync");
    expect(sync.status).toBe(400);
    expect(sync.body.error.code).toBe("invalid_config");
    expect((await anonymous.post("/v1/identity/webhooks/scaikey", { event_id: "x" })).status).toBe(404);
    expect((await admin.get("/v1/identity/tenants/tnt_default/users")).body).toMatchObject({ users: [], total: 0 });
    expect((await admin.get("/v1/identity/tenants")).body.tenants[0]).toMatchObject({ id: "tnt_default", source: "local", status: "ACTIVE" });
  });
});

