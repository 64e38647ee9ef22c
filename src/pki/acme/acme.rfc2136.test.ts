import { randomBytes } from "node:crypto";
import { expect, it } from "vitest";
import { TestDnsServer } from "../../dns/testing/dns-server.js";
import { describeEachBackend } from "../../testing/backends.js";
import { useVault } from "../../testing/harness.js";
import { created, OpenSsl } from "../testing.js";
import { orderIn, PebbleTls, usePebbleOverDns } from "./testing/pebble.js";

/**
 * dns-01 end to end with nothing stubbed (spec/pki.md P9): an rfc2136 DNS provider created through
 * the API, the vault's own solver sending TSIG-signed UPDATEs to a DNS server, and Debian's pebble
 * validating by asking that same server for the TXT record.
 */
describeEachBackend("acme: dns-01 through an rfc2136 provider, validated by pebble", (backend) => {
  const tls = new PebbleTls();
  const secret = randomBytes(32).toString("base64");
  const dns = new TestDnsServer({ zones: ["rfc.test"], keys: [{ name: "acme-key", algorithm: "hmac-sha256", secret }] });
  const vault = useVault(backend, { env: { ...tls.vaultEnv, SCAIVAULT_SCHEDULER_POLL: "200ms" } });
  const pebble = usePebbleOverDns(tls, dns);
  const ssl = new OpenSsl();

  it("issues a wildcard certificate: signed UPDATEs add the TXT record, pebble validates it, the record is removed", async () => {
    const { admin } = vault();
    const provider = await created(admin.post("/v1/dns/providers", {
      name: "rfc", provider_type: "rfc2136", config: { server: dns.address, tsig_key_name: "acme-key" }, credentials: { tsig_secret: secret }, managed_zones: ["rfc.test", "*.rfc.test"], verify: true,
    }));
    const account = await created(admin.post("/v1/pki/acme/accounts", { name: "pebble-rfc", provider: "custom", directory_url: pebble().directoryUrl }));
    const order = await created(admin.post("/v1/pki/acme/orders", { account_id: account.id, domains: ["*.rfc.test", "rfc.test"], auto_renew: false }));
    expect(order).toMatchObject({ challenge_type: "dns-01", dns_provider_id: provider.id });
    const done = await orderIn(admin, order.id, ["valid", "invalid"]);
    expect(done.error, pebble().output()).toBeNull();
    expect(done.status).toBe("valid");
    // The record went in by signed UPDATE (none refused) and is gone again.
    expect(dns.seen.updates).toBeGreaterThanOrEqual(2);
    expect(dns.seen.rejectedUpdates).toBe(0);
    expect(dns.values("_acme-challenge.rfc.test")).toEqual([]);
    const cert = (await admin.get(`/v1/pki/acme/orders/${order.id}/certificate`)).body;
    const verified = await ssl.verify(await pebble().root(), [await pebble().intermediates(), ...cert.ca_chain], cert.certificate);
    expect(verified.status, verified.out).toBe(0);
    const text = await ssl.ok(["x509", "-noout", "-text", "-in", ssl.file("rfc.pem", cert.certificate)]);
    expect(text).toContain("DNS:*.rfc.test");
    expect(text).toContain("DNS:rfc.test");
  }, 180_000);
});
