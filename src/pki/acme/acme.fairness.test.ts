import { randomBytes } from "node:crypto";
import { expect, it } from "vitest";
import { TestDnsServer } from "../../dns/testing/dns-server.js";
import { describeEachBackend } from "../../testing/backends.js";
import { ApiClient, useVault } from "../../testing/harness.js";
import { waitFor } from "../../rotation/testing.js";
import { created, expectError } from "../testing.js";
import { orderIn, PebbleTls, usePebbleOverDns } from "./testing/pebble.js";

/**
 * One tenant's slow order (its DNS record never shows at its provider's server until the test lets
 * it) must not hold back another tenant's: the node works orders of different tenants at once, one
 * per tenant, and a tenant's open orders are capped. Nothing stubbed: pebble validates dns-01 by
 * asking the test's DNS server, which the vault updates by signed RFC 2136 UPDATEs.
 */
describeEachBackend("acme: one tenant's stalled order does not hold back another tenant's", (backend) => {
  const tls = new PebbleTls();
  const secret = randomBytes(32).toString("base64");
  const dns = new TestDnsServer({ zones: ["slow.test", "fast.test"], keys: [{ name: "acme-key", algorithm: "hmac-sha256", secret }] });
  // The stalled record waits for its propagation far longer than tenant B's whole order may take below.
  const vault = useVault(backend, { env: { ...tls.vaultEnv, SCAIVAULT_SCHEDULER_POLL: "200ms", SCAIVAULT_DNS_PROPAGATION_TIMEOUT: "150s", SCAIVAULT_MAX_OPEN_ACME_ORDERS_PER_TENANT: "2" } });
  const pebble = usePebbleOverDns(tls, dns);

  async function setUp(client: ApiClient, zone: string, headers: Record<string, string> = {}) {
    await created(client.post("/v1/dns/providers", {
      name: zone.replace(".", "-"), provider_type: "rfc2136", config: { server: dns.address, tsig_key_name: "acme-key" }, credentials: { tsig_secret: secret }, managed_zones: [`*.${zone}`], verify: false,
    }, { headers }));
    return created(client.post("/v1/pki/acme/accounts", { name: "pebble", provider: "custom", directory_url: pebble().directoryUrl }, { headers }));
  }

  it("issues tenant B's certificate while tenant A's order waits on DNS; A's next order waits its turn, and a third is refused", async () => {
    const { admin } = vault();
    const stalledRecord = "_acme-challenge.a.slow.test";
    dns.hidden.add(stalledRecord);
    const accountA = await setUp(admin, "slow.test");
    const stalled = await created(admin.post("/v1/pki/acme/orders", { account_id: accountA.id, domains: ["a.slow.test"], auto_renew: false }));
    await orderIn(admin, stalled.id, ["processing"], 60_000);
    await waitFor("the stalled record at the DNS server", async () => dns.values(stalledRecord).length > 0 || undefined, 60_000);

    // A's second order is accepted and waits: one tenant holds one of the node's slots at a time.
    const queued = await created(admin.post("/v1/pki/acme/orders", { account_id: accountA.id, domains: ["b.slow.test"], auto_renew: false }));
    // A third open order is over the tenant's quota of two.
    const refused = await admin.post("/v1/pki/acme/orders", { account_id: accountA.id, domains: ["c.slow.test"], auto_renew: false });
    expectError(refused, 409, "quota_exceeded");
    expect(refused.body.error.details).toEqual({ resource: "acme_orders", per: "tenant", limit: 2 });

    const inB = { "x-tenant-id": "tnt_acme_b" };
    expect((await admin.post("/v1/identity/tenants", { id: "tnt_acme_b", name: "ACME B" })).status).toBe(201);
    const policyB = await created(admin.post("/v1/policies", { name: "b-admin", rules: [{ path_pattern: "**", permissions: ["admin"] }] }, { headers: inB }));
    await created(admin.post(`/v1/policies/${policyB.id}/bindings`, { identity_type: "user", identity_id: "user:b-admin" }, { headers: inB }));
    const tokenB = await created(admin.post("/v1/auth/tokens", { identity_id: "user:b-admin", identity_type: "user", scopes: ["admin"] }, { headers: inB }));
    const clientB = admin.withToken(tokenB.token);
    const accountB = await setUp(clientB, "fast.test");
    const quick = await created(clientB.post("/v1/pki/acme/orders", { account_id: accountB.id, domains: ["b.fast.test"], auto_renew: false }));
    // Well inside A's propagation wait (150 s): on a node working one order at a time, B's waited behind A's.
    const doneB = await orderIn(clientB, quick.id, ["valid", "invalid"], 100_000);
    expect(doneB.error, pebble().output()).toBeNull();
    expect(doneB.status).toBe("valid");
    expect((await admin.get(`/v1/pki/acme/orders/${stalled.id}`)).body.status).toBe("processing");
    expect((await admin.get(`/v1/pki/acme/orders/${queued.id}`)).body.status).toBe("pending");

    // The record shows: A's orders finish, one after the other, and A may order again.
    dns.hidden.delete(stalledRecord);
    for (const id of [stalled.id, queued.id]) {
      const done = await orderIn(admin, id, ["valid", "invalid"], 100_000);
      expect(done.error, pebble().output()).toBeNull();
      expect(done.status).toBe("valid");
    }
    await created(admin.post("/v1/pki/acme/orders", { account_id: accountA.id, domains: ["c.slow.test"], auto_renew: false }));
  }, 300_000);
});
