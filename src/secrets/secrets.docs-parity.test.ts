import { beforeAll, expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault, type ApiClient } from "../testing/harness.js";
import { eventually, TestReceiver } from "../events/test-receiver.js";

// The batch metadata bucket gets its own recognisable size (every other bucket is unlimited in tests).
const FAST = { SCAIVAULT_EVENTS_POLL_INTERVAL: "100ms", RATE_LIMIT_BATCH_METADATA: "5000" };

/** A service account with `list` (not read) on `parity/team/**` and `read` on `parity/team/open/**`. */
async function teamClient(admin: ApiClient): Promise<ApiClient> {
  const policy = await admin.post("/v1/policies", {
    name: "parity-team",
    rules: [
      { path_pattern: "parity/team/**", permissions: ["list"] },
      { path_pattern: "parity/team/open/**", permissions: ["read"] },
    ],
  });
  expect(policy.status, policy.text).toBe(201);
  const bound = await admin.post(`/v1/policies/${policy.body.id}/bindings`, { identity_type: "service_account", identity_id: "sa:parity" });
  expect(bound.status, bound.text).toBe(201);
  const token = await admin.post("/v1/auth/tokens", {
    identity_id: "sa:parity", identity_type: "service_account", scopes: ["secrets:read", "secrets:list", "subscriptions:read", "subscriptions:write"],
  });
  expect(token.status, token.text).toBe(201);
  return admin.withToken(token.body.token);
}

