import { beforeAll, expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { created, EC_P256_PKCS8_PREFIX, everyStoredValue, hierarchy, keyChunk, OpenSsl } from "./testing.js";

describeEachBackend("pki: no key material on disk, in logs, audit or events", (backend) => {
  const vault = useVault(backend, { env: { LOG_LEVEL: "trace" } });
  const ssl = new OpenSsl();
  const keys: string[] = [];
  const certificates: string[] = [];

  beforeAll(async () => {
    const { admin } = vault();
    const h = await hierarchy(admin, "sec", { allowed_domains: ["sec.internal"], allow_subdomains: true, store_private_keys: true });
    await created(admin.post("/v1/pki/roles", { name: "plain", ca_id: h.int.id, allowed_domains: ["sec.internal"], allow_subdomains: true, key_type: "rsa" }));
    for (const role of [h.role.name, "plain"]) {
      const issued = await created(admin.post(`/v1/pki/issue/${role}`, { common_name: `${role}.sec.internal` }));
      keys.push(issued.private_key);
      certificates.push(issued.certificate);
      // Read back through every path that shows a certificate.
      await admin.get(`/v1/pki/certificates/${issued.id}`);
      await admin.get(`/v1/pki/certificates/${issued.id}/pem`);
      if (issued.secret_path) expect((await admin.get(`/v1/secrets/${issued.secret_path}`)).body.data.key_pem).toBe(issued.private_key);
    }
    const { csr } = (await ssl.csr("ec:P-256", "/CN=signed.sec.internal"));
    await created(admin.post(`/v1/pki/sign/${h.role.name}`, { csr_pem: csr }));
    await admin.post(`/v1/pki/ca/${h.int.id}/crl`);
    // A failed request quoting a key must not put it anywhere either.
    await admin.post(`/v1/pki/sign/${h.role.name}`, { csr_pem: keys[0] });
    await admin.post("/v1/pki/trust-anchors", { name: "bad", certificate_pem: keys[1] });
  });

  it("stores no private key in plaintext in any stored byte, CA keys included", async () => {
    const stored = await everyStoredValue(vault());
    expect(stored.length).toBeGreaterThan(0);
    for (const value of stored) {
      for (const key of keys) expect(value.includes(Buffer.from(keyChunk(key)))).toBe(false);
      expect(value.includes(Buffer.from("PRIVATE KEY"))).toBe(false);
      expect(value.includes(EC_P256_PKCS8_PREFIX)).toBe(false);
    }
    // The check can fail: certificates (public) are stored in plaintext and are found.
    expect(stored.some((value) => value.includes(Buffer.from(keyChunk(certificates[0]))))).toBe(true);
  });

  it("logs no private key, even at trace level, and the audit and event rows hold none", async () => {
    const { logs, vault: v } = vault();
    const all = logs.join("");
    expect(all).toContain("/v1/pki/issue/");
    for (const key of keys) expect(all).not.toContain(keyChunk(key));
    expect(all).not.toContain("PRIVATE KEY");
    const audit = await v.db.all<{ extra_data: string }>("SELECT extra_data FROM audit_log WHERE action LIKE 'pki_%'");
    expect(audit.length).toBeGreaterThan(5);
    const events = await v.db.all<{ data: string }>("SELECT data FROM events");
    for (const text of [...audit.map((a) => a.extra_data), ...events.map((e) => e.data)]) {
      expect(text).not.toContain("PRIVATE KEY");
      for (const key of keys) expect(text).not.toContain(keyChunk(key));
    }
  });
});
