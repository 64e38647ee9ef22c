import { Writable } from "node:stream";
import { afterAll, beforeAll, expect, it } from "vitest";
import { buildVault } from "../app.js";
import { describeEachBackend } from "../testing/backends.js";
import { ApiClient, startVault, useVault } from "../testing/harness.js";
import { eventually, TestReceiver } from "./test-receiver.js";

describeEachBackend("webhook setup: private targets", (backend) => {
  const vault = useVault(backend, { env: { SCAIVAULT_WEBHOOK_ALLOW_PRIVATE: "false" } });

  it("warns private_address when a webhook or subscription target resolves to a private address", async () => {
    const { admin } = vault();
    const hook = await admin.post("/v1/webhooks", { name: "local", url: "http://localhost:9/hook", secret: "s", events: ["secret.created"] });
    expect(hook.status).toBe(201);
    expect(hook.body.warnings).toEqual([{ code: "private_address", message: expect.stringContaining("SCAIVAULT_WEBHOOK_ALLOW_PRIVATE") }]);
    const literal = await admin.post("/v1/webhooks", { name: "metadata", url: "http://169.254.169.254/", secret: "s", events: ["secret.created"] });
    expect(literal.body.warnings?.[0]?.code).toBe("private_address");
    const sub = await admin.post("/v1/subscriptions", { name: "local-sub", paths: ["**"], events: ["secret.*"], delivery: { type: "webhook", url: "http://127.0.0.1:9/" } });
    expect(sub.status).toBe(201);
    expect(sub.body.warnings?.[0]?.code).toBe("private_address");
  });

  it("adds nothing for a public address or a host that does not resolve", async () => {
    const { admin } = vault();
    const pub = await admin.post("/v1/webhooks", { name: "public", url: "http://93.184.216.34/hook", secret: "s", events: ["secret.created"] });
    expect(pub.status).toBe(201);
    expect(pub.body.warnings).toBeUndefined();
    const unknown = await admin.post("/v1/webhooks", { name: "later", url: "http://not-yet-there.invalid/hook", secret: "s", events: ["secret.created"] });
    expect(unknown.status).toBe(201);
    expect(unknown.body.warnings).toBeUndefined();
    const polling = await admin.post("/v1/subscriptions", { name: "poll-sub", paths: ["**"], events: ["secret.*"], delivery: { type: "polling" } });
    expect(polling.body.warnings).toBeUndefined();
  });
});

describeEachBackend("webhook setup: redeliver of a pending delivery", (backend) => {
  const receiver = new TestReceiver();
  beforeAll(async () => {
    await receiver.start();
  });
  afterAll(async () => {
    await receiver.stop();
  });

  it("sends it now, in place, once — after the operator allowed private targets", async () => {
    const first = await startVault(backend, { env: { SCAIVAULT_WEBHOOK_ALLOW_PRIVATE: "false", SCAIVAULT_WEBHOOK_RETRY_SCHEDULE: "1h", SCAIVAULT_EVENTS_POLL_INTERVAL: "100ms" } });
    let second: Awaited<ReturnType<typeof buildVault>> | null = null;
    try {
      const hook = await first.admin.post("/v1/webhooks", { name: "blocked", url: `${receiver.url}/hook`, secret: "s", events: ["secret.created"], filters: { path_prefix: "redeliver/" } });
      expect(hook.status).toBe(201);
      expect((await first.admin.put("/v1/secrets/redeliver/one", { data: { v: 1 } })).status).toBe(201);
      const blocked = await eventually(() => first.admin.get(`/v1/webhooks/${hook.body.id}/deliveries`), (r) => r.body.deliveries.length === 1 && r.body.deliveries[0].attempts === 1);
      expect(blocked.body.deliveries[0]).toMatchObject({ status: "pending" });
      expect(blocked.body.deliveries[0].error).toMatch(/^ssrf_blocked:/);
      const original = blocked.body.deliveries[0].id;
      await first.vault.close();

      // The operator restarts with private targets allowed.
      second = await buildVault({ ...first.vault.config, webhookAllowPrivate: true }, { logStream: new Writable({ write: (_c, _e, done) => done() }) });
      const admin = new ApiClient((await second.app.listen({ host: "127.0.0.1", port: 0 })).replace("localhost", "127.0.0.1"), first.adminToken);
      const again = await admin.post(`/v1/webhooks/${hook.body.id}/deliveries/${original}/redeliver`);
      expect(again.status).toBe(202);
      expect(again.body.id).toBe(original);
      await receiver.waitFor((received) => received.length >= 1, 30_000);
      const settled = await eventually(() => admin.get(`/v1/webhooks/${hook.body.id}/deliveries`), (r) => r.body.deliveries.every((d: { status: string }) => d.status !== "pending"));
      expect(settled.body.deliveries).toHaveLength(1);
      expect(settled.body.deliveries[0]).toMatchObject({ id: original, status: "success" });
      expect(receiver.received.filter((r) => r.path === "/hook")).toHaveLength(1);
    } finally {
      await first.vault.close().catch(() => {});
      await second?.close();
      await first.database.drop();
    }
  }, 90_000);
});
