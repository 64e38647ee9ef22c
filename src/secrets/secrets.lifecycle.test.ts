import { expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault, type ApiResponse } from "../testing/harness.js";

function expectError(response: ApiResponse, status: number, code: string): void {
  expect(response.status, response.text).toBe(status);
  expect(response.body.error.code).toBe(code);
  expect(response.body.error.request_id).toBe(response.headers.get("x-request-id"));
}

const DAY_MS = 86_400_000;

describeEachBackend("secrets: versions, options and lifecycle", (backend) => {
  const vault = useVault(backend);

  it("PUT answers 201 then 200, with ETag, and never echoes data", async () => {
    const { admin } = vault();
    const first = await admin.put("/v1/secrets/life/etag", { data: { v: "1" } });
    expect(first.status).toBe(201);
    expect(first.headers.get("etag")).toBe('"1"');
    expect(first.body.data).toBeUndefined();
    const second = await admin.put("/v1/secrets/life/etag", { data: { v: "2" } });
    expect(second.status).toBe(200);
    expect(second.headers.get("etag")).toBe('"2"');
    const read = await admin.get("/v1/secrets/life/etag");
    expect(read.headers.get("etag")).toBe('"2"');
    expect(read.body).toMatchObject({ path: "life/etag", version: 2, secret_type: "kv", data: { v: "2" }, expires_at: null, rotation_policy_id: null });
    expect(Date.parse(read.body.created_at)).toBeLessThanOrEqual(Date.parse(read.body.updated_at));
  });

  it("accepts every secret type, and carries the type over when omitted", async () => {
    const { admin } = vault();
    for (const type of ["kv", "json", "certificate", "ssh_key", "api_key"]) {
      const put = await admin.put(`/v1/secrets/types/${type}`, { data: { nested: { deep: [1, 2, { x: null }] } }, secret_type: type });
      expect(put.status).toBe(201);
      expect(put.body.secret_type).toBe(type);
      const again = await admin.put(`/v1/secrets/types/${type}`, { data: { n: 2 } });
      expect(again.body.secret_type).toBe(type);
      expect((await admin.get(`/v1/secrets/types/${type}?version=1`)).body.data).toEqual({ nested: { deep: [1, 2, { x: null }] } });
    }
  });

  it("replaces metadata when given, keeps it when omitted, and merges options", async () => {
    const { admin } = vault();
    await admin.put("/v1/secrets/life/meta", {
      data: { a: 1 },
      metadata: { description: "first", tags: ["a", "b", "a"], owner: "team:x", custom: { env: "prod" } },
      options: { max_versions: 5, notify_before: "7d,1d" },
    });
    const kept = await admin.put("/v1/secrets/life/meta", { data: { a: 2 }, options: { expires_in: "90d" } });
    expect(kept.body.metadata).toEqual({ description: "first", tags: ["a", "b"], owner: "team:x", custom: { env: "prod" } });
    const meta = await admin.get("/v1/secrets/life/meta/metadata");
    expect(meta.status).toBe(200);
    expect(meta.body).toMatchObject({ current_version: 2, versions_count: 2, options: { max_versions: 5, expires_in: "90d", notify_before: "7d,1d" } });
    expect(meta.body.data).toBeUndefined();
    const replaced = await admin.put("/v1/secrets/life/meta", { data: { a: 3 }, metadata: { tags: ["c"] } });
    expect(replaced.body.metadata).toEqual({ description: null, tags: ["c"], owner: null, custom: {} });
    expect(Date.parse(replaced.body.expires_at) - Date.now()).toBeGreaterThan(89 * DAY_MS);
  });

  it("PATCH metadata changes metadata and options without a new version; merges what it is given", async () => {
    const { admin } = vault();
    await admin.put("/v1/secrets/life/patch", { data: { a: 1 }, metadata: { description: "d", tags: ["x"] } });
    const patched = await admin.patch("/v1/secrets/life/patch/metadata", { metadata: { tags: ["y", "z"] }, options: { max_versions: 3, expires_in: "30d" }, secret_type: "api_key" });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ version: 1, current_version: 1, secret_type: "api_key", metadata: { description: "d", tags: ["y", "z"] }, options: { max_versions: 3, expires_in: "30d" } });
    expect(patched.body.expires_at).not.toBeNull();
    const cleared = await admin.patch("/v1/secrets/life/patch/metadata", { options: { expires_in: null } });
    expect(cleared.body.expires_at).toBeNull();
    expect(cleared.body.options.expires_in).toBeNull();
    const read = await admin.get("/v1/secrets/life/patch");
    expect(read.body).toMatchObject({ version: 1, data: { a: 1 }, secret_type: "api_key" });
    expectError(await admin.patch("/v1/secrets/life/absent/metadata", { metadata: { tags: [] } }), 404, "secret_not_found");
    expectError(await admin.get("/v1/secrets/life/absent/metadata"), 404, "secret_not_found");
    expectError(await admin.get("/v1/secrets/life/absent/versions"), 404, "secret_not_found");
  });

  it("ages versions out past max_versions (404 version_not_found), and a lowered max prunes at once", async () => {
    const { admin } = vault();
    for (let i = 1; i <= 4; i++) await admin.put("/v1/secrets/life/aged", { data: { i }, options: { max_versions: 2 } });
    expectError(await admin.get("/v1/secrets/life/aged?version=1"), 404, "version_not_found");
    expectError(await admin.get("/v1/secrets/life/aged?version=2"), 404, "version_not_found");
    expect((await admin.get("/v1/secrets/life/aged?version=3")).body.data).toEqual({ i: 3 });
    expect((await admin.get("/v1/secrets/life/aged?version=previous")).body.data).toEqual({ i: 3 });
    const versions = await admin.get("/v1/secrets/life/aged/versions");
    expect(versions.body.versions.map((v: { version: number }) => v.version)).toEqual([4, 3]);
    await admin.patch("/v1/secrets/life/aged/metadata", { options: { max_versions: 1 } });
    expectError(await admin.get("/v1/secrets/life/aged?version=previous"), 404, "version_not_found");
    expectError(await admin.get("/v1/secrets/life/aged?version=99"), 404, "version_not_found");
    expect((await admin.get("/v1/secrets/life/aged")).body.data).toEqual({ i: 4 });
  });

  it("previous of a first version is version_not_found", async () => {
    const { admin } = vault();
    await admin.put("/v1/secrets/life/single", { data: { a: 1 } });
    expectError(await admin.get("/v1/secrets/life/single?version=previous"), 404, "version_not_found");
  });

  it("enforces cas in options and as If-Match, including 0 for create-only", async () => {
    const { admin } = vault();
    const created = await admin.put("/v1/secrets/life/cas", { data: { a: 1 }, options: { cas: 0 } });
    expect(created.status).toBe(201);
    const again = await admin.put("/v1/secrets/life/cas", { data: { a: 9 }, options: { cas: 0 } });
    expectError(again, 409, "version_conflict");
    expect(again.body.error.details.current_version).toBe(1);
    expectError(await admin.put("/v1/secrets/life/cas", { data: { a: 9 }, options: { cas: 5 } }), 409, "version_conflict");
    expect((await admin.put("/v1/secrets/life/cas", { data: { a: 2 }, options: { cas: 1 } })).status).toBe(200);
    expectError(await admin.put("/v1/secrets/life/cas", { data: { a: 9 } }, { headers: { "if-match": "1" } }), 409, "version_conflict");
    expect((await admin.put("/v1/secrets/life/cas", { data: { a: 3 } }, { headers: { "if-match": '"2"' } })).status).toBe(200);
    expectError(await admin.put("/v1/secrets/life/cas", { data: { a: 9 } }, { headers: { "if-match": "*" } }), 422, "validation_error");
    const both = await admin.put("/v1/secrets/life/cas", { data: { a: 9 }, options: { cas: 3 } }, { headers: { "if-match": "2" } });
    expectError(both, 422, "validation_error");
    expect(both.body.error.details.fields["If-Match"]).toBeDefined();
    expect((await admin.get("/v1/secrets/life/cas")).body).toMatchObject({ version: 3, data: { a: 3 } });
  });

  it("serialises concurrent writes to one path: every write gets its own version", async () => {
    const { admin } = vault();
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => admin.put("/v1/secrets/life/race", { data: { i } })));
    expect(results.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 201]);
    expect(results.map((r) => r.body.version).sort((a, b) => a - b)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
  });

  it("answers 410 secret_expired after expires_at, and a new write revives it with a fresh expiry", async () => {
    const { admin } = vault();
    const put = await admin.put("/v1/secrets/life/expiring", { data: { a: 1 }, options: { expires_in: "1s" } });
    expect(put.body.expires_at).not.toBeNull();
    let read = await admin.get("/v1/secrets/life/expiring");
    for (let i = 0; i < 100 && read.status === 200; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      read = await admin.get("/v1/secrets/life/expiring");
    }
    expectError(read, 410, "secret_expired");
    expect(read.body.error.details.expires_at).toBe(put.body.expires_at);
    expectError(await admin.get("/v1/secrets/life/expiring?version=1"), 410, "secret_expired");
    const batch = await admin.post("/v1/secrets/batch", { paths: ["life/expiring"] });
    expect(batch.body.errors["life/expiring"].code).toBe("secret_expired");
    expect((await admin.get("/v1/secrets/life/expiring/metadata")).status).toBe(200);
    const revived = await admin.put("/v1/secrets/life/expiring", { data: { a: 2 }, options: { expires_in: "1h" } });
    expect(revived.status).toBe(200);
    expect((await admin.get("/v1/secrets/life/expiring")).body.data).toEqual({ a: 2 });
  });

  it("soft-deletes: reads say deleted with recoverable_until, PUT says secret_exists, undelete restores", async () => {
    const { admin } = vault();
    await admin.put("/v1/secrets/life/deleted", { data: { a: 1 } });
    await admin.put("/v1/secrets/life/deleted", { data: { a: 2 } });
    const deleted = await admin.delete("/v1/secrets/life/deleted");
    expect(deleted.status).toBe(200);
    expect(deleted.body).toMatchObject({ path: "life/deleted", deleted: true, permanent: false, version_count: 2 });
    const until = Date.parse(deleted.body.recoverable_until);
    expect(until - Date.now()).toBeGreaterThan(29 * DAY_MS);
    expect(until - Date.now()).toBeLessThanOrEqual(30 * DAY_MS);

    const read = await admin.get("/v1/secrets/life/deleted");
    expectError(read, 404, "secret_not_found");
    expect(read.body.error.details).toEqual({ path: "life/deleted", deleted: true, recoverable_until: deleted.body.recoverable_until });
    expectError(await admin.get("/v1/secrets/life/deleted/metadata"), 404, "secret_not_found");
    expectError(await admin.get("/v1/secrets/life/deleted?version=1"), 404, "secret_not_found");
    const put = await admin.put("/v1/secrets/life/deleted", { data: { a: 3 } });
    expectError(put, 409, "secret_exists");
    expect(put.body.error.details.recoverable_until).toBe(deleted.body.recoverable_until);
    expectError(await admin.delete("/v1/secrets/life/deleted"), 404, "secret_not_found");
    const listed = await admin.get("/v1/secrets?prefix=life/deleted");
    expect(listed.body.data).toEqual([]);

    const restored = await admin.post("/v1/secrets/life/deleted/undelete");
    expect(restored.status).toBe(200);
    expect(restored.body).toMatchObject({ path: "life/deleted", version: 2 });
    expect((await admin.get("/v1/secrets/life/deleted")).body.data).toEqual({ a: 2 });
    expect((await admin.get("/v1/secrets/life/deleted?version=1")).body.data).toEqual({ a: 1 });
    expectError(await admin.post("/v1/secrets/life/never-existed/undelete"), 404, "secret_not_found");
  });

  it("deletes permanently, live or soft-deleted: the path starts again at version 1", async () => {
    const { admin } = vault();
    await admin.put("/v1/secrets/life/purged", { data: { a: 1 } });
    const gone = await admin.delete("/v1/secrets/life/purged?permanent=true");
    expect(gone.body).toMatchObject({ deleted: true, permanent: true, recoverable_until: null, version_count: 1 });
    const read = await admin.get("/v1/secrets/life/purged");
    expectError(read, 404, "secret_not_found");
    expect(read.body.error.details.deleted).toBeUndefined();
    expectError(await admin.post("/v1/secrets/life/purged/undelete"), 404, "secret_not_found");
    expect((await admin.put("/v1/secrets/life/purged", { data: { a: 2 } })).body.version).toBe(1);

    await admin.delete("/v1/secrets/life/purged");
    expect((await admin.delete("/v1/secrets/life/purged?permanent=true")).status).toBe(200);
    expect((await admin.put("/v1/secrets/life/purged", { data: { a: 3 } })).status).toBe(201);
    expectError(await admin.delete("/v1/secrets/life/absent?permanent=true"), 404, "secret_not_found");
    expectError(await admin.delete("/v1/secrets/life/purged?permanent=maybe"), 422, "validation_error");
  });

  it("treats a soft-deleted secret past its 30 days as absent: the next PUT starts again at version 1", async () => {
    const { admin, vault: v } = vault();
    await admin.put("/v1/secrets/life/retention", { data: { a: 1 } });
    await admin.put("/v1/secrets/life/retention", { data: { a: 2 } });
    await admin.delete("/v1/secrets/life/retention");
    // Thirty days pass.
    await v.db.run("UPDATE secrets SET recoverable_until = ? WHERE tenant_id = ? AND path = ?", [Date.now() - 1000, "tnt_default", "life/retention"]);
    const read = await admin.get("/v1/secrets/life/retention");
    expectError(read, 404, "secret_not_found");
    expect(read.body.error.details).toEqual({ path: "life/retention" });
    expectError(await admin.post("/v1/secrets/life/retention/undelete"), 404, "secret_not_found");
    expectError(await admin.delete("/v1/secrets/life/retention"), 404, "secret_not_found");
    const put = await admin.put("/v1/secrets/life/retention", { data: { a: 3 } });
    expect(put.status).toBe(201);
    expect(put.body.version).toBe(1);
    expectError(await admin.get("/v1/secrets/life/retention?version=2"), 404, "version_not_found");
    expect((await admin.get("/v1/secrets/life/retention/versions")).body.versions).toHaveLength(1);
  });

  it("destroys versions: 410 version_destroyed, state destroyed, other versions intact", async () => {
    const { admin } = vault();
    for (let i = 1; i <= 3; i++) await admin.put("/v1/secrets/life/burn", { data: { i } });
    const destroyed = await admin.post("/v1/secrets/life/burn/destroy", { versions: [1, 2, 2] });
    expect(destroyed.status).toBe(200);
    expect(destroyed.body).toEqual({ path: "life/burn", destroyed: [1, 2], current_version: 3 });
    expectError(await admin.get("/v1/secrets/life/burn?version=1"), 410, "version_destroyed");
    expectError(await admin.get("/v1/secrets/life/burn?version=previous"), 410, "version_destroyed");
    expect((await admin.get("/v1/secrets/life/burn")).body.data).toEqual({ i: 3 });
    const states = (await admin.get("/v1/secrets/life/burn/versions")).body.versions.map((v: any) => [v.version, v.state, v.destroyed_at !== null]);
    expect(states).toEqual([
      [3, "current", false],
      [2, "destroyed", true],
      [1, "destroyed", true],
    ]);
    const again = await admin.post("/v1/secrets/life/burn/destroy", { versions: [1] });
    expect(again.body.destroyed).toEqual([]);
    expectError(await admin.post("/v1/secrets/life/burn/destroy", { versions: [4] }), 404, "version_not_found");
    await admin.post("/v1/secrets/life/burn/destroy", { versions: [3] });
    expectError(await admin.get("/v1/secrets/life/burn"), 410, "version_destroyed");
    expectError(await admin.post("/v1/secrets/life/absent/destroy", { versions: [1] }), 404, "secret_not_found");
  });

  it("reports version states current, previous, superseded and deleted", async () => {
    const { admin } = vault();
    for (let i = 1; i <= 3; i++) await admin.put("/v1/secrets/life/states", { data: { i } });
    const states = (await admin.get("/v1/secrets/life/states/versions")).body;
    expect(states.current_version).toBe(3);
    expect(states.versions.map((v: any) => v.state)).toEqual(["current", "previous", "superseded"]);
    expect(states.versions[0].created_by).toBe("system:bootstrap");
    expect(states.versions.every((v: any) => v.data === undefined)).toBe(true);
  });

  it("serves the same API under /v1/t/{tenant_id}/secrets", async () => {
    const { admin } = vault();
    const put = await admin.put("/v1/t/tnt_default/secrets/prefixed/one", { data: { a: 1 } });
    expect(put.status).toBe(201);
    expect((await admin.get("/v1/secrets/prefixed/one")).body.data).toEqual({ a: 1 });
    expect((await admin.get("/v1/t/tnt_default/secrets/prefixed/one")).body.data).toEqual({ a: 1 });
    expect((await admin.get("/v1/t/tnt_default/secrets/prefixed/one/versions")).body.versions).toHaveLength(1);
    expect((await admin.get("/v1/t/tnt_default/secrets/prefixed/one/metadata")).status).toBe(200);
    expect((await admin.get("/v1/t/tnt_default/secrets?prefix=prefixed/")).body.data.map((s: any) => s.path)).toEqual(["prefixed/one"]);
    expect((await admin.post("/v1/t/tnt_default/secrets/batch", { paths: ["prefixed/one"] })).body.secrets["prefixed/one"].data).toEqual({ a: 1 });
    expect((await admin.get("/v1/t/tnt_default/secrets/expiring")).status).toBe(200);
    expectError(await admin.put("/v1/t/tnt_default/secrets/prefixed//one", { data: {} }), 400, "invalid_path");
    expectError(await admin.get("/v1/t/tnt_nope/secrets/prefixed/one"), 404, "tenant_not_found");
    expect((await admin.delete("/v1/t/tnt_default/secrets/prefixed/one")).status).toBe(200);
  });
});
