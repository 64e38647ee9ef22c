import { beforeAll, expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { created, expectError, hierarchy, OpenSsl } from "./testing.js";

describeEachBackend("pki: CAs, roles, issue and sign, checked with openssl", (backend) => {
  const vault = useVault(backend);
  const ssl = new OpenSsl();
  let h: Awaited<ReturnType<typeof hierarchy>>;

  beforeAll(async () => {
    h = await hierarchy(vault().admin, "mesh", { allowed_domains: ["*.svc.cluster.local", "internal"], allow_subdomains: false, allow_ip_sans: true, max_ttl: "720h", ttl: "168h" });
  });

  it("creates a root and an intermediate with the contract's fields and extensions", async () => {
    const { admin } = vault();
    expect(h.root).toMatchObject({ name: "mesh-root", ca_type: "root", parent_ca_id: null, key_type: "ec", key_size: 256, is_active: true, revoked_at: null, certificates_issued: 0 });
    expect(h.root.id).toMatch(/^ca_[A-Za-z0-9]{20}$/);
    expect(h.root.serial_number).toMatch(/^[0-9a-f]{32}$/);
    expect(Date.parse(h.root.valid_until) - Date.now()).toBeGreaterThan(3649 * 86_400_000);
    expect(h.int).toMatchObject({ ca_type: "intermediate", parent_ca_id: h.root.id, key_type: "ec", key_size: 384 });
    const text = (await ssl.ok(["x509", "-noout", "-text", "-in", ssl.file("int-text.pem", h.intPem)]));
    expect(text).toMatch(/Basic Constraints: critical\s+CA:TRUE/);
    expect(text).toMatch(/Key Usage: critical\s+[^\n]*Certificate Sign, CRL Sign/);
    expect(text).toContain("Subject Key Identifier");
    expect(text).toContain("Authority Key Identifier");
    expect(text).toContain("ecdsa-with-SHA256");
    // The intermediate verifies against the root.
    expect((await ssl.verify(h.rootPem, [], h.intPem)).status).toBe(0);
    const chain = await admin.get(`/v1/pki/ca/${h.int.id}/certificate`);
    expect(chain.body).toEqual({ ca_id: h.int.id, certificate_pem: h.intPem, chain_pem: `${h.rootPem.trim()}\n` });
    expect((await admin.get(`/v1/pki/ca/${h.root.id}/certificate`)).body.chain_pem).toBe("");
    expect((await admin.get("/v1/pki/ca")).body.data.map((c: any) => c.name)).toEqual(["mesh-root", "mesh-int"]);
    expectError(await admin.post("/v1/pki/ca", { name: "mesh-root", common_name: "dup", ca_type: "root", key_type: "ec" }), 409, "already_exists");
  });

  it("serves the CA certificate as PEM or DER by Accept or ?format, without a token", async () => {
    const { anonymous } = vault();
    const pem = await anonymous.get(`/v1/pki/ca/${h.int.id}/certificate`, { headers: { accept: "application/x-pem-file" } });
    expect(pem.status).toBe(200);
    expect(pem.headers.get("content-type")).toContain("application/x-pem-file");
    expect(pem.text).toBe(`${h.intPem.trim()}\n${h.rootPem.trim()}\n`);
    const der = await fetch(`${vault().baseUrl}/v1/pki/ca/${h.root.id}/certificate`, { headers: { accept: "application/pkix-cert" } });
    expect(der.headers.get("content-type")).toContain("application/pkix-cert");
    const derFile = ssl.file("root.der", Buffer.from(await der.arrayBuffer()));
    expect((await ssl.ok(["x509", "-inform", "DER", "-noout", "-serial", "-in", derFile])).toLowerCase()).toContain(h.root.serial_number);
    const forced = await anonymous.get(`/v1/pki/ca/${h.root.id}/certificate?format=pem`, { headers: { accept: "application/pkix-cert" } });
    expect(forced.text).toBe(`${h.rootPem.trim()}\n`);
    expectError(await anonymous.get("/v1/pki/ca/ca_nope/certificate"), 404, "ca_not_found");
  });

  it("issues with a server key shown once; openssl verifies the chain and the key matches", async () => {
    const { admin } = vault();
    const issued = await created(admin.post(`/v1/pki/issue/${h.role.name}`, { common_name: "billing.svc.cluster.local", alt_names: ["internal"], ip_sans: ["10.0.0.7"], ttl: "2h" }));
    expect(issued.id).toMatch(/^cert_/);
    expect(issued.private_key).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(issued.private_key_type).toBe("ec");
    expect(issued.ca_chain).toEqual([h.intPem.trim(), h.rootPem.trim()]);
    expect(issued.issuing_ca).toBe(h.intPem.trim());
    expect(issued.secret_path).toBeNull();
    expect(Date.parse(issued.not_after) - Date.now()).toBeLessThanOrEqual(2 * 3_600_000);
    const verified = (await ssl.verify(h.rootPem, [h.intPem], issued.certificate));
    expect(verified.status, verified.out).toBe(0);
    expect(verified.out).toContain(": OK");
    const leaf = ssl.file("issued.pem", issued.certificate);
    const text = (await ssl.ok(["x509", "-noout", "-text", "-in", leaf]));
    expect(text).toContain("DNS:billing.svc.cluster.local");
    expect(text).toContain("DNS:internal");
    expect(text).toContain("IP Address:10.0.0.7");
    expect(text).toMatch(/CA:FALSE/);
    expect(text).toContain("TLS Web Server Authentication, TLS Web Client Authentication");
    const certKey = (await ssl.ok(["x509", "-noout", "-pubkey", "-in", leaf]));
    const privKey = (await ssl.ok(["pkey", "-pubout", "-in", ssl.file("issued.key", issued.private_key)]));
    expect(certKey).toBe(privKey);
    // Later reads never show the key again.
    const got = await admin.get(`/v1/pki/certificates/${issued.id}`);
    expect(got.body).toMatchObject({ id: issued.id, serial_number: issued.serial_number, source: "issue", role: h.role.name, ca_id: h.int.id, common_name: "billing.svc.cluster.local" });
    expect(got.text).not.toContain("PRIVATE KEY");
    expect((await admin.get(`/v1/pki/certificates/${issued.serial_number}`)).body.id).toBe(issued.id);
    const pem = await admin.get(`/v1/pki/certificates/${issued.id}/pem`);
    expect(pem.text).toBe(`${issued.certificate.trim()}\n${h.intPem.trim()}\n${h.rootPem.trim()}\n`);
    expect((await admin.get(`/v1/pki/ca/${h.int.id}`)).body.certificates_issued).toBe(1);
  });

  it("caps the TTL at the role's max_ttl without an error, and at the issuer's validity", async () => {
    const { admin } = vault();
    const issued = await created(admin.post(`/v1/pki/issue/${h.role.name}`, { common_name: "cap.svc.cluster.local", ttl: "9999h" }));
    const lifetime = Date.parse(issued.not_after) - Date.now();
    expect(lifetime).toBeLessThanOrEqual(720 * 3_600_000);
    expect(lifetime).toBeGreaterThan(719 * 3_600_000);
    const byDefault = await created(admin.post(`/v1/pki/issue/${h.role.name}`, { common_name: "default.svc.cluster.local" }));
    expect(Math.abs(Date.parse(byDefault.not_after) - Date.now() - 168 * 3_600_000)).toBeLessThan(600_000);
  });

  it("signs a client CSR made by openssl, and the given names replace the CSR's", async () => {
    const { admin } = vault();
    const { csr, keyFile } = (await ssl.csr("ec:P-256", "/CN=reporting.svc.cluster.local", ["DNS:reporting.svc.cluster.local"]));
    const signed = await created(admin.post(`/v1/pki/sign/${h.role.name}`, { csr_pem: csr, ttl: "1h" }));
    expect(signed.private_key).toBeUndefined();
    expect((await ssl.verify(h.rootPem, [h.intPem], signed.certificate)).status).toBe(0);
    const leaf = ssl.file("signed.pem", signed.certificate);
    expect((await ssl.ok(["x509", "-noout", "-pubkey", "-in", leaf]))).toBe((await ssl.ok(["pkey", "-pubout", "-in", keyFile])));
    expect((await admin.get(`/v1/pki/certificates/${signed.id}`)).body.source).toBe("sign");
    const replaced = await created(admin.post(`/v1/pki/sign/${h.role.name}`, { csr_pem: csr, common_name: "other.svc.cluster.local", alt_names: [] }));
    expect((await ssl.ok(["x509", "-noout", "-subject", "-in", ssl.file("replaced.pem", replaced.certificate)]))).toContain("other.svc.cluster.local");
  });

  it("refuses names, keys and CSRs the role does not allow, with the contract's codes", async () => {
    const { admin } = vault();
    const role = h.role.name;
    const refused = await admin.post(`/v1/pki/issue/${role}`, { common_name: "a.b.svc.cluster.local" });
    expectError(refused, 400, "name_not_allowed");
    expect(refused.body.error.details).toEqual({ name: "a.b.svc.cluster.local" });
    const second = await admin.post(`/v1/pki/issue/${role}`, { common_name: "ok.svc.cluster.local", alt_names: ["evil.example.com"] });
    expectError(second, 400, "name_not_allowed");
    expect(second.body.error.details.name).toBe("evil.example.com");
    expectError(await admin.post(`/v1/pki/issue/${role}`, { common_name: "sub.internal" }), 400, "name_not_allowed");
    // IP SANs need allow_ip_sans.
    const noIp = await created(admin.post("/v1/pki/roles", { name: "no-ip", ca_id: h.int.id, allowed_domains: ["example.com"], allow_subdomains: true, key_type: "ec" }));
    expectError(await admin.post(`/v1/pki/issue/${noIp.name}`, { common_name: "a.example.com", ip_sans: ["10.1.1.1"] }), 400, "name_not_allowed");
    expect((await admin.post(`/v1/pki/issue/${noIp.name}`, { common_name: "a.b.example.com" })).status).toBe(201);
    // The CSR's key must fit the role (ec 256 here).
    expectError(await admin.post(`/v1/pki/sign/${role}`, { csr_pem: (await ssl.csr("rsa:2048", "/CN=x.svc.cluster.local")).csr }), 400, "key_not_allowed");
    expectError(await admin.post(`/v1/pki/sign/${role}`, { csr_pem: (await ssl.csr("ec:P-384", "/CN=x.svc.cluster.local")).csr }), 400, "key_not_allowed");
    expectError(await admin.post(`/v1/pki/sign/${role}`, { csr_pem: "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n" }), 400, "invalid_csr");
    // require_cn: a CSR without a CN.
    expectError(await admin.post(`/v1/pki/sign/${role}`, { csr_pem: (await ssl.csr("ec:P-256", "/O=NoCN", ["DNS:x.svc.cluster.local"])).csr }), 400, "invalid_csr");
    expectError(await admin.post("/v1/pki/issue/nope", { common_name: "x.svc.cluster.local" }), 404, "role_not_found");
    // A CSR names at most as many SANs as a JSON body may (100).
    const sans = (n: number) => Array.from({ length: n }, (_, i) => `DNS:n${i}.svc.cluster.local`);
    const many = await admin.post(`/v1/pki/sign/${role}`, { csr_pem: (await ssl.csr("ec:P-256", "/CN=x.svc.cluster.local", sans(101))).csr });
    expectError(many, 400, "invalid_csr");
    expect(many.body.error.details).toEqual({ names: 101, limit: 100 });
    const hundred = await created(admin.post(`/v1/pki/sign/${role}`, { csr_pem: (await ssl.csr("ec:P-256", "/CN=x.svc.cluster.local", sans(100))).csr }));
    expect((await admin.get(`/v1/pki/certificates/${hundred.id}`)).body.alt_names).toEqual(expect.arrayContaining(sans(100).map((san) => san.slice(4))));
  });

  it("validates CA and role bodies: 422 for bad sizes and missing parent, 404 unknown parent", async () => {
    const { admin } = vault();
    expectError(await admin.post("/v1/pki/ca", { name: "bad-size", common_name: "x", ca_type: "root", key_type: "ec", key_size: 521 }), 422, "validation_error");
    expectError(await admin.post("/v1/pki/ca", { name: "bad-rsa", common_name: "x", ca_type: "root", key_size: 1024 }), 422, "validation_error");
    expectError(await admin.post("/v1/pki/ca", { name: "orphan", common_name: "x", ca_type: "intermediate" }), 422, "validation_error");
    expectError(await admin.post("/v1/pki/ca", { name: "orphan", common_name: "x", ca_type: "intermediate", parent_ca_id: "ca_missing" }), 404, "ca_not_found");
    expectError(await admin.post("/v1/pki/ca", { name: "Bad Name", common_name: "x", ca_type: "root" }), 422, "validation_error");
    expectError(await admin.post("/v1/pki/roles", { name: "r1", ca_id: h.int.id, key_type: "ec", key_bits: 2048 }), 422, "validation_error");
    expectError(await admin.post("/v1/pki/roles", { name: "r1", ca_id: h.int.id, ttl: "800h" }), 422, "validation_error");
    expectError(await admin.post("/v1/pki/roles", { name: "r1", ca_id: "ca_missing" }), 404, "ca_not_found");
    expectError(await admin.post("/v1/pki/roles", { name: "r1", ca_id: h.int.id, max_ttl: "forever" }), 400, "invalid_duration");
  });

  it("manages roles by name: defaults, PATCH merges, DELETE 204", async () => {
    const { admin } = vault();
    const role = await created(admin.post("/v1/pki/roles", { name: "defaults", ca_id: h.int.id }));
    expect(role).toMatchObject({ name: "defaults", allowed_domains: [], allow_subdomains: false, allow_ip_sans: false, ttl: "720h", max_ttl: "720h", key_type: "rsa", key_bits: 2048, require_cn: true, store_private_keys: false, server_flag: true, client_flag: true });
    const patched = await admin.patch("/v1/pki/roles/defaults", { allowed_domains: ["Example.ORG"], client_flag: false });
    expect(patched.body).toMatchObject({ allowed_domains: ["example.org"], client_flag: false, key_type: "rsa", server_flag: true });
    // An RSA role issues RSA 2048 keys with keyEncipherment and only the server EKU.
    const issued = await created(admin.post("/v1/pki/issue/defaults", { common_name: "example.org" }));
    expect(issued.private_key_type).toBe("rsa");
    const text = (await ssl.ok(["x509", "-noout", "-text", "-in", ssl.file("rsa-leaf.pem", issued.certificate)]));
    expect(text).toContain("Key Encipherment");
    expect(text).toContain("TLS Web Server Authentication");
    expect(text).not.toContain("Client Authentication");
    expect((await ssl.verify(h.rootPem, [h.intPem], issued.certificate)).status).toBe(0);
    expect((await admin.delete("/v1/pki/roles/defaults")).status).toBe(204);
    expectError(await admin.get("/v1/pki/roles/defaults"), 404, "role_not_found");
  });
});