describeEachBackend("docs parity: error details, custom metadata, batch metadata, request events", (backend) => {
  const vault = useVault(backend, { env: FAST });
  let team: ApiClient;

  beforeAll(async () => {
    const { admin } = vault();
    for (const path of ["parity/team/a", "parity/team/b", "parity/team/open/c", "parity/other/d"]) {
      const put = await admin.put(`/v1/secrets/${path}`, { data: { v: path }, metadata: { tags: ["parity"] } });
      expect(put.status, put.text).toBe(201);
    }
    team = await teamClient(admin);
  });

  it("names the path in secret_not_found, as the docs' Errors page shows", async () => {
    const missing = await vault().admin.get("/v1/secrets/environments/production/missing");
    expect(missing.status).toBe(404);
    expect(missing.body.error).toMatchObject({ code: "secret_not_found", details: { path: "environments/production/missing" } });
    const version = await vault().admin.get("/v1/secrets/parity/team/a?version=9");
    expect(version.body.error).toMatchObject({ code: "version_not_found", details: { path: "parity/team/a", version: 9 } });
    // Every other answer with these codes names the path the same way.
    const destroy = await vault().admin.post("/v1/secrets/parity/team/a/destroy", { versions: [1, 7] });
    expect(destroy.status).toBe(404);
    expect(destroy.body.error).toMatchObject({ code: "version_not_found", details: { path: "parity/team/a", versions: [7] } });
    const policy = await vault().admin.post("/v1/rotation/policies", { name: "parity-details", interval: "30d" });
    expect(policy.status, policy.text).toBe(201);
    const detach = await vault().admin.delete(`/v1/rotation/policies/${policy.body.id}/secrets/parity/team/a`);
    expect(detach.status).toBe(404);
    expect(detach.body.error).toMatchObject({ code: "secret_not_found", details: { path: "parity/team/a", rotation_policy_id: policy.body.id } });
  });

  it("accepts custom keys directly inside metadata and answers them under custom", async () => {
    const { admin } = vault();
    const put = await admin.put("/v1/secrets/parity/meta/docs-form", { data: { k: "v" }, metadata: { description: "d", tags: ["x"], team: "payments", cost_center: 42, custom: { region: "eu" } } });
    expect(put.status, put.text).toBe(201);
    expect(put.body.metadata).toEqual({ description: "d", tags: ["x"], owner: null, custom: { region: "eu", team: "payments", cost_center: 42 } });
    const patch = await admin.patch("/v1/secrets/parity/meta/docs-form/metadata", { metadata: { team: "billing" } });
    expect(patch.status, patch.text).toBe(200);
    expect(patch.body.metadata.custom).toEqual({ team: "billing" });
    expect(patch.body.metadata.description).toBe("d");

    const both = await admin.put("/v1/secrets/parity/meta/ambiguous", { data: { k: "v" }, metadata: { team: "a", custom: { team: "b" } } });
    expect(both.status).toBe(422);
    expect(both.body.error.code).toBe("validation_error");
    expect(Object.keys(both.body.error.details.fields)).toEqual(["metadata.team"]);
    expect((await admin.get("/v1/secrets/parity/meta/ambiguous")).status).toBe(404);
  });

  it("batch metadata: list permission per path, no values, errors per path", async () => {
    const res = await team.post("/v1/secrets/batch/metadata", { paths: ["parity/team/a", "parity/team/open/c", "parity/other/d", "parity/team/nope", "Bad Path"] });
    expect(res.status, res.text).toBe(200);
    expect(Object.keys(res.body.secrets).sort()).toEqual(["parity/team/a", "parity/team/open/c"]);
    expect(res.body.secrets["parity/team/a"]).toMatchObject({ path: "parity/team/a", version: 1, metadata: { tags: ["parity"] }, versions_count: 1 });
    expect(res.body.secrets["parity/team/a"].data).toBeUndefined();
    expect(JSON.stringify(res.body)).not.toContain('"v":');
    expect(res.body.errors).toMatchObject({
      "parity/other/d": { code: "access_denied" },
      "parity/team/nope": { code: "secret_not_found" },
      "Bad Path": { code: "invalid_path" },
    });
  });

  it("batch metadata expands wildcards over listable paths only", async () => {
    const res = await team.post("/v1/secrets/batch/metadata", { paths: ["parity/**"], expand_wildcards: true });
    expect(res.status, res.text).toBe(200);
    expect(Object.keys(res.body.secrets)).toEqual(["parity/team/a", "parity/team/b", "parity/team/open/c"]);
    expect(res.body.errors).toEqual({});
    const bad = await team.post("/v1/secrets/batch/metadata", { paths: ["parity/a**"], expand_wildcards: true });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe("invalid_glob");
    const scope = await vault().admin.withToken((await vault().admin.post("/v1/auth/tokens", { identity_id: "sa:noscope", identity_type: "service_account", scopes: ["secrets:read"] })).body.token)
      .post("/v1/secrets/batch/metadata", { paths: ["parity/team/a"] });
    expect(scope.status).toBe(403);
    expect(scope.body.error.code).toBe("insufficient_scope");
    // At most 100 entries per request (SPEC §3, as batch read), charged to the docs' "Batch metadata" bucket.
    expect(res.headers.get("x-ratelimit-limit")).toBe("5000");
    const many = await team.post("/v1/secrets/batch/metadata", { paths: Array.from({ length: 101 }, (_, i) => `parity/team/x${i}`) });
    expect(many.status).toBe(422);
    expect(Object.keys(many.body.error.details.fields)).toEqual(["paths"]);
  });

  it("batch metadata refuses an expansion past 1,000 paths with 422", async () => {
    const { admin } = vault();
    // Concurrent writes commit in groups; one at a time would take a minute on a loaded machine.
    // Seeding retries a 503 as every client should (concurrent PostgreSQL writes can still meet a
    // transaction conflict, answered 503 + Retry-After); this test is about the expansion bound.
    const put = async (i: number) => {
      for (let attempt = 0; ; attempt++) {
        const res = await admin.put(`/v1/secrets/parity/many/s${i}`, { data: { i } });
        if (res.status !== 503 || attempt >= 5) return res;
      }
    };
    for (let start = 0; start < 1001; start += 10) {
      const puts = await Promise.all(Array.from({ length: Math.min(10, 1001 - start) }, (_, k) => put(start + k)));
      expect(puts.filter((p) => p.status !== 201).map((p) => p.text)).toEqual([]);
    }
    const res = await admin.post("/v1/secrets/batch/metadata", { paths: ["parity/many/*"], expand_wildcards: true });
    expect(res.status, res.text).toBe(422);
    expect(res.body.error.details.fields.paths).toMatch(/1000/);
  }, 180_000);

  it("reads write no secret.accessed event while no target names it (secret.* does not), and one per read while one does", async () => {
    const { admin, vault: server } = vault();
    const accessedCount = async () => Number((await server.db.get<{ n: number | string }>("SELECT COUNT(*) AS n FROM events WHERE event_type = 'secret.accessed'"))!.n);
    const broad = await admin.post("/v1/subscriptions", { name: "parity-none", paths: ["**"], events: ["secret.*", "*"], delivery: { type: "polling" } });
    expect(broad.status, broad.text).toBe(201);
    for (let i = 0; i < 3; i++) expect((await admin.get("/v1/secrets/parity/team/b")).status).toBe(200);
    expect(await accessedCount()).toBe(0);
    const explicit = await admin.post("/v1/subscriptions", { name: "parity-one", paths: ["nothing/**"], events: ["secret.accessed"], delivery: { type: "polling" } });
    expect(explicit.status, explicit.text).toBe(201);
    expect((await admin.get("/v1/secrets/parity/team/b")).status).toBe(200);
    expect(await accessedCount()).toBe(1);
    expect((await admin.delete(`/v1/subscriptions/${explicit.body.id}`)).status).toBeLessThan(300);
    expect((await admin.get("/v1/secrets/parity/team/b")).status).toBe(200);
    expect(await accessedCount()).toBe(1);
    expect((await admin.delete(`/v1/subscriptions/${broad.body.id}`)).status).toBeLessThan(300);
  });

  it("events about non-path resources carry \"path\": null rather than omitting it (SPEC §7, docs/conformance.md)", async () => {
    const { admin } = vault();
    // A webhook, as the seed's handler receives it (subscriptions carry path events only, SPEC §7).
    const receiver = await new TestReceiver().start();
    try {
      const hook = await admin.post("/v1/webhooks", { name: "parity-null-path", url: `${receiver.url}/hook`, secret: "whsec_parity_null_path_0123456789", events: ["policy.created"] });
      expect(hook.status, hook.text).toBe(201);
      const policy = await admin.post("/v1/policies", { name: "parity-null-path", rules: [{ path_pattern: "nowhere/*", permissions: ["read"] }] });
      expect(policy.status, policy.text).toBe(201);
      const [delivery] = await receiver.waitFor((r) => r.length >= 1);
      expect(delivery.event).toMatchObject({ event_type: "policy.created", path: null });
      // Present as a key in the body, so `event["path"]` does not raise.
      expect(Object.keys(delivery.event)).toContain("path");
      expect((await admin.delete(`/v1/webhooks/${hook.body.id}`)).status).toBeLessThan(300);
    } finally {
      await receiver.stop();
    }
  });

  it("secret.accessed reaches only targets that name it, and policy.violation is emitted for a 403 on a secret path", async () => {
    const { admin } = vault();
    const broad = await team.post("/v1/subscriptions", { name: "parity-broad", paths: ["parity/**"], events: ["secret.*", "policy.*"], delivery: { type: "polling" } });
    expect(broad.status, broad.text).toBe(201);
    const explicit = await team.post("/v1/subscriptions", { name: "parity-accessed", paths: ["parity/**"], events: ["secret.accessed"], delivery: { type: "polling" } });
    expect(explicit.status, explicit.text).toBe(201);

    const read = await team.get("/v1/secrets/parity/team/open/c");
    expect(read.status).toBe(200);
    const denied = await team.get("/v1/secrets/parity/team/a");
    expect(denied.status).toBe(403);

    const accessed = await eventually(() => team.get(`/v1/subscriptions/${explicit.body.id}/poll?timeout=1`), (res) => res.body.events.length >= 1);
    expect(accessed.body.events).toHaveLength(1);
    expect(accessed.body.events[0]).toMatchObject({ event_type: "secret.accessed", path: "parity/team/open/c", identity_id: "sa:parity", data: { version: 1, secret_type: "kv" } });

    // The broad subscription gets the violation (its owner may read... only open/**: the 403 was on
    // parity/team/a, which it may not read, so the admin's own subscription checks delivery instead).
    const adminSub = await admin.post("/v1/subscriptions", { name: "parity-admin", paths: ["parity/**"], events: ["policy.violation", "secret.*"], delivery: { type: "polling" } });
    expect(adminSub.status, adminSub.text).toBe(201);
    expect((await team.get("/v1/secrets/parity/other/d")).status).toBe(403);
    const violations = await eventually(() => admin.get(`/v1/subscriptions/${adminSub.body.id}/poll?timeout=1`), (res) => res.body.events.some((e: { event_type: string }) => e.event_type === "policy.violation"));
    const violation = violations.body.events.find((e: { event_type: string }) => e.event_type === "policy.violation");
    expect(violation).toMatchObject({ path: "parity/other/d", identity_id: "sa:parity", data: { permission: "read", code: "access_denied" } });
    // `secret.*` never includes secret.accessed. A write after the read reaches the broad
    // subscription; the read's event, written earlier, would have come before it.
    expect((await admin.put("/v1/secrets/parity/team/open/c", { data: { v: "changed" } })).status).toBe(200);
    // A poll hands its events over, so every poll's events are kept.
    const broadTypes: string[] = [];
    await eventually(async () => {
      const res = await team.get(`/v1/subscriptions/${broad.body.id}/poll?timeout=1`);
      broadTypes.push(...res.body.events.map((e: { event_type: string }) => e.event_type));
      return broadTypes;
    }, (types) => types.includes("secret.updated"));
    expect(broadTypes).not.toContain("secret.accessed");
  });
});
