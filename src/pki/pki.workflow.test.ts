import { beforeAll, expect, it } from "vitest";
import { BOOTSTRAP_ADMIN } from "../tenancy/bootstrap.js";
import { describeEachBackend } from "../testing/backends.js";
import { ApiClient, useVault } from "../testing/harness.js";
import { created, expectError, hierarchy, OpenSsl } from "./testing.js";

describeEachBackend("pki: CSR review workflow, trust anchors and the trust bundle", (backend) => {
  const vault = useVault(backend);
  const ssl = new OpenSsl();
  let h: Awaited<ReturnType<typeof hierarchy>>;
  let requester: ApiClient;

  beforeAll(async () => {
    const { admin } = vault();
    h = await hierarchy(admin, "wf", { name: "vendor", allowed_domains: ["partner.example"], allow_subdomains: true, key_type: "any" });
    const policy = await created(admin.post("/v1/policies", { name: "vendor-requests", rules: [{ path_pattern: "sys/pki/vendor", permissions: ["write"] }] }));
    expect((await admin.post(`/v1/policies/${policy.id}/bindings`, { identity_type: "service_account", identity_id: "sa:vendor-desk" })).status).toBe(201);
    const token = await admin.post("/v1/auth/tokens", { identity_id: "sa:vendor-desk", scopes: ["pki:issue"], expires_in: "1h" });
    requester = new ApiClient(vault().baseUrl, token.body.token);
  });

  it("submits, approves and signs a CSR; openssl verifies the certificate against the chain", async () => {
    const { admin } = vault();
    const { csr, keyFile } = (await ssl.csr("rsa:2048", "/CN=api.partner.example", ["DNS:api.partner.example", "DNS:www.partner.example"]));
    const submitted = await created(requester.post("/v1/pki/csrs", { csr_pem: csr, role: "vendor", comment: "ticket 42" }));
    expect(submitted).toMatchObject({ state: "pending", role: "vendor", common_name: "api.partner.example", alt_names: ["api.partner.example", "www.partner.example"], key_type: "rsa", requested_by: "sa:vendor-desk", comment: "ticket 42" });
    expect(submitted.id).toMatch(/^csr_/);
    expect((await admin.get("/v1/pki/csrs?state=pending")).body.data.map((c: any) => c.id)).toContain(submitted.id);
    // Approval is pki:admin's.
    expectError(await requester.post(`/v1/pki/csrs/${submitted.id}/approve`, {}), 403, "insufficient_scope");
    const approved = await admin.post(`/v1/pki/csrs/${submitted.id}/approve`, { ttl: "24h" });
    expect(approved.status, approved.text).toBe(200);
    expect(approved.body).toMatchObject({ id: submitted.id, state: "signed", approved_by: BOOTSTRAP_ADMIN, rejected_by: null });
    expect(approved.body.certificate_id).toMatch(/^cert_/);
    expect(approved.body.ca_chain).toEqual([h.intPem.trim(), h.rootPem.trim()]);
    const verified = (await ssl.verify(h.rootPem, [h.intPem], approved.body.certificate));
    expect(verified.status, verified.out).toBe(0);
    expect((await ssl.ok(["x509", "-noout", "-pubkey", "-in", ssl.file("csr-leaf.pem", approved.body.certificate)]))).toBe((await ssl.ok(["pkey", "-pubout", "-in", keyFile])));
    expect((await admin.get(`/v1/pki/certificates/${approved.body.certificate_id}`)).body.source).toBe("csr");
    // The requester reads its own CSR, certificate included.
    const mine = await requester.get(`/v1/pki/csrs/${submitted.id}`);
    expect(mine.body).toMatchObject({ state: "signed", certificate: approved.body.certificate });
    expectError(await admin.post(`/v1/pki/csrs/${submitted.id}/approve`, {}), 409, "csr_not_pending");
    expectError(await admin.post(`/v1/pki/csrs/${submitted.id}/reject`, { reason: "late" }), 409, "csr_not_pending");
    const audit = await vault().vault.db.get<{ extra_data: string }>("SELECT extra_data FROM audit_log WHERE action = 'pki_sign' AND success = 1 AND extra_data LIKE ?", [`%${submitted.id}%`]);
    expect(JSON.parse(audit!.extra_data)).toMatchObject({ csr_id: submitted.id, certificate_id: approved.body.certificate_id, role: "vendor" });
    const types = (await vault().vault.db.all<{ event_type: string }>("SELECT event_type FROM events WHERE event_type LIKE 'csr.%' ORDER BY id")).map((e) => e.event_type);
    expect(types).toEqual(["csr.submitted", "csr.approved"]);
  });

  it("rejects a pending CSR, and refuses at submission what the role does not allow", async () => {
    const { admin } = vault();
    const submitted = await created(requester.post("/v1/pki/csrs", { csr_pem: (await ssl.csr("ec:P-256", "/CN=b.partner.example")).csr, role: "vendor" }));
    const rejected = await admin.post(`/v1/pki/csrs/${submitted.id}/reject`, { reason: "unknown vendor" });
    expect(rejected.body).toMatchObject({ state: "rejected", reason: "unknown vendor", certificate_id: null });
    expectError(await admin.post(`/v1/pki/csrs/${submitted.id}/approve`, {}), 409, "csr_not_pending");
    expectError(await requester.post("/v1/pki/csrs", { csr_pem: (await ssl.csr("ec:P-256", "/CN=evil.example")).csr, role: "vendor" }), 400, "name_not_allowed");
    expectError(await requester.post("/v1/pki/csrs", { csr_pem: "garbage", role: "vendor" }), 400, "invalid_csr");
    expectError(await requester.post("/v1/pki/csrs", { csr_pem: (await ssl.csr("ec:P-256", "/CN=c.partner.example")).csr, role: "other" }), 403, "access_denied");
    expectError(await admin.get("/v1/pki/csrs/csr_missing"), 404, "csr_not_found");
  });

  it("a CSR nobody reviewed within SCAIVAULT_PKI_CSR_TTL (30 days) reads as expired and can no longer be approved or rejected", async () => {
    const { admin, vault: server } = vault();
    const submit = async (cn: string) => (await created(requester.post("/v1/pki/csrs", { csr_pem: (await ssl.csr("ec:P-256", `/CN=${cn}`)).csr, role: "vendor" }))).id as string;
    const [stale, lastMinute, fresh] = [await submit("stale.partner.example"), await submit("edge.partner.example"), await submit("fresh.partner.example")];
    const DAY = 86_400_000;
    // Submitted 31 days ago, and 30 days less a minute ago: one past the window, one still inside it.
    await server.db.run("UPDATE pki_csrs SET created_at = ?, updated_at = ? WHERE id = ?", [Date.now() - 31 * DAY, Date.now() - 31 * DAY, stale]);
    await server.db.run("UPDATE pki_csrs SET created_at = ?, updated_at = ? WHERE id = ?", [Date.now() - 30 * DAY + 60_000, Date.now() - 30 * DAY + 60_000, lastMinute]);

    expect((await admin.get(`/v1/pki/csrs/${stale}`)).body.state).toBe("expired");
    expect((await requester.get(`/v1/pki/csrs/${stale}`)).body.state).toBe("expired");
    expect((await admin.get(`/v1/pki/csrs/${lastMinute}`)).body.state).toBe("pending");
    const listed = async (query: string) => (await admin.get(`/v1/pki/csrs${query}`)).body.data.map((csr: { id: string }) => csr.id) as string[];
    const pending = await listed("?state=pending");
    expect(pending).toEqual(expect.arrayContaining([lastMinute, fresh]));
    expect(pending).not.toContain(stale);
    expect(await listed("?state=expired")).toEqual([stale]);
    const all = (await admin.get("/v1/pki/csrs")).body.data as { id: string; state: string }[];
    expect(all.find((csr) => csr.id === stale)?.state).toBe("expired");

    for (const decide of [admin.post(`/v1/pki/csrs/${stale}/approve`, {}), admin.post(`/v1/pki/csrs/${stale}/reject`, { reason: "too late" })]) {
      const refused = await decide;
      expectError(refused, 409, "csr_not_pending");
      expect(refused.body.error.details).toEqual({ state: "expired" });
    }
    // Nothing was signed or changed for it; the ones inside the window are decided as before.
    expect(await server.db.get("SELECT state, certificate_id FROM pki_csrs WHERE id = ?", [stale])).toEqual({ state: "pending", certificate_id: null });
    expect((await admin.post(`/v1/pki/csrs/${lastMinute}/approve`, {})).body.state).toBe("signed");
    expect((await admin.post(`/v1/pki/csrs/${fresh}/reject`, { reason: "no" })).body.state).toBe("rejected");
  });

  it("keeps trust anchors: CA certificates only, by name, in the trust bundle with the active CAs", async () => {
    const { admin } = vault();
    (await ssl.ok(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${ssl.dir}/ext.key`, "-out", `${ssl.dir}/ext.pem`, "-subj", "/CN=External Partner CA", "-days", "30", "-addext", "basicConstraints=critical,CA:TRUE"]));
    const externalPem = (await import("node:fs")).readFileSync(`${ssl.dir}/ext.pem`, "utf8");
    const anchor = await created(admin.post("/v1/pki/trust-anchors", { name: "partner-ca", certificate_pem: externalPem, description: "their root" }));
    expect(anchor).toMatchObject({ name: "partner-ca", subject: "CN=External Partner CA", issuer: "CN=External Partner CA", description: "their root" });
    expect(anchor.id).toMatch(/^ta_/);
    const fingerprint = (await ssl.ok(["x509", "-noout", "-fingerprint", "-sha256", "-in", `${ssl.dir}/ext.pem`])).split("=")[1].trim().replace(/:/g, "").toLowerCase();
    expect(anchor.fingerprint_sha256).toBe(fingerprint);
    expect((await admin.get(`/v1/pki/trust-anchors/${anchor.id}`)).body.certificate_pem.trim()).toBe(externalPem.trim());
    expectError(await admin.post("/v1/pki/trust-anchors", { name: "partner-ca", certificate_pem: externalPem }), 409, "already_exists");
    // A leaf is not a trust anchor.
    const leaf = await created(admin.post(`/v1/pki/issue/vendor`, { common_name: "leaf.partner.example" }));
    expectError(await admin.post("/v1/pki/trust-anchors", { name: "leaf", certificate_pem: leaf.certificate }), 400, "invalid_certificate");
    expectError(await admin.post("/v1/pki/trust-anchors", { name: "junk", certificate_pem: "junk" }), 400, "invalid_certificate");
    const bundle = await admin.get("/v1/pki/trust-bundle");
    expect(bundle.headers.get("content-type")).toContain("application/x-pem-file");
    expect(bundle.text).toContain(h.rootPem.trim());
    expect(bundle.text).toContain(h.intPem.trim());
    expect(bundle.text).toContain(externalPem.trim());
    // The bundle is a working CA file: openssl verifies an issued leaf against it alone.
    expect((await ssl.run(["verify", "-CAfile", ssl.file("bundle.pem", bundle.text), ssl.file("bundle-leaf.pem", leaf.certificate)])).status).toBe(0);
    expect((await admin.delete(`/v1/pki/trust-anchors/${anchor.id}`)).status).toBe(204);
    expectError(await admin.get(`/v1/pki/trust-anchors/${anchor.id}`), 404, "trust_anchor_not_found");
    expect((await admin.get("/v1/pki/trust-bundle")).text).not.toContain(externalPem.trim());
  });
});
