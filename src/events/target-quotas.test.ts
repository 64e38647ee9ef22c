import { beforeAll, expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault, type ApiClient } from "../testing/harness.js";

/**
 * Every event is matched against each webhook and subscription of its tenant, and each match is a
 * row and a request: a weak `subscriptions:write` token could make one write cost thousands. A
 * tenant and an identity hold at most a configured number (small here).
 */
const QUOTAS = { SCAIVAULT_MAX_SUBSCRIPTIONS_PER_IDENTITY: "3", SCAIVAULT_MAX_SUBSCRIPTIONS_PER_TENANT: "5", SCAIVAULT_MAX_WEBHOOKS_PER_TENANT: "2" };
const POLLING = { paths: ["team/**"], events: ["secret.*"], delivery: { type: "polling" } };

async function subscriber(admin: ApiClient, identity: string): Promise<ApiClient> {
  const token = await admin.post("/v1/auth/tokens", { identity_id: identity, identity_type: "service_account", scopes: ["subscriptions:read", "subscriptions:write"], expires_in: "1h" });
  expect(token.status).toBe(201);
  return admin.withToken(token.body.token);
}

function expectQuota(response: { status: number; body: any; text: string }, per: "identity" | "tenant", resource: string, limit: number): void {
  expect(response.status, response.text).toBe(409);
  expect(response.body.error).toMatchObject({ code: "quota_exceeded", details: { resource, per, limit } });
}

describeEachBackend("events: how many webhooks and subscriptions a tenant and an identity hold", (backend) => {
  const vault = useVault(backend, { env: QUOTAS });
  let first: ApiClient;
  let second: ApiClient;
  beforeAll(async () => {
    first = await subscriber(vault().admin, "sa:first");
    second = await subscriber(vault().admin, "sa:second");
  });

  it("refuses an identity's subscription past its quota, then the tenant's past the tenant's; a deleted one frees its place, a disabled one does not", async () => {
    const { admin, vault: server } = vault();
    const created: string[] = [];
    for (const name of ["f1", "f2", "f3"]) {
      const response = await first.post("/v1/subscriptions", { name, ...POLLING });
      expect(response.status, response.text).toBe(201);
      created.push(response.body.id);
    }
    expectQuota(await first.post("/v1/subscriptions", { name: "f4", ...POLLING }), "identity", "subscriptions", 3);
    // The refusal is audited as one, and nothing of it was stored.
    const refusal = await server.db.get<{ success: number | boolean; status: number }>("SELECT success, status FROM audit_log WHERE action = 'subscription_create' AND identity_id = 'sa:first' ORDER BY timestamp DESC, id DESC LIMIT 1");
    expect(refusal && [Number(refusal.success), Number(refusal.status)]).toEqual([0, 409]);
    expect((await server.db.all("SELECT id FROM subscriptions WHERE name = 'f4'"))).toEqual([]);

    expect((await second.post("/v1/subscriptions", { name: "s1", ...POLLING })).status).toBe(201);
    expect((await second.post("/v1/subscriptions", { name: "s2", ...POLLING })).status).toBe(201);
    expectQuota(await second.post("/v1/subscriptions", { name: "s3", ...POLLING }), "tenant", "subscriptions", 5);
    // An admin is in the same tenant: the tenant's quota is its too.
    expectQuota(await admin.post("/v1/subscriptions", { name: "a1", ...POLLING }), "tenant", "subscriptions", 5);

    expect((await first.patch(`/v1/subscriptions/${created[0]}`, { status: "disabled" })).status).toBe(200);
    expectQuota(await second.post("/v1/subscriptions", { name: "s3", ...POLLING }), "tenant", "subscriptions", 5);
    expect((await first.delete(`/v1/subscriptions/${created[0]}`)).status).toBe(200);
    expect((await second.post("/v1/subscriptions", { name: "s3", ...POLLING })).status).toBe(201);
    expect(Number((await server.db.get<{ n: number | string }>("SELECT COUNT(*) AS n FROM subscriptions WHERE tenant_id = 'tnt_default'"))?.n)).toBe(5);
  });

  it("another tenant has quotas of its own", async () => {
    const { admin } = vault();
    expect((await admin.post("/v1/identity/tenants", { id: "tnt_quota_other", name: "other" })).status).toBe(201);
    const other = { headers: { "X-Tenant-ID": "tnt_quota_other" } };
    expect((await admin.post("/v1/subscriptions", { name: "elsewhere", ...POLLING }, other)).status).toBe(201);
    for (const name of ["h1", "h2"]) expect((await admin.post("/v1/webhooks", { name, url: "https://hooks.example.com/in", events: ["secret.*"] }, other)).status).toBe(201);
    expectQuota(await admin.post("/v1/webhooks", { name: "h3", url: "https://hooks.example.com/in", events: ["secret.*"] }, other), "tenant", "webhooks", 2);
  });

  it("creations at once take the last place once", async () => {
    const { admin } = vault();
    expect((await admin.post("/v1/webhooks", { name: "only", url: "https://hooks.example.com/in", events: ["secret.*"] })).status).toBe(201);
    // One place left: of eight concurrent creations exactly one lands.
    const responses = await Promise.all(Array.from({ length: 8 }, (_, i) => admin.post("/v1/webhooks", { name: `race-${i}`, url: "https://hooks.example.com/in", events: ["secret.*"] })));
    expect(responses.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409, 409, 409, 409]);
    expect(((await admin.get("/v1/webhooks")).body.webhooks as unknown[]).length).toBe(2);
  });
});
