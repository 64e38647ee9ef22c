import { randomBytes } from "node:crypto";
import { createSocket, type Socket } from "node:dgram";
import { afterAll, beforeAll, expect, it } from "vitest";
import { created, expectError } from "../pki/testing.js";
import { everyStoredValue } from "../testing/stored-bytes.js";
import { describeEachBackend } from "../testing/backends.js";
import { ApiClient, useVault } from "../testing/harness.js";
import { dig } from "./testing/tools.js";
import { TestDnsServer } from "./testing/dns-server.js";


describeEachBackend("dns providers: CRUD, verification, the rfc2136 solver, tenants and secrecy", (backend) => {
  // Short DNS timeouts so the stalled-server cases end quickly; trace logs so the secrecy scan sees everything.
  const vault = useVault(backend, { env: { LOG_LEVEL: "trace", SCAIVAULT_DNS_TIMEOUT: "1s", SCAIVAULT_DNS_PROPAGATION_TIMEOUT: "20s" } });
  const secret = randomBytes(32).toString("base64");
  const wrongSecret = randomBytes(32).toString("base64");
  const server = new TestDnsServer({ zones: ["example.test", "deep.example.test"], keys: [{ name: "vault-key", algorithm: "hmac-sha256", secret }] });
  let silent: Socket;
  let silentPort = 0;
  const body = (over: Record<string, unknown> = {}) => ({
    name: "main", provider_type: "rfc2136", config: { server: server.address, tsig_key_name: "vault-key", tsig_algorithm: "hmac-sha256" }, credentials: { tsig_secret: secret },
    managed_zones: ["example.test", "*.example.test"], ...over,
  });
  let issuer: ApiClient;

  beforeAll(async () => {
    await server.start();
    silent = createSocket("udp4");
    await new Promise<void>((resolve) => silent.bind(0, "127.0.0.1", () => resolve()));
    silentPort = silent.address().port;
    const issued = await vault().admin.post("/v1/auth/tokens", { identity_id: "sa:issuer", scopes: ["pki:issue", "secrets:read"], expires_in: "1h" });
    expect(issued.status, issued.text).toBe(201);
    issuer = new ApiClient(vault().baseUrl, issued.body.token);
  });
  afterAll(async () => {
    await server.stop();
    silent.close();
  });

  async function tenantOf(id: string) {
    const row = await vault().vault.db.get<{ tenant_id: string; partner_id: string }>("SELECT tenant_id, partner_id FROM dns_providers WHERE id = ?", [id]);
    return { tenantId: row!.tenant_id, partnerId: row!.partner_id };
  }

  it("creates (verified), lists, reads, changes and deletes a provider; credentials never come back", async () => {
    const { admin } = vault();
    const provider = await created(admin.post("/v1/dns/providers", body({ name: "crud", verify: true })));
    expect(provider.id).toMatch(/^dnsp_[A-Za-z0-9]{20}$/);
    expect(provider).toMatchObject({ name: "crud", provider_type: "rfc2136", is_active: true, managed_zones: ["example.test", "*.example.test"] });
    expect(provider.config).toEqual({ server: server.address, tsig_key_name: "vault-key", tsig_algorithm: "hmac-sha256", ttl: 60 });
    for (const r of [provider, (await admin.get(`/v1/dns/providers/${provider.id}`)).body, (await admin.get("/v1/dns/providers")).body]) {
      expect(JSON.stringify(r)).not.toContain(secret);
      expect(JSON.stringify(r)).not.toContain("credentials");
    }
    expect((await admin.get("/v1/dns/providers")).body.data.map((p: any) => p.id)).toContain(provider.id);
    expectError(await admin.post("/v1/dns/providers", body({ name: "crud" })), 409, "already_exists");

    const patched = await admin.patch(`/v1/dns/providers/${provider.id}`, { config: { ttl: 120 }, managed_zones: ["deep.example.test"], is_active: false });
    expect(patched.status, patched.text).toBe(200);
    expect(patched.body).toMatchObject({ is_active: false, managed_zones: ["deep.example.test"], config: { ttl: 120, server: server.address } });
    const tested = await admin.post(`/v1/dns/providers/${provider.id}/test`);
    expect(tested.status, tested.text).toBe(200);
    expect(tested.body).toMatchObject({ ok: true, zones: [{ zone: "deep.example.test", ok: true }] });

    expect((await admin.delete(`/v1/dns/providers/${provider.id}`)).status).toBe(204);
    expectError(await admin.get(`/v1/dns/providers/${provider.id}`), 404, "dns_provider_not_found");
    expectError(await admin.delete(`/v1/dns/providers/${provider.id}`), 404, "dns_provider_not_found");
    const actions = (await vault().vault.db.all<{ action: string }>("SELECT action FROM audit_log WHERE action LIKE 'dns_provider_%'")).map((a) => a.action);
    for (const action of ["dns_provider_create", "dns_provider_update", "dns_provider_delete", "dns_provider_test"]) expect(actions).toContain(action);
  });

  it("validates: unknown type 400, cloudflare and route53 checked then 422, bad config and zones 422", async () => {
    const { admin } = vault();
    expectError(await admin.post("/v1/dns/providers", body({ provider_type: "bind9" })), 400, "invalid_request");
    const cf = await admin.post("/v1/dns/providers", { name: "cf", provider_type: "cloudflare", credentials: { api_token: "cf-token-value" }, managed_zones: ["example.test"] });
    expectError(cf, 422, "validation_error");
    expect(cf.body.error.message).toMatch(/cloudflare.*not available yet/);
    expect(cf.text).not.toContain("cf-token-value");
    expect(cf.body.error.details.fields.provider_type).toMatch(/not built yet/);
    const cfMissing = await admin.post("/v1/dns/providers", { name: "cf", provider_type: "cloudflare", credentials: {}, managed_zones: ["example.test"] });
    expectError(cfMissing, 422, "validation_error");
    expect(cfMissing.body.error.details.fields).toHaveProperty(["credentials.api_token"]);
    const r53 = await admin.post("/v1/dns/providers", { name: "r53", provider_type: "route53", credentials: { access_key_id: "AKIAEXAMPLE", secret_access_key: "r53-secret" }, managed_zones: ["example.test"] });
    expectError(r53, 422, "validation_error");
    expect(r53.body.error.message).toMatch(/route53.*not available yet/);
    expect(r53.text).not.toContain("r53-secret");
    expectError(await admin.post("/v1/dns/providers", { name: "r53", provider_type: "route53", credentials: {}, managed_zones: ["example.test"] }), 422, "validation_error");
    expectError(await admin.post("/v1/dns/providers", { name: "pdns", provider_type: "powerdns", credentials: {}, managed_zones: ["example.test"] }), 422, "validation_error");
    const cases: [Record<string, unknown>, string][] = [
      [{ config: { server: "nope" } }, "config.server"],
      [{ config: { server: server.address, tsig_key_name: "vault-key", tsig_algorithm: "hmac-md5" } }, "config.tsig_algorithm"],
      [{ config: { server: server.address, tsig_key_name: "vault-key", ttl: -1 } }, "config.ttl"],
      [{ credentials: { tsig_secret: "not base64!" } }, "credentials.tsig_secret"],
      [{ credentials: {} }, "credentials.tsig_secret"],
      [{ config: { server: server.address }, credentials: { tsig_secret: secret } }, "config.tsig_key_name"],
      [{ managed_zones: ["bad zone"] }, "managed_zones"],
      [{ config: { server: server.address, tsig_key_name: "vault-key", extra: 1 } }, "config"],
    ];
    for (const [over, field] of cases) {
      const answer = await admin.post("/v1/dns/providers", body({ name: "invalid", ...over }));
      expectError(answer, 422, "validation_error");
      expect(answer.body.error.details.fields, answer.text).toHaveProperty([field]);
      expect(answer.text).not.toContain(secret);
    }
    expectError(await admin.post("/v1/dns/providers", body({ name: "Bad Name" })), 422, "validation_error");
    expect((await admin.get("/v1/dns/providers")).body.data.map((p: any) => p.name)).not.toContain("invalid");
  });

  it("verify fails with 400 invalid_config for a wrong TSIG secret, an unknown zone or a silent server; test says which zone failed", async () => {
    const { admin } = vault();
    const wrong = await admin.post("/v1/dns/providers", body({ name: "wrong", credentials: { tsig_secret: wrongSecret }, verify: true }));
    expectError(wrong, 400, "invalid_config");
    expect(wrong.body.error.message).toMatch(/BADSIG/);
    expect(wrong.text).not.toContain(wrongSecret);
    expectError(await admin.post("/v1/dns/providers", body({ name: "wrong", managed_zones: ["other.test"], verify: true })), 400, "invalid_config");
    const stalled = await admin.post("/v1/dns/providers", body({ name: "wrong", config: { server: `127.0.0.1:${silentPort}`, tsig_key_name: "vault-key" }, verify: true }));
    expectError(stalled, 400, "invalid_config");
    expect(stalled.body.error.message).toMatch(/No answer .* within 1000 ms/);
    // Unverified it is stored; the test call then shows the failure per zone.
    const unverified = await created(admin.post("/v1/dns/providers", body({ name: "wrong", credentials: { tsig_secret: wrongSecret } })));
    const tested = await admin.post(`/v1/dns/providers/${unverified.id}/test`);
    expect(tested.status, tested.text).toBe(200);
    expect(tested.body.ok).toBe(false);
    expect(tested.body.zones).toEqual([{ zone: "example.test", ok: false, error: expect.stringMatching(/NOTAUTH, BADSIG/) }]);
    // PATCH with verify checks the result of the change.
    expectError(await admin.patch(`/v1/dns/providers/${unverified.id}`, { verify: true }), 400, "invalid_config");
    expect((await admin.patch(`/v1/dns/providers/${unverified.id}`, { credentials: { tsig_secret: secret }, verify: true })).status).toBe(200);
    expect((await admin.post(`/v1/dns/providers/${unverified.id}/test`)).body.ok).toBe(true);
  });

  it("needs pki:admin for every route", async () => {
    const { admin } = vault();
    const provider = await created(admin.post("/v1/dns/providers", body({ name: "scoped" })));
    expectError(await issuer.get("/v1/dns/providers"), 403, "insufficient_scope");
    expectError(await issuer.get(`/v1/dns/providers/${provider.id}`), 403, "insufficient_scope");
    expectError(await issuer.post("/v1/dns/providers", body({ name: "by-issuer" })), 403, "insufficient_scope");
    expectError(await issuer.patch(`/v1/dns/providers/${provider.id}`, { is_active: false }), 403, "insufficient_scope");
    expectError(await issuer.delete(`/v1/dns/providers/${provider.id}`), 403, "insufficient_scope");
    expectError(await issuer.post(`/v1/dns/providers/${provider.id}/test`), 403, "insufficient_scope");
    expectError(await vault().anonymous.get("/v1/dns/providers"), 401, "authentication_required");
  });

  it("never shows a tenant another tenant's providers (404 dns_provider_not_found), for the solver too", async () => {
    const { admin } = vault();
    const provider = await created(admin.post("/v1/dns/providers", body({ name: "isolated" })));
    expect((await admin.post("/v1/identity/tenants", { id: "tnt_dns_two", name: "DNS two" })).status).toBe(201);
    const other = { headers: { "x-tenant-id": "tnt_dns_two" } };
    expect((await admin.get("/v1/dns/providers", other)).body.data).toEqual([]);
    expectError(await admin.get(`/v1/dns/providers/${provider.id}`, other), 404, "dns_provider_not_found");
    expectError(await admin.patch(`/v1/dns/providers/${provider.id}`, { is_active: false }, other), 404, "dns_provider_not_found");
    expectError(await admin.delete(`/v1/dns/providers/${provider.id}`, other), 404, "dns_provider_not_found");
    expectError(await admin.post(`/v1/dns/providers/${provider.id}/test`, undefined, other), 404, "dns_provider_not_found");
    const own = await created(admin.post("/v1/dns/providers", body({ name: "isolated" }), other));
    expect(own.id).not.toBe(provider.id);
    const solver = vault().vault.dns.solver;
    const mine = await tenantOf(provider.id);
    const theirs = await tenantOf(own.id);
    expect(theirs.tenantId).toBe("tnt_dns_two");
    await expect(solver.pick(theirs, ["x.example.test"], provider.id)).rejects.toMatchObject({ code: "dns_provider_not_found", status: 404 });
    await expect(solver.present(theirs, provider.id, "_acme-challenge.x.example.test", "v")).rejects.toMatchObject({ code: "dns_provider_not_found" });
    expect(await solver.pick(mine, ["x.example.test"], provider.id)).toEqual({ id: provider.id });
  });

  it("solver: picks by the longest managed zone, presents a TXT record dig sees, and cleans it up", async () => {
    const { admin } = vault();
    const broad = await created(admin.post("/v1/dns/providers", body({ name: "broad", managed_zones: ["*.example.test", "example.test"] })));
    const deep = await created(admin.post("/v1/dns/providers", body({ name: "deep", managed_zones: ["*.deep.example.test"] })));
    const tenant = await tenantOf(broad.id);
    const solver = vault().vault.dns.solver;
    // Earlier tests' active providers also cover example.test; the deep zone wins only where it covers.
    expect(await solver.pick(tenant, ["a.deep.example.test", "*.deep.example.test"])).toEqual({ id: deep.id });
    expect((await solver.pick(tenant, ["a.deep.example.test", "www.example.test"]))?.id).not.toBe(deep.id);
    expect(await solver.pick(tenant, ["deep.example.test"].map((d) => `x.${d}`).concat("nowhere.invalid"))).toBeNull();
    expect(await solver.pick(tenant, ["elsewhere.test"])).toBeNull();

    const value = randomBytes(32).toString("base64url");
    const name = "_acme-challenge.a.deep.example.test";
    const updates = server.seen.updates;
    await solver.present(tenant, deep.id, name, value);
    expect(server.seen.updates).toBe(updates + 1);
    // Independently: dig over TCP and UDP sees the record.
    expect((await dig(server.port, name, "TXT", ["+tcp"])).out.trim()).toBe(`"${value}"`);
    expect((await dig(server.port, name, "TXT")).out.trim()).toBe(`"${value}"`);
    // The apex entry: the record for example.test goes into example.test.
    await solver.present(tenant, broad.id, "_acme-challenge.example.test", value);
    expect((await dig(server.port, "_acme-challenge.example.test", "TXT", ["+tcp"])).out.trim()).toBe(`"${value}"`);

    await solver.cleanup(tenant, deep.id, name, value);
    await solver.cleanup(tenant, broad.id, "_acme-challenge.example.test", value);
    expect((await dig(server.port, name, "TXT", ["+tcp"])).out.trim()).toBe("");
    expect((await dig(server.port, "_acme-challenge.example.test", "TXT", ["+tcp"])).out.trim()).toBe("");
    await expect(solver.present(tenant, deep.id, "_acme-challenge.other.test", value)).rejects.toMatchObject({ code: "name_not_allowed" });
    // An inactive provider is not picked and takes no new record.
    expect((await vault().admin.patch(`/v1/dns/providers/${deep.id}`, { is_active: false })).status).toBe(200);
    expect((await solver.pick(tenant, ["a.deep.example.test"]))?.id).not.toBe(deep.id);
    await expect(solver.present(tenant, deep.id, name, value)).rejects.toMatchObject({ code: "validation_error", status: 422 });
    expect(server.values(name)).toEqual([]);
  });

  it("solver: a wrong TSIG secret or a silent server is a clear 502 dns_provider_error within the bound; cleanup never throws", async () => {
    const { admin } = vault();
    const wrong = await created(admin.post("/v1/dns/providers", body({ name: "solver-wrong", credentials: { tsig_secret: wrongSecret } })));
    const stalled = await created(admin.post("/v1/dns/providers", body({ name: "solver-stalled", config: { server: `127.0.0.1:${silentPort}`, tsig_key_name: "vault-key" } })));
    const tenant = await tenantOf(wrong.id);
    const solver = vault().vault.dns.solver;
    const name = "_acme-challenge.w.example.test";
    const rejected = await solver.present(tenant, wrong.id, name, "v1").catch((e) => e);
    expect(rejected).toMatchObject({ code: "dns_provider_error", status: 502, details: { provider_id: wrong.id, reason: "tsig", rcode: "NOTAUTH", tsig_error: "BADSIG" } });
    expect(server.values(name)).toEqual([]);
    const started = Date.now();
    const timedOut = await solver.present(tenant, stalled.id, name, "v2").catch((e) => e);
    expect(timedOut).toMatchObject({ code: "dns_provider_error", status: 502, details: { provider_id: stalled.id, reason: "timeout", timeout_ms: 1000 } });
    expect(timedOut.message).toMatch(/No answer from 127\.0\.0\.1:\d+ over UDP within 1000 ms/);
    // The bound: one request timeout (1 s), with generous room for a loaded machine.
    expect(Date.now() - started).toBeLessThan(15_000);
    await expect(solver.cleanup(tenant, stalled.id, name, "v2")).resolves.toBeUndefined();
    await expect(solver.cleanup(tenant, wrong.id, name, "v1")).resolves.toBeUndefined();
  });

  it("keeps TSIG secrets out of every stored byte, the logs, the audit trail and events", async () => {
    const stored = await everyStoredValue(vault());
    expect(stored.length).toBeGreaterThan(0);
    const forms = (s: string) => [s, Buffer.from(s, "base64").toString("hex"), s.slice(4, 36)];
    for (const value of stored) {
      for (const s of [secret, wrongSecret]) for (const form of forms(s)) expect(value.includes(Buffer.from(form))).toBe(false);
      expect(value.includes(Buffer.from("tsig_secret"))).toBe(false);
      expect(value.includes(Buffer.from("r53-secret"))).toBe(false);
      expect(value.includes(Buffer.from("cf-token-value"))).toBe(false);
    }
    // The scan can fail: the (public) key name and server address are stored in plaintext and found.
    expect(stored.some((value) => value.includes(Buffer.from(server.address)))).toBe(true);
    const { logs, vault: v } = vault();
    const all = logs.join("");
    expect(all).toContain("/v1/dns/providers");
    for (const s of [secret, wrongSecret, "r53-secret", "cf-token-value"]) expect(all).not.toContain(s);
    const audit = await v.db.all<{ extra_data: string | null }>("SELECT extra_data FROM audit_log WHERE action LIKE 'dns_provider_%'");
    expect(audit.length).toBeGreaterThan(10);
    const events = await v.db.all<{ data: string }>("SELECT data FROM events");
    for (const text of [...audit.map((a) => a.extra_data ?? ""), ...events.map((e) => e.data)]) {
      for (const s of [secret, wrongSecret]) expect(text).not.toContain(s);
    }
  });
});
