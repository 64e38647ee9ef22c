import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { until } from "../testing/observe.js";
import { DeliverySlots } from "./delivery-slots.js";
import { TestReceiver } from "./test-receiver.js";

describe("delivery slots", () => {
  it("gives a tenant its share at once, more only while the reserve stays free", () => {
    const slots = new DeliverySlots(8, 2, 3);
    const choose = slots.chooser();
    // Alone, a tenant takes all but the reserve.
    expect(["a", "a", "a", "a", "a", "a"].map(choose)).toEqual([true, true, true, true, true, false]);
    for (let i = 0; i < 5; i++) slots.start("a");
    expect(slots.free()).toBe(3);
    expect(slots.excluded()).toEqual(["a"]);
    // The reserve goes to tenants within their share.
    expect(["a", "b", "b", "b", "c"].map(slots.chooser())).toEqual([false, true, true, false, true]);
    slots.end("a");
    expect(slots.excluded()).toEqual([]);
    for (let i = 0; i < 4; i++) slots.end("a");
    expect(slots.free()).toBe(8);
  });
});

/**
 * A tenant whose receivers accept the connection and never answer holds its own deliveries, not
 * another tenant's: before, the worker claimed 32 deliveries and waited for all of them, so one
 * tenant's hanging receivers delayed everyone's deliveries by their timeouts, batch after batch
 * (11.5–12 s in the review; docs/benchmarks.md round 37).
 */
describeEachBackend("events: one tenant's hanging receivers do not hold another's deliveries", (backend) => {
  // The poll is an hour: every delivery here goes out from a commit's round or an ending attempt.
  const vault = useVault(backend, { env: { SCAIVAULT_EVENTS_POLL_INTERVAL: "1h", SCAIVAULT_WEBHOOK_TIMEOUT: "10s" } });
  const tarpit = new TestReceiver(() => null);
  const receiver = new TestReceiver();
  beforeAll(async () => {
    await tarpit.start();
    await receiver.start();
  });
  afterAll(async () => {
    await tarpit.stop();
    await receiver.stop();
  });

  it("delivers the other tenant's event while the hanging attempts wait, and leaves it the reserve", async () => {
    const { admin, vault: server } = vault();
    for (let i = 0; i < 40; i++) {
      const hook = await admin.post("/v1/webhooks", { name: `hang-${i}`, url: `${tarpit.url}/h${i}`, secret: "s", events: ["secret.created"], filters: { path_prefix: "hang/" } });
      expect(hook.status).toBe(201);
    }
    expect((await admin.post("/v1/identity/tenants", { id: "tnt_fair_other", name: "other" })).status).toBe(201);
    const other = { headers: { "X-Tenant-ID": "tnt_fair_other" } };
    expect((await admin.post("/v1/webhooks", { name: "quick", url: `${receiver.url}/quick`, secret: "s", events: ["secret.created"] }, other)).status).toBe(201);

    expect((await admin.put("/v1/secrets/hang/one", { data: { v: 1 } })).status).toBe(201);
    // A tenant alone takes every slot but the reserve (40 − 8), and no more.
    await tarpit.waitFor((received) => received.length >= 32);
    expect((await admin.put("/v1/secrets/quick/one", { data: { v: 1 } }, other)).status).toBe(201);
    await receiver.waitFor((received) => received.some((r) => r.event?.path === "quick/one"), 4_000);
    // Delivered before any hanging attempt ended (each waits out the 10 s timeout).
    const settled = await server.db.get<{ n: number | string }>("SELECT COUNT(*) AS n FROM event_deliveries WHERE tenant_id = 'tnt_default' AND attempts > 0");
    expect(Number(settled?.n)).toBe(0);
    expect(tarpit.received.length).toBe(32);

    // More deliveries than its share: each ending attempt's slot goes on to the next, no poll needed.
    for (let i = 1; i < 20; i++) expect((await admin.post("/v1/webhooks", { name: `quick-${i}`, url: `${receiver.url}/quick${i}`, secret: "s", events: ["secret.created"] }, other)).status).toBe(201);
    expect((await admin.put("/v1/secrets/quick/many", { data: { v: 1 } }, other)).status).toBe(201);
    await receiver.waitFor((received) => received.filter((r) => r.event?.path === "quick/many").length === 20, 5_000);
    const stillHanging = await server.db.get<{ n: number | string }>("SELECT COUNT(*) AS n FROM event_deliveries WHERE tenant_id = 'tnt_default' AND attempts > 0");
    expect(Number(stillHanging?.n)).toBe(0);
  }, 30_000);

  it("sends a path's deliveries in order, each as soon as the one before it ends", async () => {
    const { admin } = vault();
    const slow = await new SlowReceiver(300).start();
    try {
      expect((await admin.post("/v1/identity/tenants", { id: "tnt_fair_order", name: "ordered" })).status).toBe(201);
      const ordered = { headers: { "X-Tenant-ID": "tnt_fair_order" } };
      expect((await admin.post("/v1/webhooks", { name: "ordered", url: slow.url, secret: "s", events: ["secret.*"] }, ordered)).status).toBe(201);
      expect((await admin.put("/v1/secrets/ordered/one", { data: { v: 1 } }, ordered)).status).toBe(201);
      for (let v = 2; v <= 3; v++) expect((await admin.put("/v1/secrets/ordered/one", { data: { v } }, ordered)).status).toBe(200);
      await until("three deliveries", () => slow.bodies.length === 3 || undefined, 5_000);
      expect(slow.bodies.map((body) => body.event_type)).toEqual(["secret.created", "secret.updated", "secret.updated"]);
    } finally {
      await slow.stop();
    }
  }, 30_000);
});

/** A receiver that answers 200 after `delayMs`, recording each event in the order it came. */
class SlowReceiver {
  readonly bodies: { event_type: string }[] = [];
  private server: Server | null = null;
  url = "";

  constructor(private readonly delayMs: number) {}

  async start(): Promise<this> {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", () => {
        this.bodies.push(JSON.parse(Buffer.concat(chunks).toString("utf8")) as { event_type: string });
        setTimeout(() => response.writeHead(200).end("{}"), this.delayMs);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/ordered`;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}
