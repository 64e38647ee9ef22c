import { expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";

describeEachBackend("rotation: scopes, policy and secrecy", (backend) => {
  const vault = useVault(backend);

  async function tokenFor(identity: string, scopes: string[]): Promise<string> {
    const issued = await vault().admin.post("/v1/auth/tokens", { identity_id: identity, identity_type: "service_account", scopes });
    expect(issued.status).toBe(201);
    return issued.body.token;
  }

  it("checks scopes on management routes and rotate permission on secret paths (same 403 whether or not it exists)", async () => {
    const { admin } = vault();
    const policy = (await admin.post("/v1/rotation/policies", { name: "p", interval: "30d", auto_generate: true })).body;
    await admin.put("/v1/secrets/team/db", { data: { password: "x" }, options: { rotation_policy_id: policy.id } });

    const reader = admin.withToken(await tokenFor("sa:reader", ["secrets:read"]));
    expect((await reader.get("/v1/rotation/policies")).body.error.code).toBe("insufficient_scope");
    expect((await reader.post("/v1/secret-policies", { name: "x", fields: [{ name: "a", generator: "hex" }] })).body.error.code).toBe("insufficient_scope");
    expect((await reader.post("/v1/secrets/team/db/rotate")).body.error.code).toBe("insufficient_scope");

    const rotator = admin.withToken(await tokenFor("sa:rotator", ["secrets:rotate"]));
    const existing = await rotator.post("/v1/secrets/team/db/rotate");
    const missing = await rotator.post("/v1/secrets/team/none/rotate");
    expect(existing.status).toBe(403);
    expect(existing.body.error.code).toBe("access_denied");
    expect(missing.body.error).toMatchObject({ code: existing.body.error.code, message: existing.body.error.message });
    expect((await rotator.post(`/v1/rotation/policies/${policy.id}/rotate`)).body.error.code).toBe("access_denied");
    expect((await admin.get("/v1/rotation/due?within_hours=2000")).body.data.map((d: { secret_path: string }) => d.secret_path)).toEqual(["team/db"]);
    expect((await rotator.get("/v1/rotation/due?within_hours=2000")).body.data).toEqual([]);
    expect((await rotator.post("/v1/rotation/policies", { name: "x", interval: "1d" })).body.error.code).toBe("insufficient_scope");

    const grant = await admin.post("/v1/policies", { name: "rotate-team", rules: [{ path_pattern: "team/**", permissions: ["rotate"] }] });
    expect(grant.status).toBe(201);
    expect((await admin.post(`/v1/policies/${grant.body.id}/bindings`, { identity_type: "service_account", identity_id: "sa:rotator" })).status).toBe(201);
    const allowed = await rotator.post("/v1/secrets/team/db/rotate");
    expect(allowed.status).toBe(202);
    expect(allowed.body.action).toBe("rotated");
    expect((await rotator.get("/v1/secrets/team/db")).body.error.code).toBe("insufficient_scope");
  });

  it("never puts generated values or previews into audit entries or logs", async () => {
    const { admin, logs, vault: v } = vault();
    const sp = (await admin.post("/v1/secret-policies", { name: "marker", fields: [{ name: "password", generator: "random", config: { length: 48 } }] })).body;
    const preview = (await admin.post(`/v1/secret-policies/${sp.id}/preview`)).body.data.password;
    const policy = (await admin.post("/v1/rotation/policies", { name: "marker-rot", interval: "30d", auto_generate: true, secret_policy_id: sp.id })).body;
    await admin.put("/v1/secrets/audit/me", { data: { password: "seed-value-123" }, options: { rotation_policy_id: policy.id } });
    expect((await admin.post("/v1/secrets/audit/me/rotate")).status).toBe(202);
    const generated = (await admin.get("/v1/secrets/audit/me")).body.data.password;
    const audit = JSON.stringify(await v.db.all("SELECT * FROM audit_log"));
    const events = JSON.stringify(await v.db.all("SELECT * FROM events"));
    for (const value of [preview, generated, "seed-value-123"]) {
      expect(audit).not.toContain(value);
      expect(events).not.toContain(value);
      expect(logs.join("")).not.toContain(value);
    }
    expect(audit).toContain("rotate");
  });

  it("keeps policies, recipes and schedules inside their tenant", async () => {
    const { admin } = vault();
    const tenant = await admin.post("/v1/identity/tenants", { id: "tnt_rot_other", name: "other" });
    expect(tenant.status).toBe(201);
    const other = { headers: { "X-Tenant-ID": "tnt_rot_other" } };
    const policy = (await admin.post("/v1/rotation/policies", { name: "home", interval: "30d" })).body;
    const sp = (await admin.post("/v1/secret-policies", { name: "home-sp", fields: [{ name: "k", generator: "hex" }] })).body;
    expect((await admin.get(`/v1/rotation/policies/${policy.id}`, other)).body.error.code).toBe("rotation_policy_not_found");
    expect((await admin.post(`/v1/secret-policies/${sp.id}/preview`, undefined, other)).body.error.code).toBe("secret_policy_not_found");
    expect((await admin.get("/v1/rotation/policies", other)).body.data).toEqual([]);
    // Same name in another tenant is fine; its secret cannot join this tenant's policy.
    expect((await admin.post("/v1/rotation/policies", { name: "home", interval: "30d" }, other)).status).toBe(201);
    await admin.put("/v1/secrets/iso/secret", { data: { a: 1 } }, other);
    expect((await admin.post(`/v1/rotation/policies/${policy.id}/secrets`, { secret_path: "iso/secret" }, other)).body.error.code).toBe("rotation_policy_not_found");
    expect((await admin.post(`/v1/rotation/policies/${policy.id}/secrets`, { secret_path: "iso/secret" })).body.error.code).toBe("secret_not_found");
  });

  it("documents the rotation routes in the OpenAPI document", async () => {
    const { anonymous } = vault();
    const paths = (await anonymous.get("/v1/openapi.json")).body.paths;
    for (const path of ["/v1/secrets/{path}/rotate", "/v1/rotation/policies", "/v1/rotation/policies/{id}/secrets/{secret_path}", "/v1/rotation/due", "/v1/secret-policies/{id}/preview"]) {
      expect(paths[path], path).toBeDefined();
    }
  });
});
