import { beforeAll, expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { ApiClient, useSecondNode, useVault } from "../testing/harness.js";
import { created, expectError, hierarchy, OpenSsl } from "./testing.js";

/**
 * Who may do what (contract P1): scopes, the role's policy path `sys/pki/<role>`, the secret path
 * of stored keys, what `pki:issue` may read, and tenants that never see each other.
 */
describeEachBackend("pki: scopes, role policies and tenants", (backend) => {
  const vault = useVault(backend);
  const second = useSecondNode(vault);
  const ssl = new OpenSsl();
  let h: Awaited<ReturnType<typeof hierarchy>>;
  let webIssuer: ApiClient;
  let noScope: ApiClient;
  let adminOnly: ApiClient;

  async function token(identity: string, scopes: string[]): Promise<ApiClient> {
    const issued = await vault().admin.post("/v1/auth/tokens", { identity_id: identity, scopes, expires_in: "1h" });
    expect(issued.status, issued.text).toBe(201);
    return new ApiClient(vault().baseUrl, issued.body.token);
  }

  beforeAll(async () => {
    const { admin } = vault();
    h = await hierarchy(admin, "acc", { name: "web", allowed_domains: ["web.example"], allow_subdomains: true });
    await created(admin.post("/v1/pki/roles", { name: "db", ca_id: h.int.id, allowed_domains: ["db.example"], allow_subdomains: true, key_type: "ec" }));
    await created(admin.post("/v1/pki/roles", { name: "stored", ca_id: h.int.id, allowed_domains: ["stored.example"], allow_subdomains: true, key_type: "ec", store_private_keys: true }));
    const policy = await created(admin.post("/v1/policies", { name: "web-issuer", rules: [{ path_pattern: "sys/pki/web", permissions: ["write"] }, { path_pattern: "sys/pki/stored", permissions: ["write"] }] }));
    expect((await admin.post(`/v1/policies/${policy.id}/bindings`, { identity_type: "service_account", identity_id: "sa:web-issuer" })).status).toBe(201);
    webIssuer = await token("sa:web-issuer", ["pki:issue"]);
    noScope = await token("sa:web-issuer", ["secrets:read"]);
    adminOnly = await token("sa:pki-admin", ["pki:admin"]);
  });

  it("lets a role's policy path decide who may issue under it", async () => {
    const issued = await created(webIssuer.post("/v1/pki/issue/web", { common_name: "a.web.example" }));
    expect((await ssl.verify(h.rootPem, [h.intPem], issued.certificate)).status).toBe(0);
    const denied = await webIssuer.post("/v1/pki/issue/db", { common_name: "a.db.example" });
    expectError(denied, 403, "access_denied");
    // Policy before existence: an unknown role answers the same 403.
    const unknown = await webIssuer.post("/v1/pki/issue/nope", { common_name: "a.db.example" });
    expectError(unknown, 403, "access_denied");
    expect(unknown.body.error.message).toBe(denied.body.error.message);
    expectError(await webIssuer.post("/v1/pki/sign/db", { csr_pem: (await ssl.csr("ec:P-256", "/CN=a.db.example")).csr }), 403, "access_denied");
    expectError(await noScope.post("/v1/pki/issue/web", { common_name: "a.web.example" }), 403, "insufficient_scope");
    // pki:admin alone may manage but not issue.
    expectError(await adminOnly.post("/v1/pki/issue/web", { common_name: "a.web.example" }), 403, "insufficient_scope");
    expectError(await webIssuer.post("/v1/pki/ca", { name: "x", common_name: "x", ca_type: "root" }), 403, "insufficient_scope");
    expectError(await webIssuer.post("/v1/pki/roles", { name: "x", ca_id: h.int.id }), 403, "insufficient_scope");
    expectError(await webIssuer.post(`/v1/pki/certificates/${issued.id}/revoke`, { reason: "superseded" }), 403, "insufficient_scope");
  });

  it("shows pki:issue only the certificates it created; pki:admin sees all", async () => {
    const { admin } = vault();
    const mine = await created(webIssuer.post("/v1/pki/issue/web", { common_name: "mine.web.example" }));
    const theirs = await created(admin.post("/v1/pki/issue/db", { common_name: "theirs.db.example" }));
    const listed = (await webIssuer.get("/v1/pki/certificates")).body.data.map((c: any) => c.id);
    expect(listed).toContain(mine.id);
    expect(listed).not.toContain(theirs.id);
    expectError(await webIssuer.get(`/v1/pki/certificates/${theirs.id}`), 404, "certificate_not_found");
    expect((await webIssuer.get(`/v1/pki/certificates/${mine.id}`)).status).toBe(200);
    const all = (await adminOnly.get("/v1/pki/certificates?limit=1000")).body.data.map((c: any) => c.id);
    expect(all).toEqual(expect.arrayContaining([mine.id, theirs.id]));
    expectError(await noScope.get("/v1/pki/certificates"), 403, "insufficient_scope");
  });

  it("stores the key as a certificate secret written by system:pki, when the caller may write its path", async () => {
    const { admin } = vault();
    // The issuer may use the role but not write under pki/stored/*.
    expectError(await webIssuer.post("/v1/pki/issue/stored", { common_name: "a.stored.example" }), 403, "access_denied");
    const issued = await created(admin.post("/v1/pki/issue/stored", { common_name: "a.stored.example" }));
    expect(issued.secret_path).toBe(`pki/stored/${issued.serial_number}`);
    const secret = await admin.get(`/v1/secrets/${issued.secret_path}`);
    expect(secret.status, secret.text).toBe(200);
    expect(secret.body.secret_type).toBe("certificate");
    expect(secret.body.data).toEqual({ cert_pem: issued.certificate, key_pem: issued.private_key, chain_pem: `${h.intPem.trim()}\n${h.rootPem.trim()}\n` });
    const row = await vault().vault.db.get<{ created_by: string }>("SELECT created_by FROM secrets WHERE path = ?", [issued.secret_path]);
    expect(row?.created_by).toBe("system:pki");
    const audit = await vault().vault.db.get<{ action: string; secret_path: string; extra_data: string }>("SELECT action, secret_path, extra_data FROM audit_log WHERE action = 'pki_issue' AND secret_path = ?", [issued.secret_path]);
    expect(audit).toBeDefined();
    expect(JSON.parse(audit!.extra_data)).toMatchObject({ role: "stored", ca_id: h.int.id, certificate_id: issued.id, serial_number: issued.serial_number });
    const events = await vault().vault.db.all<{ event_type: string; path: string | null; data: string }>("SELECT event_type, path, data FROM events WHERE path = ? ORDER BY id", [issued.secret_path]);
    expect(events.map((e) => e.event_type).sort()).toEqual(["certificate.issued", "secret.created"]);
    expect(JSON.parse(events.find((e) => e.event_type === "certificate.issued")!.data)).toMatchObject({ certificate_id: issued.id, serial_number: issued.serial_number, role: "stored", source: "issue", ca_id: h.int.id, order_id: null });
  });

  it("issues through a second node (the CA key unsealed there from the database)", async () => {
    const issued = await created(second().post("/v1/pki/issue/web", { common_name: "node2.web.example" }));
    expect((await ssl.verify(h.rootPem, [h.intPem], issued.certificate)).status).toBe(0);
  });

  it("never shows a tenant another tenant's CAs, roles or certificates", async () => {
    const { admin } = vault();
    const issued = await created(admin.post("/v1/pki/issue/web", { common_name: "t1.web.example" }));
    expect((await admin.post("/v1/identity/tenants", { id: "tnt_pki_two", name: "PKI two" })).status).toBe(201);
    const other = { headers: { "x-tenant-id": "tnt_pki_two" } };
    expect((await admin.get("/v1/pki/ca", other)).body.data).toEqual([]);
    expect((await admin.get("/v1/pki/roles", other)).body.data).toEqual([]);
    expect((await admin.get("/v1/pki/certificates", other)).body.data).toEqual([]);
    expectError(await admin.get(`/v1/pki/ca/${h.int.id}`, other), 404, "ca_not_found");
    expectError(await admin.get(`/v1/pki/certificates/${issued.id}`, other), 404, "certificate_not_found");
    expectError(await admin.get(`/v1/pki/certificates/${issued.serial_number}`, other), 404, "certificate_not_found");
    expectError(await admin.post(`/v1/pki/certificates/${issued.id}/revoke`, { reason: "superseded" }, other), 404, "certificate_not_found");
    expectError(await admin.post(`/v1/pki/ca/${h.int.id}/revoke`, { reason: "superseded" }, other), 404, "ca_not_found");
    expectError(await admin.post("/v1/pki/issue/web", { common_name: "x.web.example" }, other), 404, "role_not_found");
    expectError(await admin.post("/v1/pki/roles", { name: "steal", ca_id: h.int.id }, other), 404, "ca_not_found");
    expectError(await admin.post("/v1/pki/ca", { name: "child", common_name: "x", ca_type: "intermediate", parent_ca_id: h.root.id, key_type: "ec" }, other), 404, "ca_not_found");
    // The same names are free in the other tenant.
    const own = await created(admin.post("/v1/pki/ca", { name: "acc-root", common_name: "Two Root", ca_type: "root", key_type: "ec" }, other));
    expect((await admin.get("/v1/pki/ca", other)).body.data.map((c: any) => c.id)).toEqual([own.id]);
    expect((await admin.get("/v1/pki/ca")).body.data.map((c: any) => c.id)).not.toContain(own.id);
  });
});
