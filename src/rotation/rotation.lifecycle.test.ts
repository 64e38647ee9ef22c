import { expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { laterPassesRan, outbox, waitFor } from "./testing.js";

/**
 * The lifecycle with intervals of seconds: the scheduler polls every 200 ms here. Tests wait for
 * outcomes (with a generous limit) and never assert how long anything took. A window a read or a
 * pass must land in is several seconds (tens of polls); "once" is shown after later passes ran
 * (laterPassesRan), not after a sleep.
 */
describeEachBackend("rotation: lifecycle on a schedule", (backend) => {
  const vault = useVault(backend, { env: { SCAIVAULT_SCHEDULER_POLL: "200ms", SCAIVAULT_SCHEDULER_RECONCILE: "500ms" } });

  const eventsOf = async (path: string, type: string) => (await outbox(vault().vault, path)).filter((e) => e.event_type === type);

  it("auto-generates by the secret policy, keeps the other fields, and expires the replaced version after its grace", async () => {
    const { admin } = vault();
    const recipe = await admin.post("/v1/secret-policies", {
      name: "db-passwords",
      policy_type: "password",
      fields: [{ name: "password", generator: "random", config: { length: 24, charset: "safe", require_upper: true, require_lower: true, require_digit: true, require_symbol: true } }],
    });
    expect(recipe.status).toBe(201);
    const policy = (await admin.post("/v1/rotation/policies", { name: "auto-2s", interval: "2s", grace_period: "10s", auto_generate: true, secret_policy_id: recipe.body.id })).body;
    await admin.put("/v1/secrets/app/db", { data: { username: "svc", password: "initial-password" }, secret_type: "kv" });
    expect((await admin.post(`/v1/rotation/policies/${policy.id}/secrets`, { secret_path: "app/db" })).status).toBe(201);

    const rotated = await waitFor("the first scheduled rotation", async () => {
      const read = await admin.get("/v1/secrets/app/db");
      return read.body.version >= 2 && read.body;
    });
    // During the grace period (10 s from the rotation just seen) version 1 is still readable.
    const during = await admin.get("/v1/secrets/app/db?version=1");
    await admin.post(`/v1/rotation/policies/${policy.id}/disable`);
    expect(rotated.data.username).toBe("svc");
    expect(rotated.data.password).not.toBe("initial-password");
    expect(rotated.data.password).toMatch(/^[A-Za-z0-9\-_.~]{24}$/);
    for (const cls of [/[A-Z]/, /[a-z]/, /[0-9]/, /[-_.~]/]) expect(rotated.data.password).toMatch(cls);

    const [rotatedEvent] = await eventsOf("app/db", "secret.rotated");
    expect(rotatedEvent.identity_id).toBe("system:rotation-scheduler");
    expect(rotatedEvent.data).toMatchObject({ old_version: 1, new_version: 2, rotation_policy_id: policy.id, rotation_policy_name: "auto-2s", auto_generated: true });
    expect((await eventsOf("app/db", "secret.updated"))[0].data).toMatchObject({ old_version: 1, new_version: 2, is_rotation: true });
    expect(await eventsOf("app/db", "rotation.completed")).not.toHaveLength(0);
    expect(JSON.stringify(await outbox(vault().vault, "app/db"))).not.toContain(rotated.data.password);

    // During the grace period version 1 was readable; afterwards it answers 410 version_expired.
    expect(during.status).toBe(200);
    expect(during.body.data.password).toBe("initial-password");
    const expired = await waitFor("the end of the grace period", async () => {
      const read = await admin.get("/v1/secrets/app/db?version=1");
      return read.status !== 200 && read;
    });
    expect(expired.status).toBe(410);
    expect(expired.body.error.code).toBe("version_expired");
    const versions = (await admin.get("/v1/secrets/app/db/versions")).body.versions;
    expect(versions.find((v: { version: number }) => v.version === 1).state).toBe("expired");
    const history = (await admin.get(`/v1/rotation/policies/${policy.id}/history?status=success`)).body.data;
    expect(history[history.length - 1]).toMatchObject({ secret_path: "app/db", trigger: "schedule", old_version: 1, new_version: 2, auto_generated: true });
  }, 60_000);

  it("event-driven: warns at warn_before, fires rotation.due at due time, and the automation's PUT completes it", async () => {
    const { admin } = vault();
    const policy = (await admin.post("/v1/rotation/policies", { name: "event-8s", interval: "8s", warn_before: "6s", grace_period: "1h" })).body;
    await admin.put("/v1/secrets/ext/oauth", { data: { client_id: "a", client_secret: "old" }, secret_type: "json" });
    await admin.post(`/v1/rotation/policies/${policy.id}/secrets`, { secret_path: "ext/oauth" });

    const dueNow = await waitFor("rotation.due with due_now", async () => (await eventsOf("ext/oauth", "rotation.due")).find((e) => e.data.due_now));
    const due = await eventsOf("ext/oauth", "rotation.due");
    expect(due).toHaveLength(2);
    expect(due[0].data).toMatchObject({ due_now: false, threshold: "6s", rotation_policy_id: policy.id });
    expect(dueNow.data).toMatchObject({ due_now: true, threshold: null, due_at: due[0].data.due_at });
    expect((await admin.get("/v1/secrets/ext/oauth")).body.rotation.state).toBe("due");
    expect((await admin.get("/v1/rotation/due?within_hours=0")).body.data).toEqual([
      expect.objectContaining({ secret_path: "ext/oauth", rotation_policy_id: policy.id, state: "due", overdue: false }),
    ]);

    const put = await admin.put("/v1/secrets/ext/oauth", { data: { client_id: "a", client_secret: "new" } });
    expect(put.status).toBe(200);
    await admin.post(`/v1/rotation/policies/${policy.id}/disable`);
    const [rotated] = await eventsOf("ext/oauth", "secret.rotated");
    expect(rotated.data).toMatchObject({ old_version: 1, new_version: 2, auto_generated: false });
    expect(await eventsOf("ext/oauth", "rotation.completed")).toHaveLength(1);
    expect((await eventsOf("ext/oauth", "secret.updated"))[0].data.is_rotation).toBe(true);
    const history = (await admin.get(`/v1/rotation/policies/${policy.id}/history`)).body.data;
    expect(history).toHaveLength(1);
    expect(history[0]).toMatchObject({ status: "success", trigger: "schedule", old_version: 1, new_version: 2 });
    expect((await admin.get("/v1/secrets/ext/oauth?version=previous")).body.data.client_secret).toBe("old");
  }, 60_000);

  it("fires rotation.overdue once when no new version arrives within the grace period", async () => {
    const { admin } = vault();
    const policy = (await admin.post("/v1/rotation/policies", { name: "overdue-1s", interval: "1s", grace_period: "1s" })).body;
    await admin.put("/v1/secrets/ext/late", { data: { key: "v1" } });
    await admin.post(`/v1/rotation/policies/${policy.id}/secrets`, { secret_path: "ext/late" });
    const overdue = await waitFor("rotation.overdue", async () => (await eventsOf("ext/late", "rotation.overdue"))[0]);
    expect(overdue.data).toMatchObject({ rotation_policy_id: policy.id, grace_period: "1s" });
    expect((await admin.get("/v1/secrets/ext/late")).body.rotation.state).toBe("overdue");
    expect((await admin.get("/v1/rotation/due?within_hours=0&include_overdue=false")).body.data.map((d: { secret_path: string }) => d.secret_path)).not.toContain("ext/late");
    expect((await admin.get("/v1/rotation/due?within_hours=0")).body.data.find((d: { secret_path: string }) => d.secret_path === "ext/late")).toMatchObject({ overdue: true });
    await laterPassesRan(vault().vault, admin, "after-overdue");
    expect(await eventsOf("ext/late", "rotation.overdue")).toHaveLength(1);
    expect((await eventsOf("ext/late", "rotation.due")).filter((e) => e.data.due_now)).toHaveLength(1);
    // A late PUT still completes the rotation.
    await admin.put("/v1/secrets/ext/late", { data: { key: "v2" } });
    await admin.post(`/v1/rotation/policies/${policy.id}/disable`);
    expect(await eventsOf("ext/late", "secret.rotated")).toHaveLength(1);
    expect((await admin.get(`/v1/rotation/policies/${policy.id}/history`)).body.data[0].status).toBe("success");
  }, 60_000);

  it("records rotation.failed with a reason when the value cannot be generated", async () => {
    const { admin } = vault();
    const recipe = (await admin.post("/v1/secret-policies", { name: "to-disable", fields: [{ name: "api_key", generator: "hex", config: { length: 40 } }] })).body;
    const policy = (await admin.post("/v1/rotation/policies", { name: "failing", interval: "1s", auto_generate: true, secret_policy_id: recipe.id })).body;
    expect((await admin.patch(`/v1/secret-policies/${recipe.id}`, { is_active: false })).body.is_active).toBe(false);
    await admin.put("/v1/secrets/app/failing", { data: { api_key: "k1" } });
    await admin.post(`/v1/rotation/policies/${policy.id}/secrets`, { secret_path: "app/failing" });
    const failed = await waitFor("rotation.failed", async () => (await eventsOf("app/failing", "rotation.failed"))[0]);
    await admin.post(`/v1/rotation/policies/${policy.id}/disable`);
    expect(failed.data).toMatchObject({ rotation_policy_id: policy.id, error_code: "invalid_config", version: 1 });
    expect(failed.data.reason).toContain("disabled");
    expect((await admin.get("/v1/secrets/app/failing")).body.version).toBe(1);
    const history = (await admin.get(`/v1/rotation/policies/${policy.id}/history?status=failed`)).body.data;
    expect(history[0]).toMatchObject({ status: "failed", secret_path: "app/failing", new_version: null });
    expect(history[0].error).toContain("disabled");
  });

  it("announces secret.expiring at notify_before and secret.expired at expiry, once each", async () => {
    const { admin } = vault();
    await admin.put("/v1/secrets/app/short-lived", { data: { token: "t" }, options: { expires_in: "8s", notify_before: "6s" } });
    const expired = await waitFor("secret.expired", async () => (await eventsOf("app/short-lived", "secret.expired"))[0]);
    expect(expired.data).toMatchObject({ version: 1 });
    const expiring = await eventsOf("app/short-lived", "secret.expiring");
    expect(expiring).toHaveLength(1);
    expect(expiring[0].data).toMatchObject({ threshold: "6s", days_remaining: 0, expires_at: expired.data.expires_at });
    await laterPassesRan(vault().vault, admin, "after-expiry");
    expect(await eventsOf("app/short-lived", "secret.expired")).toHaveLength(1);
    expect((await admin.get("/v1/secrets/app/short-lived")).body.error.code).toBe("secret_expired");
  }, 60_000);

  it("rotates at once on demand with auto_generate (default recipe) and through the policy's rotate", async () => {
    const { admin } = vault();
    const policy = (await admin.post("/v1/rotation/policies", { name: "manual-auto", interval: "90d", auto_generate: true })).body;
    await admin.put("/v1/secrets/app/svc-a", { data: { user: "a", password: "pa" }, options: { rotation_policy_id: policy.id } });
    await admin.put("/v1/secrets/app/svc-b", { data: { user: "b", password: "pb" }, options: { rotation_policy_id: policy.id } });
    const one = await admin.post("/v1/secrets/app/svc-a/rotate");
    expect(one.status).toBe(202);
    expect(one.body).toEqual({ path: "app/svc-a", rotation_policy_id: policy.id, action: "rotated", version: 2 });
    const read = (await admin.get("/v1/secrets/app/svc-a")).body;
    expect(read.data.user).toBe("a");
    expect(read.data.password).toMatch(/^[A-Za-z0-9]{32}$/);

    const items = await admin.post(`/v1/rotation/policies/${policy.id}/rotate`, { secret_paths: ["app/svc-b"] });
    expect(items.status).toBe(200);
    expect(items.body).toEqual([expect.objectContaining({ secret_path: "app/svc-b", status: "success", trigger: "manual", old_version: 1, new_version: 2, auto_generated: true })]);
    const all = await admin.post(`/v1/rotation/policies/${policy.id}/rotate`);
    expect(all.body.map((i: { secret_path: string; new_version: number }) => [i.secret_path, i.new_version])).toEqual([["app/svc-a", 3], ["app/svc-b", 3]]);
    expect(await eventsOf("app/svc-a", "secret.rotated")).toHaveLength(2);
  });

  it("picks up a rotation policy linked by a metadata PATCH (no new version)", async () => {
    const { admin } = vault();
    const policy = (await admin.post("/v1/rotation/policies", { name: "via-patch", interval: "1d" })).body;
    await admin.put("/v1/secrets/app/patched", { data: { a: 1 } });
    const patch = await admin.patch("/v1/secrets/app/patched/metadata", { options: { rotation_policy_id: policy.id } });
    expect(patch.status).toBe(200);
    const block = await waitFor("the schedule", async () => {
      const read = await admin.get("/v1/secrets/app/patched");
      return read.body.rotation?.next_rotation_at ? read.body.rotation : undefined;
    });
    expect(block).toMatchObject({ policy_id: policy.id, state: "scheduled", last_rotated_at: null });
    expect((await admin.get(`/v1/rotation/policies/${policy.id}`)).body.secrets_count).toBe(1);
    await admin.patch("/v1/secrets/app/patched/metadata", { options: { rotation_policy_id: null } });
    await waitFor("the detach", async () => (await admin.get(`/v1/rotation/policies/${policy.id}`)).body.secrets_count === 0);
  });
});
