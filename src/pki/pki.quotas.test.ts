import { webcrypto } from "node:crypto";
import { expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { created, expectError } from "./testing.js";
import { x509 } from "./x509.js";

const algorithm = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

async function externalCa(name: string): Promise<string> {
  const keys = (await webcrypto.subtle.generateKey(algorithm, true, ["sign", "verify"])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: "01", name: `CN=${name}`, keys, signingAlgorithm: algorithm, notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 86_400_000),
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true)],
  });
  return cert.toString("pem");
}

/**
 * A tenant trusts at most SCAIVAULT_MAX_TRUST_ANCHORS_PER_TENANT external CAs: the trust bundle,
 * readable with `pki:issue`, carries all of them (1,000 anchors of 60 KB: 60 MB a request, the
 * loop held 250–315 ms; docs/benchmarks.md round 37). The list reads no certificate.
 */
describeEachBackend("pki: trust anchors and CAs per tenant", (backend) => {
  const vault = useVault(backend, { env: { SCAIVAULT_MAX_TRUST_ANCHORS_PER_TENANT: "2", SCAIVAULT_MAX_CAS_PER_TENANT: "2" } });

  it("refuses a third anchor with quota_exceeded until one is deleted, and lists without certificates", async () => {
    const { admin } = vault();
    const first = await created(admin.post("/v1/pki/trust-anchors", { name: "one", certificate_pem: await externalCa("One") }));
    await created(admin.post("/v1/pki/trust-anchors", { name: "two", certificate_pem: await externalCa("Two") }));
    const third = await admin.post("/v1/pki/trust-anchors", { name: "three", certificate_pem: await externalCa("Three") });
    expectError(third, 409, "quota_exceeded");
    expect(third.body.error.details).toEqual({ resource: "trust_anchors", per: "tenant", limit: 2 });
    const listed = await admin.get("/v1/pki/trust-anchors");
    expect(listed.body.data.map((a: { name: string }) => a.name)).toEqual(["one", "two"]);
    expect(JSON.stringify(listed.body)).not.toContain("BEGIN CERTIFICATE");
    expect((await admin.delete(`/v1/pki/trust-anchors/${first.id}`)).status).toBe(204);
    await created(admin.post("/v1/pki/trust-anchors", { name: "three", certificate_pem: await externalCa("Three") }));
  });

  /**
   * And at most SCAIVAULT_MAX_CAS_PER_TENANT CAs, revoked ones included (a CA is never deleted):
   * the CA list, the trust bundle and the per-CA metric read every one, at 20 creations a minute.
   */
  it("refuses a CA past the tenant's limit, revoked ones counted, and leaves other tenants theirs", async () => {
    const { admin } = vault();
    const root = await created(admin.post("/v1/pki/ca", { name: "quota-root", common_name: "Quota Root", ca_type: "root", key_type: "ec", key_size: 256 }));
    await created(admin.post("/v1/pki/ca", { name: "quota-int", common_name: "Quota Int", ca_type: "intermediate", parent_ca_id: root.id, key_type: "ec", key_size: 256 }));
    expect((await admin.post(`/v1/pki/ca/${root.id}/revoke`, { reason: "superseded" })).status).toBe(200);
    const third = await admin.post("/v1/pki/ca", { name: "quota-third", common_name: "Quota Third", ca_type: "root", key_type: "ec", key_size: 256 });
    expectError(third, 409, "quota_exceeded");
    expect(third.body.error.details).toEqual({ resource: "cas", per: "tenant", limit: 2 });
    expect((await admin.post("/v1/identity/tenants", { id: "tnt_ca_quota", name: "other" })).status).toBe(201);
    await created(admin.post("/v1/pki/ca", { name: "quota-root", common_name: "Other Root", ca_type: "root", key_type: "ec", key_size: 256 }, { headers: { "X-Tenant-ID": "tnt_ca_quota" } }));
  });
});
