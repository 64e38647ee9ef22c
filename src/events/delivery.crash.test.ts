import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeEachBackend, scratchDatabase, type ScratchDatabase } from "../testing/backends.js";
import { ApiClient } from "../testing/harness.js";
import { freePort } from "../testing/ports.js";
import { exited, startServer } from "../testing/processes.js";
import { eventually, TestReceiver } from "./test-receiver.js";

describeEachBackend("events: kill -9 right after an acknowledged write", (backend) => {
  let database: ScratchDatabase;
  let answering = false;
  // Until the crash the receiver holds every request open, so nothing counts as delivered before it.
  const receiver = new TestReceiver(() => (answering ? { status: 200 } : null));
  beforeAll(async () => {
    database = await scratchDatabase(backend);
    await receiver.start();
  });
  afterAll(async () => {
    await receiver.stop();
    await database?.drop();
  });

  it("delivers the event after the restart", async () => {
    const adminToken = `skt_${randomBytes(32).toString("base64url")}`;
    // The webhook receivers listen on 127.0.0.1.
    const env = {
      SCAIVAULT_WEBHOOK_ALLOW_PRIVATE: "true",
      DATABASE_URL: database.url,
      KMS_LOCAL_KEY: randomBytes(32).toString("base64"),
      SCAIVAULT_BOOTSTRAP_TOKEN: adminToken,
      SCAIVAULT_EVENTS_POLL_INTERVAL: "200ms",
      SCAIVAULT_WEBHOOK_TIMEOUT: "1s",
      SCAIVAULT_WEBHOOK_RETRY_SCHEDULE: "200ms,200ms,200ms",
    };
    const port = await freePort();
    let server = await startServer(env, port);
    const client = new ApiClient(`http://127.0.0.1:${port}`, adminToken);
    const hook = await client.post("/v1/webhooks", { name: "crash", url: `${receiver.url}/crash`, secret: "crash-secret", events: ["secret.created"] });
    expect(hook.status).toBe(201);

    const put = await client.put("/v1/secrets/crash/one", { data: { v: 1 } });
    expect(put.status).toBe(201);
    server.kill("SIGKILL");
    await exited(server);
    expect(receiver.answered).toHaveLength(0);

    answering = true;
    server = await startServer(env, port);
    try {
      // The in-flight attempt's lease (2 × timeout + 5 s) runs out, then the restarted node takes it.
      await receiver.waitFor(() => receiver.answered.length >= 1, 30_000);
      const event = receiver.answered[0].event;
      expect(event).toMatchObject({ event_type: "secret.created", path: "crash/one" });
      const log = await eventually(() => client.get(`/v1/webhooks/${hook.body.id}/deliveries?status=success`), (res) => res.body.deliveries?.length >= 1);
      expect(log.body.deliveries.map((d: { event_id: string }) => d.event_id)).toEqual([event.event_id]);
    } finally {
      server.kill("SIGTERM");
      await exited(server);
    }
  }, 60_000);
});
