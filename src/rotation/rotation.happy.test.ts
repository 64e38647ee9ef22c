import { expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { outbox } from "./testing.js";

const SEED_SECRET = {
  data: { client_id: "3MVG9...", client_secret: "REDACTED" },
  secret_type: "json",
  metadata: { description: "Salesforce OAuth for all production integrations", tags: ["salesforce", "oauth", "production"] },
  options: { max_versions: 10 },
};
const PATH = "integrations/salesforce/oauth";
const DAY = 86_400_000;

describeEachBackend("rotation: seed step 7 and policy management", (backend) => {
  const vault = useVault(backend);

  it("runs seed step 7 as written and shows the next rotation about 90 days ahead", async () => {
    const { admin } = vault();
    expect((await admin.put(`/v1/secrets/${PATH}`, SEED_SECRET)).status).toBe(201);

    const created = await admin.post("/v1/rotation/policies", { name: "quarterly", interval: "90d", grace_period: "48h", auto_generate: false });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: "quarterly", interval: "90d", interval_seconds: 7_776_000, grace_period: "48h", auto_generate: false, is_active: true, secrets_count: 0 });
    expect(created.body.id).toMatch(/^rot_[A-Za-z0-9]{20}$/);
    const rotXyz = created.body.id;

    const assigned = await admin.post(`/v1/rotation/policies/${rotXyz}/secrets`, { secret_path: PATH });
    expect(assigned.status).toBe(201);
    expect(assigned.body).toMatchObject({ policy_id: rotXyz, secret_path: PATH, state: "scheduled" });

    const before = Date.now();
    const secret = await admin.get(`/v1/secrets/${PATH}`);
    expect(secret.status).toBe(200);
    expect(secret.body.rotation_policy_id).toBe(rotXyz);
    expect(secret.body.rotation).toMatchObject({ policy_id: rotXyz, state: "scheduled", last_rotated_at: null });
    const next = Date.parse(secret.body.rotation.next_rotation_at);
    expect(Math.abs(next - (before + 90 * DAY))).toBeLessThan(5 * 60_000);
    expect((await admin.get(`/v1/rotation/policies/${rotXyz}`)).body.secrets_count).toBe(1);

    const metadata = await admin.get(`/v1/secrets/${PATH}/metadata`);
    expect(metadata.body.rotation).toEqual(secret.body.rotation);
  });

  it("rotates on demand (the seed's POST …/rotate): due now, then the automation's PUT completes it", async () => {
    const { admin, vault: v } = vault();
    const rotate = await admin.post(`/v1/secrets/${PATH}/rotate`);
    expect(rotate.status).toBe(202);
    const policyId = rotate.body.rotation_policy_id;
    expect(rotate.body).toEqual({ path: PATH, rotation_policy_id: policyId, action: "due", version: 1 });
    expect((await admin.get(`/v1/secrets/${PATH}`)).body.rotation.state).toBe("due");
    const due = (await outbox(v, PATH)).filter((e) => e.event_type === "rotation.due");
    expect(due).toHaveLength(1);
    expect(due[0].data).toMatchObject({ due_now: true, threshold: null, rotation_policy_id: policyId });

    const write = await admin.put(`/v1/secrets/${PATH}`, { data: { client_id: "3MVG9...", client_secret: "minted-at-salesforce" } });
    expect(write.status).toBe(200);
    // The write's own answer already shows the completed rotation, as a GET would.
    expect(write.body.rotation).toMatchObject({ policy_id: policyId, state: "scheduled" });
    expect(write.body.rotation.last_rotated_at).not.toBeNull();
    const events = await outbox(v, PATH);
    const types = events.map((e) => e.event_type);
    expect(types.filter((t) => t === "secret.rotated")).toHaveLength(1);
    expect(types.filter((t) => t === "rotation.completed")).toHaveLength(1);
    const updated = events.filter((e) => e.event_type === "secret.updated").pop()!;
    expect(updated.data).toMatchObject({ old_version: 1, new_version: 2, is_rotation: true });
    const rotated = events.find((e) => e.event_type === "secret.rotated")!;
    expect(rotated.data).toMatchObject({ old_version: 1, new_version: 2, rotation_policy_id: policyId, rotation_policy_name: "quarterly", auto_generated: false });
    const graceEnds = Date.parse(rotated.data.grace_period_ends);
    expect(Math.abs(graceEnds - (Date.now() + 2 * DAY))).toBeLessThan(60_000);
    expect(JSON.stringify(events)).not.toContain("minted-at-salesforce");

    // The replaced version stays readable during the grace period, as `previous` and by number.
    const previous = await admin.get(`/v1/secrets/${PATH}?version=previous`);
    expect(previous.status).toBe(200);
    expect(previous.body.data.client_secret).toBe("REDACTED");
    const versions = await admin.get(`/v1/secrets/${PATH}/versions`);
    expect(versions.body.versions[1]).toMatchObject({ version: 1, state: "previous", grace_period_ends: rotated.data.grace_period_ends });

    const after = await admin.get(`/v1/secrets/${PATH}`);
    expect(after.body.rotation.state).toBe("scheduled");
    expect(after.body.rotation.last_rotated_at).not.toBeNull();
    expect(Math.abs(Date.parse(after.body.rotation.next_rotation_at) - (Date.now() + 90 * DAY))).toBeLessThan(60_000);

    const history = await admin.get(`/v1/rotation/policies/${policyId}/history`);
    expect(history.status).toBe(200);
    expect(history.body.data[0]).toMatchObject({ secret_path: PATH, status: "success", trigger: "manual", old_version: 1, new_version: 2, auto_generated: false });

    // A plain write afterwards is an ordinary update, not a rotation.
    await admin.put(`/v1/secrets/${PATH}`, { data: { client_id: "3MVG9...", client_secret: "again" } });
    expect((await outbox(v, PATH)).filter((e) => e.event_type === "secret.rotated")).toHaveLength(1);
  });

  it("lists, updates, pauses and resumes policies; the due list and history filter", async () => {
    const { admin } = vault();
    const policy = (await admin.post("/v1/rotation/policies", { name: "weekly", interval: "7d", warn_before: ["2d", "1d"], description: "d" })).body;
    expect(policy.warn_before).toBe("2d,1d");
    expect(policy.grace_period).toBe("48h");
    const list = await admin.get("/v1/rotation/policies?limit=1");
    expect(list.body.data).toHaveLength(1);
    expect(list.body.has_more).toBe(true);
    const rest = await admin.get(`/v1/rotation/policies?cursor=${list.body.cursor}`);
    expect([...list.body.data, ...rest.body.data].map((p: { name: string }) => p.name).sort()).toEqual(["quarterly", "weekly"]);

    await admin.put("/v1/secrets/app/token", { data: { password: "x" }, options: { rotation_policy_id: policy.id } });
    const linked = await admin.get("/v1/secrets/app/token");
    expect(linked.body.rotation).toMatchObject({ policy_id: policy.id, state: "scheduled" });

    const patched = await admin.patch(`/v1/rotation/policies/${policy.id}`, { interval: "1d" });
    expect(patched.body).toMatchObject({ interval: "1d", interval_seconds: 86_400, secrets_count: 1 });
    const next = Date.parse((await admin.get("/v1/secrets/app/token")).body.rotation.next_rotation_at);
    expect(Math.abs(next - (Date.now() + DAY))).toBeLessThan(60_000);

    const due = await admin.get("/v1/rotation/due?within_hours=48");
    expect(due.status).toBe(200);
    expect(due.body.data.map((d: { secret_path: string }) => d.secret_path)).toEqual(["app/token"]);
    expect((await admin.get("/v1/rotation/due?within_hours=1")).body.data).toEqual([]);
    expect((await admin.get("/v1/rotation/pending?within_hours=48")).body.data).toHaveLength(1);

    expect((await admin.post(`/v1/rotation/policies/${policy.id}/disable`)).body.is_active).toBe(false);
    expect((await admin.get("/v1/secrets/app/token")).body.rotation.state).toBe("paused");
    expect((await admin.get("/v1/rotation/policies?active_only=true")).body.data.map((p: { name: string }) => p.name)).toEqual(["quarterly"]);
    expect((await admin.post(`/v1/rotation/policies/${policy.id}/enable`)).body.is_active).toBe(true);

    const detached = await admin.delete(`/v1/rotation/policies/${policy.id}/secrets/${encodeURIComponent("app/token")}`);
    expect(detached.status).toBe(200);
    const plain = await admin.get("/v1/secrets/app/token");
    expect(plain.body.rotation_policy_id).toBeNull();
    expect(plain.body.rotation).toBeNull();

    expect((await admin.get(`/v1/rotation/policies/${policy.id}/history?status=failed`)).body.data).toEqual([]);
    expect((await admin.delete(`/v1/rotation/policies/${policy.id}`)).status).toBe(200);
    expect((await admin.get(`/v1/rotation/policies/${policy.id}`)).status).toBe(404);
  });

  it("deleting a policy detaches its secrets", async () => {
    const { admin } = vault();
    const policy = (await admin.post("/v1/rotation/policies", { name: "doomed", interval: "30d" })).body;
    await admin.put("/v1/secrets/app/doomed", { data: { password: "x" } });
    await admin.post(`/v1/rotation/policies/${policy.id}/secrets`, { secret_path: "app/doomed" });
    const deleted = await admin.delete(`/v1/rotation/policies/${policy.id}`);
    expect(deleted.body).toMatchObject({ id: policy.id, deleted: true, secrets_detached: 1 });
    const secret = await admin.get("/v1/secrets/app/doomed");
    expect(secret.body.rotation_policy_id).toBeNull();
    expect(secret.body.rotation).toBeNull();
  });
});
