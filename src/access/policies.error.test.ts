import { expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { until } from "../testing/observe.js";

const rule = (path_pattern: string, permissions: string[] = ["read"], extra: Record<string, unknown> = {}) => ({ path_pattern, permissions, ...extra });

describeEachBackend("access: policies API errors and lifecycle", (backend) => {
  const vault = useVault(backend);

  it("answers invalid_glob, invalid_policy and validation_error for bad policies", async () => {
    const { admin } = vault();
    const cases: Array<[unknown, number, string]> = [
      [{ name: "a", rules: [rule("/app/**")] }, 400, "invalid_glob"],
      [{ name: "a", rules: [rule("app/**x")] }, 400, "invalid_glob"],
      [{ name: "a", rules: [rule("app//db")] }, 400, "invalid_glob"],
      [{ name: "a", rules: [rule("App/db")] }, 400, "invalid_glob"],
      [{ name: "a", rules: [rule("app/db", ["read", "steal"])] }, 400, "invalid_policy"],
      [{ name: "a", rules: [rule("app/db", [])] }, 400, "invalid_policy"],
      [{ name: "a", rules: [rule("app/db", ["read"], { effect: "maybe" })] }, 400, "invalid_policy"],
      [{ name: "a", rules: [rule("app/db", ["read"], { conditions: { ip_ranges: ["10.0.0.0/33"] } })] }, 400, "invalid_policy"],
      [{ name: "a", rules: [rule("app/db", ["read"], { conditions: { time_window: { start: "25:00", end: "18:00" } } })] }, 400, "invalid_policy"],
      [{ name: "a", rules: [rule("app/db", ["read"], { conditions: { time_window: { start: "08:00", end: "18:00", timezone: "Mars/Olympus" } } })] }, 400, "invalid_policy"],
      [{ name: "a", rules: [rule("app/db", ["read"], { conditions: { geo: "nl" } })] }, 422, "validation_error"],
      [{ name: "a" }, 422, "validation_error"],
      [{ name: "a", rules: [], scope: "galaxy" }, 422, "validation_error"],
      [{ name: "a", rules: [], colour: "red" }, 422, "validation_error"],
    ];
    for (const [body, status, code] of cases) {
      const response = await admin.post("/v1/policies", body);
      expect({ body, status: response.status, code: response.body.error?.code }).toEqual({ body, status, code });
    }
    expect((await admin.post("/v1/policies", "[1,2]" as unknown as object, { raw: "[1,2]" })).body.error.code).toBe("invalid_request");
    expect((await admin.get("/v1/policies")).body.policies.map((p: { name: string }) => p.name)).toEqual(["builtin-admin"]);
  });

  it("creates, reads, lists, replaces (keeping bindings), patches and deletes policies", async () => {
    const { admin } = vault();
    const created = await admin.post("/v1/policies", { name: "app", description: "d", rules: [rule("app/**", ["read", "list"])] });
    expect(created.status).toBe(201);
    const id = created.body.id;
    expect((await admin.post("/v1/policies", { name: "app", rules: [] })).body.error.code).toBe("already_exists");
    expect((await admin.post(`/v1/policies/${id}/bindings`, { identity_type: "user", identity_id: "user:ann" })).status).toBe(201);
    const duplicate = await admin.post(`/v1/policies/${id}/bindings`, { identity_type: "user", identity_id: "ann" });
    expect(duplicate.status).toBe(409);
    expect(duplicate.body.error.code).toBe("already_exists");

    const list = await admin.get("/v1/policies?limit=1");
    expect(list.status).toBe(200);
    expect(list.body.policies).toHaveLength(1);
    expect(list.body.has_more).toBe(true);
    const next = await admin.get(`/v1/policies?limit=10&cursor=${list.body.cursor}`);
    expect(next.body.has_more).toBe(false);
    const all = [...list.body.policies, ...next.body.policies];
    expect(all.find((p: { id: string }) => p.id === id)).toMatchObject({ name: "app", rule_count: 1, binding_count: 1, is_active: true });
    expect((await admin.get("/v1/policies?cursor=garbage")).body.error.code).toBe("invalid_cursor");

    const replaced = await admin.put(`/v1/policies/${id}`, { name: "app2", rules: [rule("app/db")] });
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({ name: "app2", description: null });
    expect(replaced.body.bindings.map((b: { identity_id: string }) => b.identity_id)).toEqual(["user:ann"]);
    const patched = await admin.patch(`/v1/policies/${id}`, { description: "patched" });
    expect(patched.body).toMatchObject({ name: "app2", description: "patched", rules: [{ path_pattern: "app/db", permissions: ["read"] }] });

    const inUse = await admin.delete(`/v1/policies/${id}`);
    expect(inUse.status).toBe(409);
    expect(inUse.body.error.code).toBe("policy_in_use");
    const forced = await admin.delete(`/v1/policies/${id}?force=true`);
    expect(forced.status).toBe(200);
    expect(forced.body.removed_bindings).toBe(1);
    expect((await admin.get(`/v1/policies/${id}`)).body.error.code).toBe("policy_not_found");
    expect((await admin.get(`/v1/policies/${id}/bindings`)).body.error.code).toBe("policy_not_found");
  });

  it("answers not-found codes and refuses bad bindings", async () => {
    const { admin } = vault();
    expect((await admin.get("/v1/policies/pol_nope")).status).toBe(404);
    expect((await admin.post("/v1/policies/pol_nope/bindings", { identity_type: "user", identity_id: "user:x" })).body.error.code).toBe("policy_not_found");
    const id = (await admin.post("/v1/policies", { name: "b", rules: [rule("b/*")] })).body.id;
    expect((await admin.delete(`/v1/policies/${id}/bindings/bnd_nope`)).body.error.code).toBe("binding_not_found");
    expect((await admin.post(`/v1/policies/${id}/bindings`, { identity_type: "group", identity_id: "sa:x" })).body.error.code).toBe("invalid_policy");
    expect((await admin.post(`/v1/policies/${id}/bindings`, { identity_type: "robot", identity_id: "x" })).status).toBe(422);
    const past = await admin.post(`/v1/policies/${id}/bindings`, { identity_type: "user", identity_id: "user:x", expires_at: "2001-01-01T00:00:00Z" });
    expect(past.status).toBe(422);
    expect((await admin.post(`/v1/policies/${id}/bindings`, { identity_type: "user", identity_id: "user:x", expires_at: "tomorrow" })).status).toBe(422);
    const group = await admin.post(`/v1/policies/${id}/bindings`, { identity_type: "group", identity_id: "sre", expires_at: "2999-01-01T00:00:00Z" });
    expect(group.status).toBe(201);
    expect(group.body).toMatchObject({ identity_id: "group:sre", expires_at: "2999-01-01T00:00:00.000Z" });
  });

  it("protects the built-in policy and needs the policies scopes", async () => {
    const { admin, anonymous } = vault();
    const builtin = (await admin.get("/v1/policies")).body.policies.find((p: { builtin: boolean }) => p.builtin);
    expect((await admin.put(`/v1/policies/${builtin.id}`, { name: "x", rules: [] })).body.error.code).toBe("forbidden");
    expect((await admin.delete(`/v1/policies/${builtin.id}?force=true`)).body.error.code).toBe("forbidden");
    const token = (await admin.post("/v1/auth/tokens", { identity_id: "user:reader", scopes: ["policies:read"] })).body.token;
    const reader = anonymous.withToken(token);
    expect((await reader.get("/v1/policies")).status).toBe(200);
    const write = await reader.post("/v1/policies", { name: "x", rules: [] });
    expect(write.status).toBe(403);
    expect(write.body.error.code).toBe("insufficient_scope");
    // A tenant-level caller cannot create or change partner-wide policies.
    const tenantAdmin = anonymous.withToken((await admin.post("/v1/auth/tokens", { identity_id: "user:ta", scopes: ["policies:write", "policies:read"] })).body.token);
    expect((await tenantAdmin.post("/v1/policies", { name: "wide", scope: "partner", rules: [rule("**")] })).body.error.code).toBe("forbidden");
    expect((await tenantAdmin.post(`/v1/policies/${builtin.id}/bindings`, { identity_type: "user", identity_id: "user:ta" })).body.error.code).toBe("forbidden");
  });

  it("a policy change applies on the next request; an expired binding stops granting", async () => {
    const { admin, anonymous } = vault();
    await admin.put("/v1/secrets/live/one", { data: { v: 1 } });
    const client = anonymous.withToken((await admin.post("/v1/auth/tokens", { identity_id: "user:live", scopes: ["secrets:read"] })).body.token);
    const id = (await admin.post("/v1/policies", { name: "live", rules: [rule("live/*")] })).body.id;
    expect((await client.get("/v1/secrets/live/one")).status).toBe(403);
    const binding = await admin.post(`/v1/policies/${id}/bindings`, { identity_type: "user", identity_id: "user:live" });
    expect((await client.get("/v1/secrets/live/one")).status).toBe(200);
    expect((await admin.patch(`/v1/policies/${id}`, { rules: [rule("other/*")] })).status).toBe(200);
    expect((await client.get("/v1/secrets/live/one")).status).toBe(403);
    expect((await admin.patch(`/v1/policies/${id}`, { rules: [rule("live/*")] })).status).toBe(200);
    expect((await client.get("/v1/secrets/live/one")).status).toBe(200);
    expect((await admin.patch(`/v1/policies/${id}`, { is_active: false })).status).toBe(200);
    expect((await client.get("/v1/secrets/live/one")).status).toBe(403);
    expect((await admin.patch(`/v1/policies/${id}`, { is_active: true })).status).toBe(200);
    expect((await client.get("/v1/secrets/live/one")).status).toBe(200);
    // A binding's expiry ends the grant by itself, with no change to announce it.
    expect((await admin.delete(`/v1/policies/${id}/bindings/${binding.body.id}`)).status).toBe(200);
    // 8 s: far longer than the one POST and GET that must land before it, however loaded the machine.
    const expiresAt = Date.now() + 8_000;
    expect((await admin.post(`/v1/policies/${id}/bindings`, { identity_type: "user", identity_id: "user:live", expires_at: new Date(expiresAt).toISOString() })).status).toBe(201);
    const beforeExpiry = await client.get("/v1/secrets/live/one");
    expect(beforeExpiry.status).toBe(200);
    // The expiry is a moment on the (shared) clock: wait for the moment itself, then read once.
    await until("the binding's expiry", () => Date.now() > expiresAt, 60_000);
    expect((await client.get("/v1/secrets/live/one")).status).toBe(403);
  }, 60_000);

  it("POST /v1/policies/test dry-runs a decision and writes no audit entry", async () => {
    const { admin, vault: server } = vault();
    const id = (await admin.post("/v1/policies", { name: "dry", rules: [rule("dry/**", ["read"], { conditions: { ip_ranges: ["10.0.0.0/8"] } }), rule("dry/secret", ["read"], { effect: "deny" })] })).body.id;
    await admin.post(`/v1/policies/${id}/bindings`, { identity_type: "service_account", identity_id: "sa:dry" });
    const test = (body: Record<string, unknown>) => admin.post("/v1/policies/test", { identity_id: "sa:dry", permission: "read", ...body });
    const allowed = await test({ path: "dry/a", context: { source_ip: "10.1.2.3" } });
    expect(allowed.status).toBe(200);
    expect(allowed.body).toEqual({ allowed: true, code: null, policy_id: id, rule_index: 0, failed_condition: null });
    expect((await test({ path: "dry/a", context: { source_ip: "192.168.1.1" } })).body).toEqual({ allowed: false, code: "ip_not_allowed", policy_id: id, rule_index: 0, failed_condition: "ip_ranges" });
    expect((await test({ path: "dry/secret", context: { source_ip: "10.1.2.3" } })).body).toMatchObject({ allowed: false, code: "access_denied", rule_index: 1 });
    expect((await test({ path: "elsewhere/x" })).body).toMatchObject({ allowed: false, code: "access_denied", policy_id: null });
    expect((await test({ path: "/bad" })).body.error.code).toBe("invalid_path");
    const audited = await server.db.all<{ request_id: string }>("SELECT request_id FROM audit_log WHERE request_id = ?", [allowed.headers.get("x-request-id") as string]);
    expect(audited).toHaveLength(0);
    const created = await server.db.all("SELECT request_id FROM audit_log WHERE action = ?", ["policy_create"]);
    expect(created.length).toBeGreaterThan(0);
  });
});
