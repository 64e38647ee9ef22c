import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { created } from "../pki/testing.js";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { TestDnsServer } from "./testing/dns-server.js";

/** `present` returns only once the provider's server answers the record, and gives up with a clear 502 at the propagation timeout. */
describeEachBackend("dns solver: waits for propagation, bounded by SCAIVAULT_DNS_PROPAGATION_TIMEOUT", (backend) => {
  const vault = useVault(backend, { env: { SCAIVAULT_DNS_TIMEOUT: "1s", SCAIVAULT_DNS_PROPAGATION_TIMEOUT: "3s" } });
  const secret = randomBytes(32).toString("base64");
  const server = new TestDnsServer({ zones: ["prop.test"], keys: [{ name: "k", algorithm: "hmac-sha256", secret }] });
  let provider: { id: string };
  let tenant: { tenantId: string; partnerId: string };

  beforeAll(async () => {
    await server.start();
    provider = await created(vault().admin.post("/v1/dns/providers", { name: "prop", provider_type: "rfc2136", config: { server: server.address, tsig_key_name: "k" }, credentials: { tsig_secret: secret }, managed_zones: ["*.prop.test"] }));
    const row = await vault().vault.db.get<{ tenant_id: string; partner_id: string }>("SELECT tenant_id, partner_id FROM dns_providers WHERE id = ?", [provider.id]);
    tenant = { tenantId: row!.tenant_id, partnerId: row!.partner_id };
  });
  afterAll(async () => {
    await server.stop();
  });

  it("does not return while the server answers the name without the value, and returns once it does", async () => {
    const name = "_acme-challenge.wait.prop.test";
    server.hidden.add(name);
    let settled = false;
    const presenting = vault().vault.dns.solver.present(tenant, provider.id, name, "v-wait").finally(() => (settled = true));
    // The record is stored and the solver has asked for it and been told nothing: it must still be waiting.
    await server.until(() => server.values(name).includes("v-wait") && server.seen.txtQueries > 0);
    const asked = server.seen.txtQueries;
    await server.until(() => server.seen.txtQueries > asked);
    expect(settled).toBe(false);
    server.hidden.delete(name);
    await presenting;
    expect(settled).toBe(true);
  });

  it("fails with 502 dns_provider_error (propagation_timeout) when the record never shows", async () => {
    const name = "_acme-challenge.never.prop.test";
    server.hidden.add(name);
    const error = await vault().vault.dns.solver.present(tenant, provider.id, name, "v-never").catch((e) => e);
    expect(error).toMatchObject({ code: "dns_provider_error", status: 502, details: { provider_id: provider.id, reason: "propagation_timeout", name, propagation_timeout_ms: 3000 } });
    expect(error.message).toMatch(/was not answered by 127\.0\.0\.1:\d+ within 3 s/);
    expect(server.seen.txtQueries).toBeGreaterThan(1);
  });
});
