import { expect, it } from "vitest";
import { insertAcmeOrders, OpenSsl } from "../../../src/pki/testing.js";
import { describeEachBackend } from "../../../src/testing/backends.js";
import { useVault } from "../../../src/testing/harness.js";
import { NotFoundError, ScaiVaultClient } from "./index.js";

describeEachBackend("TypeScript SDK: PKI create CA, issue, revoke", (backend) => {
  const vault = useVault(backend);
  const ssl = new OpenSsl();

  it("creates a root and an intermediate, issues under a role (openssl verifies), revokes", async () => {
    const client = new ScaiVaultClient({ baseUrl: vault().baseUrl, token: vault().adminToken });
    const root = await client.pki.createCa({ name: "sdk-root", common_name: "SDK Root", ca_type: "root", key_type: "ec" });
    const int = await client.pki.createCa({ name: "sdk-int", common_name: "SDK Int", ca_type: "intermediate", parent_ca_id: root.id, key_type: "ec" });
    expect(int).toMatchObject({ parent_ca_id: root.id, is_active: true });
    expect((await client.pki.listCas()).map((c) => c.name)).toEqual(["sdk-root", "sdk-int"]);
    // Roles are managed over the API (not an SDK call this round).
    expect((await vault().admin.post("/v1/pki/roles", { name: "sdk", ca_id: int.id, allowed_domains: ["sdk.internal"], allow_subdomains: true, key_type: "ec" })).status).toBe(201);
    const issued = await client.pki.issue("sdk", { common_name: "a.sdk.internal", ttl: "1h" });
    expect(issued.private_key).toMatch(/BEGIN PRIVATE KEY/);
    const rootPem = (await vault().admin.get(`/v1/pki/ca/${root.id}/certificate`)).body.certificate_pem;
    expect((await ssl.verify(rootPem, issued.ca_chain.slice(0, 1), issued.certificate)).status).toBe(0);
    const revoked = await client.pki.revoke(issued.serial_number, "superseded");
    expect(revoked).toMatchObject({ id: issued.id, revocation_reason: "superseded" });
    expect((await client.pki.getCertificate(issued.id)).revoked_at).not.toBeNull();
    await expect(client.pki.getCa("ca_missing")).rejects.toBeInstanceOf(NotFoundError);
    client.close();
  });

  it("lists every ACME order past a page, oldest first (the list's cursor followed)", async () => {
    await insertAcmeOrders(vault().vault.db, 1_205, 1_700_000_000_000);
    const client = new ScaiVaultClient({ baseUrl: vault().baseUrl, token: vault().adminToken });
    const all = await client.pki.listAcmeOrders();
    expect(all.map((order) => order.id)).toEqual(Array.from({ length: 1_205 }, (_, i) => `order_${i + 1}`));
    expect((await client.pki.listAcmeOrders({ status: "valid" })).map((order) => order.id)).toEqual(Array.from({ length: 602 }, (_, i) => `order_${2 * (i + 1)}`));
    client.close();
  });
});
