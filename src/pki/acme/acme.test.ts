import { afterAll, beforeAll, expect, it } from "vitest";
import { describeEachBackend } from "../../testing/backends.js";
import { ApiClient, useVault, type TestVault } from "../../testing/harness.js";
import { created, EC_P256_PKCS8_PREFIX, everyStoredValue, expectError, keyChunk, OpenSsl } from "../testing.js";
import { orderIn, PebbleTls, removeTls, startPebble, type Pebble } from "./testing/pebble.js";

const portOf = (baseUrl: string) => Number(new URL(baseUrl).port);

/** Contract P7–P9 against Debian's pebble: accounts, http-01 orders, renewal, isolation, no key material anywhere. */
describeEachBackend("acme: accounts and http-01 orders against pebble", (backend) => {
  const tls = new PebbleTls();
  const vault = useVault(backend, { env: { ...tls.vaultEnv, SCAIVAULT_SCHEDULER_POLL: "200ms", LOG_LEVEL: "trace" } });
  const ssl = new OpenSsl();
  let pebble: Pebble;
  let account: any;
  let order: any;
  const keys: string[] = [];

  beforeAll(async () => {
    pebble = await startPebble(tls, { httpPort: portOf(vault().baseUrl) });
    account = await created(vault().admin.post("/v1/pki/acme/accounts", { name: "pebble", provider: "custom", directory_url: pebble.directoryUrl, email: "certs@example.com" }));
  }, 90_000);
  afterAll(async () => {
    await pebble?.stop();
    removeTls(tls);
  });

  it("registers, lists, reads and deactivates accounts; refuses bad requests", async () => {
    const { admin } = vault();
    expect(account).toMatchObject({ name: "pebble", provider: "custom", environment: "production", directory_url: pebble.directoryUrl, email: "certs@example.com", status: "valid" });
    expect(account.id).toMatch(/^acme_/);
    expect(account.account_url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\//);
    // No key field and no key material (the random id may spell "key": check names and PEM, not any substring).
    expect(Object.keys(account).filter((name) => /key/i.test(name))).toEqual([]);
    expect(JSON.stringify(account)).not.toMatch(/PRIVATE KEY|BEGIN /);
    const other = await created(admin.post("/v1/pki/acme/accounts", { name: "spare", provider: "custom", directory_url: pebble.directoryUrl }));
    expect((await admin.get("/v1/pki/acme/accounts")).body.data.map((a: any) => a.name)).toEqual(["pebble", "spare"]);
    expect((await admin.get(`/v1/pki/acme/accounts/${other.id}`)).body).toEqual(other);
    expectError(await admin.post("/v1/pki/acme/accounts", { name: "pebble", provider: "custom", directory_url: pebble.directoryUrl }), 409, "already_exists");
    expectError(await admin.post("/v1/pki/acme/accounts", { name: "z", provider: "zerossl", environment: "staging" }), 422, "validation_error");
    expectError(await admin.post("/v1/pki/acme/accounts", { name: "c", provider: "custom" }), 422, "validation_error");
    expectError(await admin.post("/v1/pki/acme/accounts", { name: "Bad Name", provider: "custom", directory_url: pebble.directoryUrl }), 422, "validation_error");
    // The CA's refusal is a 502 with its problem document.
    // An external account binding pebble does not know.
    const refused = await admin.post("/v1/pki/acme/accounts", { name: "bad-eab", provider: "custom", directory_url: pebble.directoryUrl, eab_kid: "unknown-kid", eab_hmac_key: "c2VjcmV0LWhtYWMta2V5LTMyLWJ5dGVzLWxvbmctMDAw" });
    expectError(refused, 502, "acme_error");
    expect(refused.body.error.details.acme_type).toMatch(/^urn:ietf:params:acme:error:/);
    expect(refused.body.error.details.acme_detail).toBeTruthy();
    // Unreachable directory: also 502, with what went wrong.
    const down = await admin.post("/v1/pki/acme/accounts", { name: "down", provider: "custom", directory_url: "https://127.0.0.1:1/dir" });
    expectError(down, 502, "acme_error");
    expect(down.body.error.details.acme_detail).toBeTruthy();
    expect((await admin.delete(`/v1/pki/acme/accounts/${other.id}`)).status).toBe(204);
    expectError(await admin.get(`/v1/pki/acme/accounts/${other.id}`), 404, "acme_account_not_found");
    const audit = await vault().vault.db.all<{ action: string }>("SELECT action FROM audit_log WHERE action LIKE 'acme_account_%' ORDER BY id");
    expect(audit.map((a) => a.action)).toEqual(expect.arrayContaining(["acme_account_create", "acme_account_list", "acme_account_read", "acme_account_delete"]));
  }, 120_000);

  it("orders over http-01: valid, verifiable against pebble's root, stored as a certificate secret", async () => {
    const { admin, anonymous, vault: v } = vault();
    order = await created(admin.post("/v1/pki/acme/orders", { account_id: account.id, domains: ["www.example.test", "api.example.test"], challenge_type: "http-01" }));
    expect(order).toMatchObject({ status: "pending", challenge_type: "http-01", domains: ["www.example.test", "api.example.test"], secret_path: "pki/acme/www.example.test", auto_renew: true, renew_before: "30d", renewals: 0, error: null });
    expect(order.id).toMatch(/^order_/);
    const done = await orderIn(admin, order.id, ["valid", "invalid"]);
    expect(done.error, pebble.output()).toBeNull();
    expect(done.status).toBe("valid");
    expect(done.certificate_id).toMatch(/^cert_/);
    const cert = (await admin.get(`/v1/pki/acme/orders/${order.id}/certificate`)).body;
    expect(cert.serial_number).toBe(done.serial_number);
    const root = await pebble.root();
    const intermediates = await pebble.intermediates();
    const verified = await ssl.verify(root, [intermediates, ...cert.ca_chain], cert.certificate);
    expect(verified.status, verified.out).toBe(0);
    const text = await ssl.ok(["x509", "-noout", "-text", "-in", ssl.file("acme-leaf.pem", cert.certificate)]);
    expect(text).toContain("DNS:www.example.test");
    expect(text).toContain("DNS:api.example.test");
    const secret = await admin.get("/v1/secrets/pki/acme/www.example.test");
    expect(secret.status, secret.text).toBe(200);
    expect(secret.body.secret_type).toBe("certificate");
    expect(secret.body.data.cert_pem).toBe(cert.certificate);
    expect(secret.body.data.key_pem).toContain("BEGIN PRIVATE KEY");
    keys.push(secret.body.data.key_pem);
    // The key in the secret is the certificate's.
    const pub = (pem: string, kind: "x509" | "pkey") => ssl.ok(kind === "x509" ? ["x509", "-noout", "-pubkey", "-in", ssl.file(`p-${Math.random()}.pem`, pem)] : ["pkey", "-pubout", "-in", ssl.file(`k-${Math.random()}.pem`, pem)]);
    expect(await pub(secret.body.data.key_pem, "pkey")).toBe(await pub(cert.certificate, "x509"));
    const record = (await admin.get(`/v1/pki/certificates/${done.certificate_id}`)).body;
    expect(record).toMatchObject({ source: "acme", order_id: order.id, secret_path: "pki/acme/www.example.test", common_name: "www.example.test", serial_number: done.serial_number });
    expect(record.ca_chain.length).toBeGreaterThan(0);
    // Renewal is due ⅔ of the lifetime before expiry for these 120-second certificates (renew_before 30d).
    const life = Date.parse(done.not_after) - Date.parse(done.created_at);
    expect(Date.parse(done.next_renewal_at)).toBeLessThan(Date.parse(done.not_after));
    expect(life).toBeLessThan(200_000);
    // The challenge token is gone once the order is done; an unknown token is a 404.
    expect((await anonymous.get("/.well-known/acme-challenge/unknown-token")).status).toBe(404);
    const served = await v.db.all<{ tenant_id: string; identity_id: string; extra_data: string }>("SELECT tenant_id, identity_id, extra_data FROM audit_log WHERE action = 'acme_challenge_served'");
    expect(served.length).toBeGreaterThanOrEqual(2);
    expect(served[0].identity_id).toBe("anonymous");
    expect(JSON.parse(served[0].extra_data).order_id).toBe(order.id);
    const actions = (await v.db.all<{ action: string }>("SELECT action FROM audit_log WHERE action LIKE 'acme_order_%'")).map((a) => a.action);
    expect(actions).toEqual(expect.arrayContaining(["acme_order_create", "acme_order_finalize"]));
    const issued = await v.db.all<{ data: string; path: string }>("SELECT data, path FROM events WHERE event_type = 'certificate.issued'");
    expect(issued.map((e) => JSON.parse(e.data))).toEqual([expect.objectContaining({ certificate_id: done.certificate_id, source: "acme", order_id: order.id })]);
    const metrics = (await anonymous.get("/v1/metrics")).text;
    expect(metrics).toContain('scaivault_acme_orders_total{result="valid",kind="order"} 1');
  }, 180_000);

  it("renews on request: a new key and certificate, a new secret version, certificate.renewed", async () => {
    const { admin, vault: v } = vault();
    const before = (await admin.get(`/v1/pki/acme/orders/${order.id}`)).body;
    const renew = await admin.post(`/v1/pki/acme/orders/${order.id}/renew`);
    expect(renew.status, renew.text).toBe(202);
    const after = await orderIn(admin, order.id, ["valid"], 120_000, (o) => o.renewals >= before.renewals + 1);
    expect(after.certificate_id).not.toBe(before.certificate_id);
    expect(after.error).toBeNull();
    const secret = (await admin.get("/v1/secrets/pki/acme/www.example.test")).body;
    expect(secret.version).toBeGreaterThanOrEqual(2);
    expect(secret.data.key_pem).not.toBe(keys[0]);
    keys.push(secret.data.key_pem);
    const renewed = (await v.db.all<{ data: string }>("SELECT data FROM events WHERE event_type = 'certificate.renewed'")).map((e) => JSON.parse(e.data));
    expect(renewed).toContainEqual(expect.objectContaining({ order_id: order.id, previous_certificate_id: before.certificate_id, source: "acme" }));
  }, 180_000);

  it("revokes an ACME certificate at its CA too (pebble then reports it revoked with the reason), idempotently", async () => {
    const { admin } = vault();
    const current = (await admin.get(`/v1/pki/acme/orders/${order.id}`)).body;
    const pem = (await admin.get(`/v1/pki/acme/orders/${order.id}/certificate`)).body.certificate;
    const serial = (await ssl.ok(["x509", "-noout", "-serial", "-in", ssl.file("revoke.pem", pem)])).trim().split("=")[1];
    expect((await pebble.certStatus(serial)).Status).toBe("Valid");
    const revoked = await admin.post(`/v1/pki/certificates/${current.certificate_id}/revoke`, { reason: "key_compromise" });
    expect(revoked.status, revoked.text).toBe(200);
    expect(revoked.body.revoked_at).not.toBeNull();
    expect(await pebble.certStatus(serial)).toMatchObject({ Status: "Revoked", Reason: 1 });
    expect((await admin.post(`/v1/pki/certificates/${current.certificate_id}/revoke`, { reason: "key_compromise" })).status).toBe(200);
  }, 120_000);

  it("refuses bad orders: unknown account, wildcard over http-01, dns-01 without a provider, tls-alpn-01, bad names", async () => {
    const { admin } = vault();
    expectError(await admin.post("/v1/pki/acme/orders", { account_id: "acme_nope", domains: ["a.example.test"] }), 404, "acme_account_not_found");
    expectError(await admin.post("/v1/pki/acme/orders", { account_id: account.id, domains: ["*.example.test"], challenge_type: "http-01" }), 422, "validation_error");
    // No dns-01 solver is wired: the default falls back to http-01, which cannot do wildcards.
    expectError(await admin.post("/v1/pki/acme/orders", { account_id: account.id, domains: ["*.example.test"] }), 422, "validation_error");
    const dns = await admin.post("/v1/pki/acme/orders", { account_id: account.id, domains: ["a.example.test"], challenge_type: "dns-01" });
    expectError(dns, 422, "validation_error");
    expect(JSON.stringify(dns.body.error)).toContain("DNS provider");
    expectError(await admin.post("/v1/pki/acme/orders", { account_id: account.id, domains: ["a.example.test"], challenge_type: "tls-alpn-01" }), 422, "validation_error");
    expectError(await admin.post("/v1/pki/acme/orders", { account_id: account.id, domains: ["not a name"] }), 422, "validation_error");
    expectError(await admin.post("/v1/pki/acme/orders", { account_id: account.id, domains: [] }), 422, "validation_error");
    expectError(await admin.post("/v1/pki/acme/orders", { account_id: account.id, domains: ["a.example.test"], key_type: "ec", key_bits: 2048 }), 422, "validation_error");
    expectError(await admin.get("/v1/pki/acme/orders/order_nope"), 404, "acme_order_not_found");
  });

  it("a CA refusal makes the order invalid with the CA's problem, and counts it", async () => {
    const { admin, anonymous } = vault();
    // The harness's pebble blocks names under blocked.test (its domainBlocklist).
    const bad = await created(admin.post("/v1/pki/acme/orders", { account_id: account.id, domains: ["www.blocked.test"], challenge_type: "http-01" }));
    const done = await orderIn(admin, bad.id, ["valid", "invalid"]);
    expect(done.status).toBe("invalid");
    expect(done.error.type).toBe("urn:ietf:params:acme:error:rejectedIdentifier");
    expect(done.error.detail).toBeTruthy();
    expect(done.certificate_id).toBeNull();
    expectError(await admin.get(`/v1/pki/acme/orders/${bad.id}/certificate`), 404, "certificate_not_found");
    expect((await admin.get("/v1/secrets/pki/acme/www.blocked.test")).status).toBe(404);
    expect((await admin.get("/v1/pki/acme/orders?status=invalid")).body.data.map((o: any) => o.id)).toEqual([bad.id]);
    expect((await anonymous.get("/v1/metrics")).text).toContain('scaivault_acme_orders_total{result="invalid",kind="order"} 1');
  }, 180_000);

  it("keeps tenants apart: another tenant's accounts and orders answer 404", async () => {
    const { admin } = vault();
    expect((await admin.post("/v1/identity/tenants", { id: "tnt_acme_two", name: "ACME two" })).status).toBe(201);
    const other = { headers: { "x-tenant-id": "tnt_acme_two" } };
    expectError(await admin.get(`/v1/pki/acme/accounts/${account.id}`, other), 404, "acme_account_not_found");
    expectError(await admin.get(`/v1/pki/acme/orders/${order.id}`, other), 404, "acme_order_not_found");
    expectError(await admin.get(`/v1/pki/acme/orders/${order.id}/certificate`, other), 404, "acme_order_not_found");
    expectError(await admin.post(`/v1/pki/acme/orders/${order.id}/renew`, undefined, other), 404, "acme_order_not_found");
    expectError(await admin.delete(`/v1/pki/acme/accounts/${account.id}`, other), 404, "acme_account_not_found");
    expectError(await admin.post("/v1/pki/acme/orders", { account_id: account.id, domains: ["x.example.test"] }, other), 404, "acme_account_not_found");
    expect((await admin.get("/v1/pki/acme/accounts", other)).body.data).toEqual([]);
    expect((await admin.get("/v1/pki/acme/orders", other)).body.data).toEqual([]);
  });

  it("a pki:issue token needs the account's policy path and the secret path; it sees only its own orders", async () => {
    const { admin, baseUrl } = vault();
    const token = async (identity: string, scopes: string[]) => new ApiClient(baseUrl, (await created(admin.post("/v1/auth/tokens", { identity_id: identity, scopes, expires_in: "1h" }))).token);
    const noPolicy = await token("sa:acme-nobody", ["pki:issue"]);
    expectError(await noPolicy.post("/v1/pki/acme/orders", { account_id: account.id, domains: ["p.example.test"] }), 403, "access_denied");
    const policy = await created(admin.post("/v1/policies", { name: "acme-orderer", rules: [{ path_pattern: "sys/pki/acme/pebble", permissions: ["write"] }, { path_pattern: "pki/acme/p.example.test", permissions: ["write", "read"] }] }));
    expect((await admin.post(`/v1/policies/${policy.id}/bindings`, { identity_type: "service_account", identity_id: "sa:acme-orderer" })).status).toBe(201);
    const orderer = await token("sa:acme-orderer", ["pki:issue", "secrets:read"]);
    expectError(await orderer.post("/v1/pki/acme/orders", { account_id: account.id, domains: ["q.example.test"] }), 403, "access_denied");
    expectError(await orderer.post("/v1/pki/acme/accounts", { name: "x", provider: "custom", directory_url: pebble.directoryUrl }), 403, "insufficient_scope");
    const mine = await created(orderer.post("/v1/pki/acme/orders", { account_id: account.id, domains: ["p.example.test"] }));
    expect((await orderer.get("/v1/pki/acme/orders")).body.data.map((o: any) => o.id)).toEqual([mine.id]);
    expectError(await orderer.get(`/v1/pki/acme/orders/${order.id}`), 404, "acme_order_not_found");
    const done = await orderIn(orderer, mine.id, ["valid", "invalid"]);
    expect(done.status).toBe("valid");
    keys.push((await orderer.get("/v1/secrets/pki/acme/p.example.test")).body.data.key_pem);
  }, 180_000);

  it("puts no private key in any stored byte, log line, audit record or event", async () => {
    const test: TestVault = vault();
    expect(keys.length).toBeGreaterThanOrEqual(3);
    const stored = await everyStoredValue(test);
    for (const value of stored) {
      for (const key of keys) expect(value.includes(Buffer.from(keyChunk(key)))).toBe(false);
      expect(value.includes(Buffer.from("PRIVATE KEY"))).toBe(false);
      // Account keys are EC P-256 PKCS#8: raw, they would show this prefix.
      expect(value.includes(EC_P256_PKCS8_PREFIX)).toBe(false);
    }
    const all = test.logs.join("");
    expect(all).toContain("/v1/pki/acme/orders");
    expect(all).not.toContain("PRIVATE KEY");
    for (const key of keys) expect(all).not.toContain(keyChunk(key));
    const rows = [
      ...(await test.vault.db.all<{ t: string }>("SELECT extra_data AS t FROM audit_log")),
      ...(await test.vault.db.all<{ t: string }>("SELECT data AS t FROM events")),
    ];
    for (const row of rows) {
      expect(row.t ?? "").not.toContain("PRIVATE KEY");
      for (const key of keys) expect(row.t ?? "").not.toContain(keyChunk(key));
    }
  });
});
