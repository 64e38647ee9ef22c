import { beforeAll, expect, it } from "vitest";
import { baseFixture, startupSync, syncNow, useStandIn, waitForSync } from "../identity/testing/use-standin.js";
import { describeEachBackend } from "../testing/backends.js";
import { useVault, type ApiClient } from "../testing/harness.js";
import { eventsAwaitingFanOut, until } from "../testing/observe.js";

/**
 * A subscription is evaluated as its owner is now in the directory, not as the owner was when it
 * subscribed: a group left or renamed takes its grants with it, and a disabled owner's
 * subscriptions receive nothing (a webhook subscription delivers without the owner's token).
 */
describeEachBackend("events: a subscription's owner as the directory knows it now", (backend) => {
  const { env, standIn } = useStandIn(baseFixture);
  const vault = useVault(backend, { env });
  let subscriptionId = "";
  let alice: ApiClient;

  beforeAll(async () => {
    const { admin, anonymous } = vault();
    expect((await waitForSync(admin, (await startupSync(admin)).sync_id)).status).toBe("completed");
    const policy = await admin.post("/v1/policies", { name: "sre-reads-team", rules: [{ path_pattern: "team/**", permissions: ["read"] }] });
    expect((await admin.post(`/v1/policies/${policy.body.id}/bindings`, { identity_type: "group", identity_id: "group:sre" })).status).toBe(201);
    const token = await admin.post("/v1/auth/tokens", { identity_id: "user:alice@acme.example", scopes: ["secrets:read", "subscriptions:read", "subscriptions:write"] });
    expect(token.status).toBe(201);
    alice = anonymous.withToken(token.body.token);
    const sub = await alice.post("/v1/subscriptions", { name: "team", paths: ["team/**"], events: ["secret.created"], delivery: { type: "polling" } });
    expect(sub.status, sub.text).toBe(201);
    subscriptionId = sub.body.id;
  });

  /** The paths of the events in the subscription's inbox (read from storage: a disabled owner cannot poll). */
  const inbox = async () => {
    const db = vault().vault.db;
    await until("the writes dispatched", async () => Number(await eventsAwaitingFanOut(db)) === 0);
    const rows = await db.all<{ path: string }>("SELECT e.path FROM subscription_inbox i JOIN events e ON e.id = i.event_id WHERE i.subscription_id = ? ORDER BY i.dispatch_seq", [subscriptionId]);
    return rows.map((r) => r.path);
  };

  it("delivers what the owner's group may read", async () => {
    expect((await vault().admin.put("/v1/secrets/team/a", { data: { v: 1 } })).status).toBe(201);
    expect(await inbox()).toEqual(["team/a"]);
  });

  it("stops when the owner's group is renamed: the grant bound to the old name is not the owner's any more", async () => {
    standIn().edit((f) => {
      f.groups.find((g) => g.id === "grp_sre")!.name = "sre-retired";
    });
    await syncNow(vault().admin);
    expect((await vault().admin.put("/v1/secrets/team/b", { data: { v: 1 } })).status).toBe(201);
    expect(await inbox()).toEqual(["team/a"]);
    standIn().edit((f) => {
      f.groups.find((g) => g.id === "grp_sre")!.name = "sre";
    });
    await syncNow(vault().admin);
    expect((await vault().admin.put("/v1/secrets/team/c", { data: { v: 1 } })).status).toBe(201);
    expect(await inbox()).toEqual(["team/a", "team/c"]);
  });

  it("stops when the owner leaves the group, and when the directory disables the owner", async () => {
    standIn().edit((f) => {
      f.memberships = f.memberships.filter((m) => !(m.group_id === "grp_sre" && m.member_id === "usr_alice"));
    });
    await syncNow(vault().admin);
    expect((await vault().admin.put("/v1/secrets/team/d", { data: { v: 1 } })).status).toBe(201);
    expect(await inbox()).toEqual(["team/a", "team/c"]);
    standIn().edit((f) => {
      f.memberships.push({ group_id: "grp_sre", member_type: "user", member_id: "usr_alice" });
      f.users.find((u) => u.id === "usr_alice")!.status = "DISABLED";
    });
    await syncNow(vault().admin);
    expect((await alice.get("/v1/auth/whoami")).body.error.code).toBe("token_revoked");
    expect((await vault().admin.put("/v1/secrets/team/e", { data: { v: 1 } })).status).toBe(201);
    expect(await inbox()).toEqual(["team/a", "team/c"]);
  });
});
