import { afterAll, beforeAll, expect, it } from "vitest";
import { describeEachBackend } from "../../testing/backends.js";
import { useVault } from "../../testing/harness.js";
import { created, expectError, OpenSsl } from "../testing.js";
import type { DnsChallengeSolver, TenantRef } from "./dns-solver.js";
import { orderIn, PebbleTls, removeTls, startPebble, type Pebble } from "./testing/pebble.js";

/**
 * dns-01 through the `DnsChallengeSolver` the vault consumes, with a solver of this test's own:
 * it records what it was asked in a map and publishes the TXT record through pebble-challtestsrv's
 * HTTP API (the DNS server pebble asks), which the vault's code never talks to.
 */
describeEachBackend("acme: dns-01 through a DnsChallengeSolver", (backend) => {
  const tls = new PebbleTls();
  let pebble: Pebble;
  const records = new Map<string, { tenant: TenantRef; provider: string; value: string }>();
  const presented: string[] = [];
  const cleaned: string[] = [];
  const post = async (path: string, body: unknown) => {
    const answer = await fetch(`${pebble.challtestsrvUrl}${path}`, { method: "POST", body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
    if (!answer.ok) throw new Error(`${path}: ${answer.status}`);
  };
  const solver: DnsChallengeSolver = {
    async pick(_tenant, domains, providerId) {
      if (providerId !== undefined && providerId !== "dnsp_test") throw Object.assign(new Error("no such provider"), { statusCode: 404 });
      return domains.every((d) => d.endsWith("dns.test")) ? { id: "dnsp_test" } : null;
    },
    async present(tenant, provider, name, value) {
      records.set(name, { tenant, provider, value });
      presented.push(name);
      await post("/set-txt", { host: `${name}.`, value });
    },
    async cleanup(_tenant, _provider, name) {
      records.delete(name);
      cleaned.push(name);
      await post("/clear-txt", { host: `${name}.` });
    },
  };
  const vault = useVault(backend, { env: { ...tls.vaultEnv, SCAIVAULT_SCHEDULER_POLL: "200ms" }, dnsSolver: solver });
  const ssl = new OpenSsl();
  let account: any;

  beforeAll(async () => {
    pebble = await startPebble(tls, { httpPort: 1 });
    account = await created(vault().admin.post("/v1/pki/acme/accounts", { name: "pebble", provider: "custom", directory_url: pebble.directoryUrl }));
  }, 90_000);
  afterAll(async () => {
    await pebble?.stop();
    removeTls(tls);
  });

  it("chooses dns-01 when a provider covers every name, and issues a wildcard through it", async () => {
    const { admin } = vault();
    const order = await created(admin.post("/v1/pki/acme/orders", { account_id: account.id, domains: ["*.dns.test", "dns.test"] }));
    expect(order).toMatchObject({ challenge_type: "dns-01", dns_provider_id: "dnsp_test", secret_path: "pki/acme/_wildcard.dns.test" });
    const done = await orderIn(admin, order.id, ["valid", "invalid"]);
    expect(done.error, pebble.output()).toBeNull();
    expect(done.status).toBe("valid");
    // Both names are validated at the same TXT name; each record was removed afterwards.
    expect(presented.length).toBeGreaterThanOrEqual(1);
    expect(new Set(presented)).toEqual(new Set(["_acme-challenge.dns.test"]));
    expect(cleaned.length).toBe(presented.length);
    expect(records.size).toBe(0);
    const cert = (await admin.get(`/v1/pki/acme/orders/${order.id}/certificate`)).body;
    const verified = await ssl.verify(await pebble.root(), [await pebble.intermediates(), ...cert.ca_chain], cert.certificate);
    expect(verified.status, verified.out).toBe(0);
    expect(await ssl.ok(["x509", "-noout", "-text", "-in", ssl.file("wild.pem", cert.certificate)])).toContain("DNS:*.dns.test");
    expect((await admin.get("/v1/secrets/pki/acme/_wildcard.dns.test")).body.secret_type).toBe("certificate");
  }, 180_000);

  it("names no provider for names none covers: http-01 by default, 422 when dns-01 is asked", async () => {
    const { admin } = vault();
    const http = await created(admin.post("/v1/pki/acme/orders", { account_id: account.id, domains: ["www.other.test"], auto_renew: false }));
    expect(http).toMatchObject({ challenge_type: "http-01", dns_provider_id: null });
    expectError(await admin.post("/v1/pki/acme/orders", { account_id: account.id, domains: ["www.other.test"], challenge_type: "dns-01" }), 422, "validation_error");
  });

  it("a failed renewal keeps the certificate, says why, emits certificate.renewal_failed and retries in an hour", async () => {
    const { admin, vault: v } = vault();
    const order = (await admin.get("/v1/pki/acme/orders?status=valid")).body.data.find((o: any) => o.challenge_type === "dns-01");
    expect(order).toBeTruthy();
    // The account goes away (deactivated at the CA, forgotten here): the next renewal cannot work.
    expect((await admin.delete(`/v1/pki/acme/accounts/${account.id}`)).status).toBe(204);
    const asked = Date.now();
    expect((await admin.post(`/v1/pki/acme/orders/${order.id}/renew`)).status).toBe(202);
    const failed = await orderIn(admin, order.id, ["valid"], 60_000, (o) => o.error !== null);
    expect(failed).toMatchObject({ status: "valid", certificate_id: order.certificate_id, renewals: order.renewals, error: { type: "acme_account_not_found" } });
    const retry = Date.parse(failed.next_renewal_at) - asked;
    expect(retry).toBeGreaterThanOrEqual(3_600_000);
    expect(retry).toBeLessThan(3_600_000 + 60_000);
    const events = (await v.db.all<{ data: string; path: string }>("SELECT data, path FROM events WHERE event_type = 'certificate.renewal_failed'")).map((e) => ({ ...JSON.parse(e.data), path: e.path }));
    expect(events).toEqual([expect.objectContaining({ order_id: order.id, certificate_id: order.certificate_id, path: "pki/acme/_wildcard.dns.test", error: expect.objectContaining({ type: "acme_account_not_found" }) })]);
    expect((await admin.get("/v1/secrets/pki/acme/_wildcard.dns.test")).body.version).toBe(1);
  }, 120_000);
});
