import { createHmac } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { eventually, TestReceiver } from "./test-receiver.js";

const FAST = { SCAIVAULT_WEBHOOK_RETRY_SCHEDULE: "100ms,200ms,300ms", SCAIVAULT_EVENTS_POLL_INTERVAL: "100ms", SCAIVAULT_WEBHOOK_TIMEOUT: "2s" };
const hex = (secret: string, text: string) => createHmac("sha256", secret).update(text).digest("hex");

describeEachBackend("events: webhooks and webhook subscriptions", (backend) => {
  const vault = useVault(backend, { env: FAST });
  const receiver = new TestReceiver();
  beforeAll(async () => {
    await receiver.start();
  });
  afterAll(async () => {
    await receiver.stop();
  });

  it("delivers the seed's step 6 subscription: body-signed secret.updated with path at the top level", async () => {
    const { admin } = vault();
    const secret = "whsec_seed_step6_example";
    const created = await admin.post("/v1/subscriptions", {
      name: "reporting-service-sf-rotations",
      paths: ["integrations/salesforce/oauth"],
      events: ["secret.rotated", "secret.updated"],
      delivery: { type: "webhook", url: `${receiver.url}/scaivault/events`, secret },
    });
    expect(created.status).toBe(201);
    expect(created.body.id).toMatch(/^sub_/);
    expect(created.body.identity_id).toBe("system:bootstrap");
    expect(created.body.delivery).toEqual({ type: "webhook", url: `${receiver.url}/scaivault/events`, signature_scheme: "body" });
    expect(created.text).not.toContain(secret);

    expect((await admin.put("/v1/secrets/integrations/salesforce/oauth", { data: { client_id: "a", client_secret: "first-value" }, secret_type: "json" })).status).toBe(201);
    expect((await admin.put("/v1/secrets/integrations/salesforce/oauth", { data: { client_id: "a", client_secret: "second-value" } })).status).toBe(200);
    await receiver.waitFor((all) => all.some((r) => r.path === "/scaivault/events" && r.event?.event_type === "secret.updated"));
    const hits = receiver.received.filter((r) => r.path === "/scaivault/events");
    // secret.created is not subscribed; the handler's check passes on every delivery.
    expect(hits.map((r) => r.event.event_type)).toEqual(["secret.updated"]);
    for (const hit of hits) {
      expect(hit.headers["x-scaivault-signature"]).toBe(hex(secret, hit.raw));
      expect(hit.event.path).toBe("integrations/salesforce/oauth");
      expect(hit.headers["user-agent"]).toBe("ScaiVault-Webhook/1.0");
      expect(hit.headers["x-scaivault-event-id"]).toBe(hit.event.event_id);
      expect(hit.headers["x-scaivault-event-type"]).toBe("secret.updated");
      // Hyphens are not in any id's alphabet: "two" once matched a random request id.
      expect(hit.raw).not.toContain("second-value");
    }
    expect(hits[0].event).toMatchObject({ tenant_id: "tnt_default", partner_id: "ptn_default", identity_id: "system:bootstrap", data: { old_version: 1, new_version: 2, is_rotation: false } });
    expect(hits[0].event.request_id).toMatch(/^req_/);

    // The receiver answers before the worker records the outcome.
    const deliveries = await eventually(() => admin.get(`/v1/subscriptions/${created.body.id}/deliveries`), (res) => res.body.deliveries[0]?.status === "success");
    expect(deliveries.status).toBe(200);
    expect(deliveries.body.deliveries[0]).toMatchObject({ status: "success", attempts: 1, response_code: 200, event_type: "secret.updated" });
  });

  it("signs /v1/webhooks deliveries the timestamped way and never echoes the secret", async () => {
    const { admin } = vault();
    const secret = "whsec_timestamped_scheme_secret";
    const created = await admin.post("/v1/webhooks", { name: "ts", url: `${receiver.url}/ts`, secret, events: ["secret.created"], filters: { path_prefix: "ts/" } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id: expect.stringMatching(/^wh_/), enabled: true, status: "healthy", signature_scheme: "timestamped", events: ["secret.created"] });
    expect(created.text).not.toContain(secret);
    await admin.put("/v1/secrets/other/x", { data: { v: 1 } });
    await admin.put("/v1/secrets/ts/x", { data: { v: 1 } });
    const [hit] = await receiver.waitFor((all) => all.some((r) => r.path === "/ts")).then((all) => all.filter((r) => r.path === "/ts"));
    const ts = hit.headers["x-scaivault-timestamp"] as string;
    expect(ts).toMatch(/^\d+$/);
    expect(Math.abs(Number(ts) - Date.now() / 1000)).toBeLessThan(300);
    expect(hit.headers["x-scaivault-signature"]).toBe(`sha256=${hex(secret, `${ts}.${hit.raw}`)}`);
    expect(hit.event).toMatchObject({ event_type: "secret.created", path: "ts/x" });

    const listed = await admin.get("/v1/webhooks");
    expect(listed.body.webhooks.map((w: { id: string }) => w.id)).toContain(created.body.id);
    const one = await eventually(() => admin.get(`/v1/webhooks/${created.body.id}`), (res) => res.body.last_delivery?.status === "success");
    expect(one.body.statistics.deliveries_24h).toBeGreaterThanOrEqual(1);
    expect(one.body.last_delivery).toMatchObject({ status: "success", response_code: 200 });
    for (const response of [listed, one]) expect(response.text).not.toContain(secret);
  });

  it("retries a receiver that fails first, signing each attempt afresh", async () => {
    const { admin } = vault();
    const flaky = await new TestReceiver((_r, i) => ({ status: i < 2 ? 500 : 200 })).start();
    try {
      const hook = await admin.post("/v1/webhooks", { name: "flaky", url: flaky.url, secret: "s3cr3t", events: ["secret.*"], filters: { path_prefix: "flaky/" } });
      await admin.put("/v1/secrets/flaky/one", { data: { v: 1 } });
      await flaky.waitFor((all) => all.length >= 3);
      expect(new Set(flaky.received.map((r) => r.event.event_id)).size).toBe(1);
      for (const r of flaky.received) expect(r.headers["x-scaivault-signature"]).toBe(`sha256=${hex("s3cr3t", `${r.headers["x-scaivault-timestamp"]}.${r.raw}`)}`);
      const log = await eventually(() => admin.get(`/v1/webhooks/${hook.body.id}/deliveries`), (res) => res.body.deliveries[0]?.status === "success");
      expect(log.body.deliveries[0]).toMatchObject({ attempts: 3, response_code: 200 });
      // The final outcome is audited; retries in between are not.
      const audit = await admin.get("/v1/audit/logs?action=webhook_delivery&limit=200");
      const entries = audit.body.logs.filter((l: { extra_data?: { delivery_id?: string } }) => l.extra_data?.delivery_id === log.body.deliveries[0].id);
      expect(entries).toHaveLength(1);
      expect(entries[0]).toMatchObject({ success: true, identity_id: "system:event-delivery", secret_path: "flaky/one" });
    } finally {
      await flaky.stop();
    }
  });

  it("gives up after the schedule, honours Retry-After, and a 410 disables the webhook", async () => {
    const { admin } = vault();
    const down = await new TestReceiver(() => ({ status: 503, headers: { "retry-after": "1" } })).start();
    const gone = await new TestReceiver(() => ({ status: 410 })).start();
    try {
      const failing = await admin.post("/v1/webhooks", { name: "failing", url: down.url, secret: "x", events: ["secret.created"], filters: { path_prefix: "fail/" } });
      const goneHook = await admin.post("/v1/webhooks", { name: "gone", url: gone.url, secret: "x", events: ["secret.created"], filters: { path_prefix: "fail/" } });
      await admin.put("/v1/secrets/fail/a", { data: { v: 1 } });
      const failed = await eventually(() => admin.get(`/v1/webhooks/${failing.body.id}/deliveries?status=failed`), (res) => res.body.deliveries.length === 1, 20_000);
      // 1 attempt + 3 retries; Retry-After: 1 stretched each 100–300 ms delay to at least a second.
      expect(failed.body.deliveries[0]).toMatchObject({ attempts: 4, response_code: 503, error: "http 503" });
      const stamps = down.received.map((r) => Number(r.headers["x-scaivault-timestamp"]));
      expect(stamps[3] - stamps[0]).toBeGreaterThanOrEqual(2);

      const disabled = await eventually(() => admin.get(`/v1/webhooks/${goneHook.body.id}`), (res) => res.body.enabled === false);
      expect(disabled.body).toMatchObject({ status: "disabled", disabled_reason: "receiver answered 410 Gone" });
      await admin.put("/v1/secrets/fail/b", { data: { v: 1 } });
      await eventually(() => admin.get(`/v1/webhooks/${failing.body.id}/deliveries`), (res) => res.body.deliveries.length === 2);
      expect(gone.received).toHaveLength(1);
    } finally {
      await down.stop();
      await gone.stop();
    }
  });

  it("delivers to a receiver that was down during the write once it is back, in order per path", async () => {
    const { admin } = vault();
    const late = new TestReceiver();
    await late.start();
    const port = late.port;
    await late.stop();
    const hook = await admin.post("/v1/webhooks", { name: "late", url: `http://127.0.0.1:${port}/hook`, secret: "late", events: ["secret.created", "secret.updated"], filters: { path_prefix: "late/" } });
    await admin.put("/v1/secrets/late/p", { data: { v: 1 } });
    await admin.put("/v1/secrets/late/p", { data: { v: 2 } });
    await admin.put("/v1/secrets/late/p", { data: { v: 3 } });
    // The first attempt was refused while the receiver was down; the later events wait behind it.
    const log = await eventually(() => admin.get(`/v1/webhooks/${hook.body.id}/deliveries`), (res) => res.body.deliveries.some((d: { attempts: number }) => d.attempts >= 1));
    expect(log.body.deliveries.find((d: { attempts: number }) => d.attempts >= 1).error).toBe("connection: ECONNREFUSED");
    expect(log.body.deliveries.filter((d: { attempts: number }) => d.attempts > 0)).toHaveLength(1);
    await late.start(port);
    try {
      await late.waitFor((all) => all.length >= 3, 20_000);
      expect(late.received.map((r) => [r.event.event_type, r.event.data.version])).toEqual([
        ["secret.created", 1],
        ["secret.updated", 2],
        ["secret.updated", 3],
      ]);
    } finally {
      await late.stop();
    }
  });

  it("tests, rotates the signing secret with an overlap, redelivers and deletes", async () => {
    const { admin } = vault();
    const hook = await admin.post("/v1/webhooks", { name: "ops", url: `${receiver.url}/ops`, events: ["secret.deleted"] });
    expect(hook.status).toBe(201);
    const generated = hook.body.secret as string;
    expect(generated).toMatch(/^whsec_/);
    expect((await admin.get(`/v1/webhooks/${hook.body.id}`)).text).not.toContain(generated);

    const test = await admin.post(`/v1/webhooks/${hook.body.id}/test`);
    expect(test.status).toBe(200);
    expect(test.body).toMatchObject({ delivery_id: expect.stringMatching(/^del_/), status: "success", response_code: 200 });
    const testHit = receiver.received.find((r) => r.path === "/ops" && r.event.event_type === "webhook.test")!;
    expect(testHit.headers["x-scaivault-signature"]).toBe(`sha256=${hex(generated, `${testHit.headers["x-scaivault-timestamp"]}.${testHit.raw}`)}`);

    const rotated = await admin.patch(`/v1/webhooks/${hook.body.id}`, { secret: "whsec_new", previous_secret_ttl: "24h" });
    expect(rotated.status).toBe(200);
    expect(rotated.body.previous_secret_expires_at).not.toBeNull();
    expect(rotated.text).not.toContain("whsec_new");
    await admin.put("/v1/secrets/ops/x", { data: { v: 1 } });
    await admin.delete("/v1/secrets/ops/x");
    const [del] = await receiver.waitFor((all) => all.some((r) => r.path === "/ops" && r.event.event_type === "secret.deleted")).then((all) => all.filter((r) => r.path === "/ops" && r.event.event_type === "secret.deleted"));
    const ts = del.headers["x-scaivault-timestamp"] as string;
    expect(del.headers["x-scaivault-signature"]).toBe(`sha256=${hex("whsec_new", `${ts}.${del.raw}`)}`);
    expect(del.headers["x-scaivault-signature-previous"]).toBe(`sha256=${hex(generated, `${ts}.${del.raw}`)}`);

    const log = await eventually(() => admin.get(`/v1/webhooks/${hook.body.id}/deliveries?status=success`), (res) => res.body.deliveries.some((d: { event_type: string }) => d.event_type === "secret.deleted"));
    const original = log.body.deliveries.find((d: { event_type: string }) => d.event_type === "secret.deleted");
    const again = await admin.post(`/v1/webhooks/${hook.body.id}/deliveries/${original.id}/redeliver`);
    expect(again.status).toBe(202);
    expect(again.body).toMatchObject({ event_id: original.event_id, status: "pending" });
    await receiver.waitFor((all) => all.filter((r) => r.event?.event_id === original.event_id).length === 2);

    expect((await admin.post(`/v1/webhooks/${hook.body.id}/deliveries/del_unknown/redeliver`)).body.error.code).toBe("delivery_not_found");
    expect((await admin.delete(`/v1/webhooks/${hook.body.id}`)).status).toBe(200);
    expect((await admin.get(`/v1/webhooks/${hook.body.id}`)).body.error.code).toBe("webhook_not_found");
  });

  it("follows no redirect: a 3xx is a failed attempt and the redirect target is never called", async () => {
    const { admin } = vault();
    const elsewhere = await new TestReceiver().start();
    const redirecting = await new TestReceiver(() => ({ status: 307, headers: { location: `${elsewhere.url}/stolen` } })).start();
    try {
      const hook = await admin.post("/v1/webhooks", { name: "redirect", url: redirecting.url, secret: "r", events: ["secret.created"] });
      const test = await admin.post(`/v1/webhooks/${hook.body.id}/test`);
      expect(test.body).toMatchObject({ status: "failed", response_code: 307, error: "http 307" });
      expect(redirecting.received).toHaveLength(1);
      expect(elsewhere.received).toHaveLength(0);
    } finally {
      await elsewhere.stop();
      await redirecting.stop();
    }
  });

  it("times out a receiver that never answers and delivers on the retry", async () => {
    const { admin } = vault();
    const slow = await new TestReceiver((_r, i) => (i === 0 ? null : { status: 200 })).start();
    try {
      const hook = await admin.post("/v1/webhooks", { name: "slow", url: slow.url, secret: "slow", events: ["secret.created"], filters: { path_prefix: "slow/" } });
      await admin.put("/v1/secrets/slow/one", { data: { v: 1 } });
      const log = await eventually(() => admin.get(`/v1/webhooks/${hook.body.id}/deliveries`), (res) => res.body.deliveries[0]?.status === "success", 20_000);
      expect(log.body.deliveries[0]).toMatchObject({ attempts: 2, response_code: 200 });
      expect(slow.received).toHaveLength(2);
      expect(slow.received[0].event.event_id).toBe(slow.received[1].event.event_id);
    } finally {
      await slow.stop();
    }
  });

  it("exposes delivery attempts and the queue depth as metrics", async () => {
    const { anonymous } = vault();
    const metrics = await anonymous.get("/v1/metrics");
    expect(metrics.status).toBe(200);
    const value = (name: string) => Number(new RegExp(`^${name.replace(/[{}"]/g, "\\$&")} (\\d+)`, "m").exec(metrics.text)?.[1]);
    // Earlier tests in this file: successes, the 503/410/500 failures and the time-out.
    expect(value('scaivault_webhook_delivery_attempts_total{outcome="success"}')).toBeGreaterThanOrEqual(5);
    expect(value('scaivault_webhook_delivery_attempts_total{outcome="failure"}')).toBeGreaterThanOrEqual(6);
    expect(value("scaivault_webhook_queue_depth")).toBeGreaterThanOrEqual(0);
  });
});
