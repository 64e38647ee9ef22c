import { beforeAll, expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault, type ApiClient, type ApiResponse } from "../testing/harness.js";
import { eventually } from "../events/test-receiver.js";
import { openStream } from "../testing/sse.js";

const FAST = { SCAIVAULT_EVENTS_POLL_INTERVAL: "100ms" };

function expectCode(response: ApiResponse, status: number, code: string): void {
  expect(response.status, response.text).toBe(status);
  expect(response.body.error.code).toBe(code);
}

/**
 * Another tenant's event targets, deliveries, stream and audit exports, read and acted on by a
 * tenant administrator of a second tenant of the same partner (not a partner admin): every id of
 * tenant A answers B its own not-found code, and lists never carry A's objects.
 */
describeEachBackend("tenancy: events, deliveries, streams, exports and batch reads stay in their tenant", (backend) => {
  const vault = useVault(backend, { env: FAST });
  let adminB: ApiClient;
  let tokenB = "";
  const a = { webhook: "", subscription: "", webhookDelivery: "", subscriptionEvent: "", exportId: "" };

  beforeAll(async () => {
    const { admin } = vault();

    const created = await admin.post("/v1/identity/tenants", { id: "tnt_xb", name: "Cross B" });
    expect(created.status, created.text).toBe(201);
    const inB = { headers: { "x-tenant-id": "tnt_xb" } };
    const policyB = await admin.post("/v1/policies", { name: "b-admin", rules: [{ path_pattern: "**", permissions: ["admin"] }] }, inB);
    expect(policyB.status, policyB.text).toBe(201);
    expect((await admin.post(`/v1/policies/${policyB.body.id}/bindings`, { identity_type: "user", identity_id: "user:b-admin" }, inB)).status).toBe(201);
    const issued = await admin.post("/v1/auth/tokens", { identity_id: "user:b-admin", identity_type: "user", scopes: ["admin"] }, inB);
    expect(issued.status, issued.text).toBe(201);
    expect(issued.body.tenant_id).toBe("tnt_xb");
    tokenB = issued.body.token;
    adminB = admin.withToken(tokenB);

    // Tenant A: a webhook with a delivery, a polling subscription with an event, an audit export.
    const hook = await admin.post("/v1/webhooks", { name: "a-hook", url: "http://127.0.0.1:9/never", secret: "whsec_a", events: ["secret.*"] });
    expect(hook.status, hook.text).toBe(201);
    a.webhook = hook.body.id;
    const sub = await admin.post("/v1/subscriptions", { name: "a-sub", paths: ["xt/**"], events: ["secret.*"], delivery: { type: "polling" } });
    expect(sub.status, sub.text).toBe(201);
    a.subscription = sub.body.id;
    expect((await admin.put("/v1/secrets/xt/a-only", { data: { v: "a" } })).status).toBe(201);
    const deliveries = await eventually(() => admin.get(`/v1/webhooks/${a.webhook}/deliveries`), (res) => res.body.deliveries?.length >= 1);
    a.webhookDelivery = deliveries.body.deliveries[0].id;
    const polled = await eventually(() => admin.get(`/v1/subscriptions/${a.subscription}/poll?timeout=1`), (res) => res.body.events?.length >= 1);
    a.subscriptionEvent = polled.body.events[0].event_id;
    const exported = await admin.post("/v1/audit/export", { format: "jsonl", destination: { type: "file", path: "cross-tenant" } });
    expect(exported.status, exported.text).toBe(202);
    a.exportId = exported.body.export_id;
  });

  it("B reading A's webhooks, deliveries and subscriptions gets their not-found codes and lists without them", async () => {
    expectCode(await adminB.get(`/v1/webhooks/${a.webhook}`), 404, "webhook_not_found");
    expectCode(await adminB.get(`/v1/webhooks/${a.webhook}/deliveries`), 404, "webhook_not_found");
    expectCode(await adminB.get(`/v1/subscriptions/${a.subscription}`), 404, "subscription_not_found");
    expectCode(await adminB.get(`/v1/subscriptions/${a.subscription}/poll?timeout=0`), 404, "subscription_not_found");
    expectCode(await adminB.get(`/v1/subscriptions/${a.subscription}/deliveries`), 404, "subscription_not_found");
    const hooks = await adminB.get("/v1/webhooks");
    expect(hooks.status).toBe(200);
    expect(hooks.body.webhooks).toEqual([]);
    const subs = await adminB.get("/v1/subscriptions");
    expect(subs.status).toBe(200);
    expect(subs.body.data).toEqual([]);
  });

  it("B acting on A's webhooks, deliveries and subscriptions changes nothing", async () => {
    const { admin } = vault();
    expectCode(await adminB.patch(`/v1/webhooks/${a.webhook}`, { enabled: false }), 404, "webhook_not_found");
    expectCode(await adminB.post(`/v1/webhooks/${a.webhook}/test`), 404, "webhook_not_found");
    expectCode(await adminB.post(`/v1/webhooks/${a.webhook}/deliveries/${a.webhookDelivery}/redeliver`), 404, "webhook_not_found");
    expectCode(await adminB.delete(`/v1/webhooks/${a.webhook}`), 404, "webhook_not_found");
    expectCode(await adminB.post(`/v1/subscriptions/${a.subscription}/ack`, { event_ids: [a.subscriptionEvent] }), 404, "subscription_not_found");
    expectCode(await adminB.patch(`/v1/subscriptions/${a.subscription}`, { name: "renamed-by-b" }), 404, "subscription_not_found");
    expectCode(await adminB.delete(`/v1/subscriptions/${a.subscription}`), 404, "subscription_not_found");
    // A's objects are untouched: the webhook still enabled, the event still unacknowledged.
    expect((await admin.get(`/v1/webhooks/${a.webhook}`)).body.enabled).toBe(true);
    const again = await admin.get(`/v1/subscriptions/${a.subscription}/poll?timeout=0`);
    expect(again.body.events.map((e: { event_id: string }) => e.event_id)).toContain(a.subscriptionEvent);
  });

  it("B's event stream carries B's events and never A's", async () => {
    const { admin, baseUrl } = vault();
    const stream = await openStream(baseUrl, { token: tokenB });
    expect(stream.response.status).toBe(200);
    // A's write first: had it leaked, it would arrive before B's.
    expect((await admin.put("/v1/secrets/xt/a-marker", { data: { v: 1 } })).status).toBe(201);
    expect((await adminB.put("/v1/secrets/xt/b-marker", { data: { v: 1 } })).status).toBe(201);
    await stream.until((events) => events.some((e) => e.data.path === "xt/b-marker"));
    await stream.close();
    const text = stream.text;
    expect(text).toContain("xt/b-marker");
    expect(text).not.toContain("xt/a-marker");
    expect(text).not.toContain("xt/a-only");
  });

  it("B cannot read A's audit exports, and batch reads resolve in B's own tenant", async () => {
    expectCode(await adminB.get(`/v1/audit/exports/${a.exportId}`), 404, "export_not_found");
    const exports = await adminB.get("/v1/audit/exports");
    expect(exports.status, exports.text).toBe(200);
    expect(JSON.stringify(exports.body)).not.toContain(a.exportId);

    const batch = await adminB.post("/v1/secrets/batch", { paths: ["xt/a-only"] });
    expect(batch.status, batch.text).toBe(200);
    expect(batch.body.secrets).toEqual({});
    expect(batch.body.errors["xt/a-only"].code).toBe("secret_not_found");
    expectCode(await adminB.post("/v1/secrets/batch", { paths: ["xt/a-only"] }, { headers: { "x-tenant-id": "tnt_default" } }), 403, "tenant_access_denied");
    expectCode(await adminB.post("/v1/t/tnt_default/secrets/batch", { paths: ["xt/a-only"] }), 403, "tenant_access_denied");
  });
});
