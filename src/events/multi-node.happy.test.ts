import { randomBytes } from "node:crypto";
import type { ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postgresAvailable, scratchDatabase, type ScratchDatabase } from "../testing/backends.js";
import { ApiClient } from "../testing/harness.js";
import { freePort } from "../testing/ports.js";
import { exited, startServer } from "../testing/processes.js";
import { eventually, TestReceiver } from "./test-receiver.js";

// Several nodes share one PostgreSQL database; SQLite is the single-node store.
(postgresAvailable() ? describe : describe.skip)("events: two server processes on one PostgreSQL [postgres]", () => {
  let database: ScratchDatabase;
  const servers: ChildProcess[] = [];
  const receiver = new TestReceiver(() => ({ status: 200 }));
  const clients: ApiClient[] = [];
  beforeAll(async () => {
    database = await scratchDatabase("postgres");
    await receiver.start();
    const adminToken = `skt_${randomBytes(32).toString("base64url")}`;
    // The webhook receivers listen on 127.0.0.1.
    const env = { SCAIVAULT_WEBHOOK_ALLOW_PRIVATE: "true", DATABASE_URL: database.url, KMS_LOCAL_KEY: randomBytes(32).toString("base64"), SCAIVAULT_BOOTSTRAP_TOKEN: adminToken, SCAIVAULT_EVENTS_POLL_INTERVAL: "100ms", RATE_LIMIT_WRITE: "100000" };
    for (let i = 0; i < 2; i++) {
      const port = await freePort();
      servers.push(await startServer(env, port));
      clients.push(new ApiClient(`http://127.0.0.1:${port}`, adminToken));
    }
  }, 60_000);
  afterAll(async () => {
    for (const server of servers) {
      server.kill("SIGTERM");
      await exited(server);
    }
    await receiver.stop();
    await database?.drop();
  });

  it("delivers each event once between them, in order per path", async () => {
    const hook = await clients[0].post("/v1/webhooks", { name: "shared", url: `${receiver.url}/shared`, secret: "shared", events: ["secret.*"] });
    expect(hook.status).toBe(201);
    const paths = ["mn/a", "mn/b", "mn/c", "mn/d"];
    for (let version = 1; version <= 5; version++) {
      // Both nodes write concurrently; each path's versions still go out in order.
      await Promise.all(paths.map((path, i) => clients[(i + version) % 2].put(`/v1/secrets/${path}`, { data: { version } }).then((r) => expect(r.status).toBeLessThan(300))));
    }
    await receiver.waitFor((all) => all.length >= 20, 30_000);
    // A duplicate would come from a later delivery pass: one more event, delivered, proves passes ran after.
    expect((await clients[0].put("/v1/secrets/mn/marker", { data: { version: 1 } })).status).toBe(201);
    await receiver.waitFor((all) => all.some((r) => r.event.path === "mn/marker"), 30_000);
    const ids = receiver.received.filter((r) => r.event.path !== "mn/marker").map((r) => r.event.event_id);
    expect(ids).toHaveLength(20);
    expect(new Set(ids).size).toBe(20);
    expect(receiver.received.filter((r) => r.event.path === "mn/marker")).toHaveLength(1);
    for (const path of paths) {
      expect(receiver.received.filter((r) => r.event.path === path).map((r) => r.event.data.version)).toEqual([1, 2, 3, 4, 5]);
    }
    const log = await eventually(() => clients[1].get(`/v1/webhooks/${hook.body.id}/deliveries?status=success&limit=100`), (res) => res.body.deliveries?.length >= 21);
    expect(log.body.deliveries).toHaveLength(21);
  }, 60_000);
});
