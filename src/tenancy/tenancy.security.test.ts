import { beforeAll, expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault, type ApiClient } from "../testing/harness.js";

describeEachBackend("tenancy: isolation, resolution and partner secrets", (backend) => {
  const vault = useVault(backend);
  let inA: ApiClient;
  let inB: ApiClient;

  beforeAll(async () => {
    const { admin, anonymous } = vault();
    const created = await admin.post("/v1/identity/tenants", { id: "tnt_b", name: "Tenant B" });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id: "tnt_b", partner_id: "ptn_default", name: "Tenant B", status: "ACTIVE" });
    const generated = await admin.post("/v1/identity/tenants", { name: "Generated" });
    expect(generated.body.id).toMatch(/^tnt_[A-Za-z0-9]{20}$/);

    const b = { headers: { "x-tenant-id": "tnt_b" } };
    // The same path in both tenants, with different values.
    expect((await admin.put("/v1/secrets/app/db", { data: { password: "in-a" } })).status).toBe(201);
    expect((await admin.put("/v1/secrets/app/db", { data: { password: "in-b" } }, b)).status).toBe(201);
    expect((await admin.put("/v1/secrets/app/only-b", { data: { v: "b" } }, b)).status).toBe(201);
    // One identity name, the same grant in each tenant, each with a token issued in its own tenant.
    for (const headers of [{}, b.headers]) {
      const policy = await admin.post("/v1/policies", { name: "app", rules: [{ path_pattern: "app/**", permissions: ["read", "list"] }] }, { headers });
      expect(policy.status).toBe(201);
      await admin.post(`/v1/policies/${policy.body.id}/bindings`, { identity_type: "service_account", identity_id: "sa:app" }, { headers });
    }
    inA = anonymous.withToken((await admin.post("/v1/auth/tokens", { identity_id: "sa:app", scopes: ["secrets:read", "secrets:list", "policies:read", "identity:read"] })).body.token);
    const tokenB = await admin.post("/v1/auth/tokens", { identity_id: "sa:app", scopes: ["secrets:read", "secrets:list", "policies:read", "identity:read"] }, b);
    expect(tokenB.body.tenant_id).toBe("tnt_b");
    inB = anonymous.withToken(tokenB.body.token);
  });

  it("two tenants never see each other's secrets", async () => {
    expect((await inA.get("/v1/secrets/app/db")).body.data).toEqual({ password: "in-a" });
    expect((await inB.get("/v1/secrets/app/db")).body.data).toEqual({ password: "in-b" });
    expect((await inA.get("/v1/secrets/app/only-b")).body.error.code).toBe("secret_not_found");
    expect((await inA.get("/v1/secrets?prefix=app/")).body.data.map((s: { path: string }) => s.path)).toEqual(["app/db"]);
    expect((await inB.get("/v1/secrets?prefix=app/")).body.data.map((s: { path: string }) => s.path)).toEqual(["app/db", "app/only-b"]);
  });

  it("a non-admin cannot name another tenant (prefix or header): tenant_access_denied, existing or not", async () => {
    for (const response of [
      await inA.get("/v1/t/tnt_b/secrets/app/db"),
      await inA.get("/v1/secrets/app/db", { headers: { "x-tenant-id": "tnt_b" } }),
      await inA.get("/v1/secrets/app/db", { headers: { "x-tenant-id": "tnt_missing" } }),
    ]) {
      expect(response.status).toBe(403);
      expect(response.body.error.code).toBe("tenant_access_denied");
    }
    // Naming one's own tenant is fine.
    expect((await inB.get("/v1/t/tnt_b/secrets/app/db")).status).toBe(200);
  });

  it("a partner admin may name any tenant of its partner; an unknown one is tenant_not_found", async () => {
    const { admin } = vault();
    expect((await admin.get("/v1/t/tnt_b/secrets/app/db")).body.data).toEqual({ password: "in-b" });
    const missing = await admin.get("/v1/t/tnt_missing/secrets/app/db");
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe("tenant_not_found");
  });

  it("two tenants never see each other's policies or tokens", async () => {
    const { admin } = vault();
    const policiesA = (await admin.get("/v1/policies")).body.policies;
    const policiesB = (await admin.get("/v1/policies", { headers: { "x-tenant-id": "tnt_b" } })).body.policies;
    const ownA = policiesA.filter((p: { scope: string }) => p.scope === "tenant");
    const ownB = policiesB.filter((p: { scope: string }) => p.scope === "tenant");
    expect(ownA).toHaveLength(1);
    expect(ownB).toHaveLength(1);
    expect(ownA[0].id).not.toBe(ownB[0].id);
    expect((await admin.get(`/v1/policies/${ownA[0].id}`, { headers: { "x-tenant-id": "tnt_b" } })).body.error.code).toBe("policy_not_found");
    expect((await inB.get(`/v1/policies/${ownA[0].id}`)).body.error.code).toBe("policy_not_found");

    const tokensA = (await admin.get("/v1/auth/tokens")).body.data;
    const tokensB = (await admin.get("/v1/auth/tokens", { headers: { "x-tenant-id": "tnt_b" } })).body.data;
    expect(tokensB.every((t: { tenant_id: string }) => t.tenant_id === "tnt_b")).toBe(true);
    expect(tokensA.every((t: { tenant_id: string }) => t.tenant_id === "tnt_default")).toBe(true);
    const revoke = await admin.delete(`/v1/auth/tokens/${tokensA[0].id}`, { headers: { "x-tenant-id": "tnt_b" } });
    expect(revoke.body.error.code).toBe("token_not_found");
  });

  it("lists tenants: all of the partner for a partner admin, only its own for anyone else", async () => {
    const { admin } = vault();
    const all = await admin.get("/v1/identity/tenants");
    expect(all.status).toBe(200);
    expect(all.body.data.map((t: { id: string }) => t.id)).toEqual(expect.arrayContaining(["tnt_default", "tnt_b"]));
    expect((await inB.get("/v1/identity/tenants")).body.data.map((t: { id: string }) => t.id)).toEqual(["tnt_b"]);
    expect((await admin.post("/v1/identity/tenants", { id: "tnt_b", name: "again" })).body.error.code).toBe("already_exists");
    expect((await admin.post("/v1/identity/tenants", { id: "ptn_sneaky", name: "x" })).status).toBe(422);
    const notAdmin = await inB.post("/v1/identity/tenants", { name: "x" });
    expect(notAdmin.status).toBe(403);
  });

  it("partner secrets: written by partner admins, readable from every tenant where a partner policy grants it", async () => {
    const { admin, anonymous } = vault();
    const put = await admin.put("/v1/partner/secrets/shared/webhook-signing-key", { data: { key: "partner-wide" } });
    expect(put.status).toBe(201);
    // A tenant policy does not reach partner secrets, even one granting everything.
    const tenantWide = await admin.post("/v1/policies", { name: "everything-b", rules: [{ path_pattern: "**", permissions: ["read"] }] }, { headers: { "x-tenant-id": "tnt_b" } });
    await admin.post(`/v1/policies/${tenantWide.body.id}/bindings`, { identity_type: "service_account", identity_id: "sa:app" }, { headers: { "x-tenant-id": "tnt_b" } });
    const before = await inB.get("/v1/partner/secrets/shared/webhook-signing-key");
    expect(before.status).toBe(403);
    expect(before.body.error.code).toBe("access_denied");
    expect((await inB.get("/v1/secrets/shared/webhook-signing-key")).body.error.code).toBe("secret_not_found");

    const partnerPolicy = await admin.post("/v1/policies", { name: "shared-read", scope: "partner", rules: [{ path_pattern: "shared/*", permissions: ["read"] }] });
    expect(partnerPolicy.status).toBe(201);
    expect(partnerPolicy.body.scope).toBe("partner");
    await admin.post(`/v1/policies/${partnerPolicy.body.id}/bindings`, { identity_type: "service_account", identity_id: "sa:app" });
    expect((await inB.get("/v1/partner/secrets/shared/webhook-signing-key")).body.data).toEqual({ key: "partner-wide" });
    const fromA = await inA.get("/v1/partner/secrets/shared/webhook-signing-key");
    expect(fromA.body.data).toEqual({ key: "partner-wide" });
    const entry = await vault().vault.db.get<{ tenant_id: string; extra_data: string; secret_path: string }>("SELECT tenant_id, extra_data, secret_path FROM audit_log WHERE request_id = ?", [fromA.headers.get("x-request-id") as string]);
    expect(entry?.tenant_id).toBe("tnt_default");
    expect(entry?.secret_path).toBe("shared/webhook-signing-key");
    expect(JSON.parse(entry?.extra_data ?? "{}").partner_secret).toBe(true);

    const writer = anonymous.withToken((await admin.post("/v1/auth/tokens", { identity_id: "user:writer", scopes: ["secrets:write"] })).body.token);
    const refused = await writer.put("/v1/partner/secrets/shared/webhook-signing-key", { data: { key: "hijacked" } });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe("forbidden");
    expect((await admin.get("/v1/partner/secrets/shared/webhook-signing-key")).body.data).toEqual({ key: "partner-wide" });
  });
});
