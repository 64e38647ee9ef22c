import { afterAll, beforeAll, expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { eventually, TestReceiver } from "./test-receiver.js";

// Every range the issue names, as literal addresses, plus a host name that resolves to 127.0.0.1.
const BLOCKED = [
  ["loopback", "http://127.0.0.1:{port}/"],
  ["loopback /8", "http://127.9.9.9:{port}/"],
  ["private 10/8", "http://10.1.2.3/"],
  ["private 172.16/12", "http://172.20.0.1/"],
  ["private 192.168/16", "http://192.168.1.1/"],
  ["carrier-grade NAT", "http://100.64.0.1/"],
  ["link-local (cloud metadata)", "http://169.254.169.254/latest/meta-data/"],
  ["multicast", "http://224.0.0.1/"],
  ["unspecified", "http://0.0.0.0:{port}/"],
  ["IPv6 loopback", "http://[::1]:{port}/"],
  ["IPv6 unique local", "http://[fd00::1]/"],
  ["IPv6 link-local", "http://[fe80::1]/"],
  ["IPv6 multicast", "http://[ff02::1]/"],
  ["IPv4-mapped IPv6 loopback", "http://[::ffff:127.0.0.1]:{port}/"],
  ["IPv4-mapped IPv6 private", "http://[::ffff:10.0.0.1]/"],
  ["host name resolving to 127.0.0.1", "http://localhost:{port}/"],
] as const;

describeEachBackend("events: SSRF defence", (backend) => {
  const vault = useVault(backend, { env: { SCAIVAULT_WEBHOOK_ALLOW_PRIVATE: "false", SCAIVAULT_EVENTS_POLL_INTERVAL: "100ms", SCAIVAULT_WEBHOOK_RETRY_SCHEDULE: "50ms" } });
  // A real listener on loopback: if any check let a request through, it would record it.
  const trap = new TestReceiver();
  beforeAll(async () => {
    await trap.start();
  });
  afterAll(async () => {
    await trap.stop();
  });

  it.each(BLOCKED)("refuses %s at delivery time", async (label, template) => {
    const { admin } = vault();
    const url = template.replace("{port}", String(trap.port));
    // Syntax only at creation: the webhook is accepted.
    const hook = await admin.post("/v1/webhooks", { name: `ssrf ${label}`, url, secret: "s", events: ["secret.created"], filters: { path_prefix: "never/" } });
    expect(hook.status).toBe(201);
    const test = await admin.post(`/v1/webhooks/${hook.body.id}/test`);
    expect(test.status).toBe(200);
    expect(test.body.status).toBe("failed");
    expect(test.body.response_code).toBeNull();
    expect(test.body.error).toMatch(/^ssrf_blocked: destination address .+ is private, loopback, link-local, multicast or reserved$/);
    expect(trap.received).toHaveLength(0);
  });

  it("fails a background delivery with the reason, retries it on schedule, and never connects", async () => {
    const { admin } = vault();
    const hook = await admin.post("/v1/webhooks", { name: "bg", url: `http://localhost:${trap.port}/x`, secret: "s", events: ["secret.created"], filters: { path_prefix: "bg/" } });
    await admin.put("/v1/secrets/bg/one", { data: { v: 1 } });
    const failed = await eventually(() => admin.get(`/v1/webhooks/${hook.body.id}/deliveries?status=failed`), (res) => res.body.deliveries.length === 1);
    expect(failed.body.deliveries[0]).toMatchObject({ attempts: 2, response_code: null });
    expect(failed.body.deliveries[0].error).toMatch(/^ssrf_blocked:/);
    expect(trap.received).toHaveLength(0);
  });
});
