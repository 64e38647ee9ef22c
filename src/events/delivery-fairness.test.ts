import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
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
  const vault = useVault(backend, { env: { SCAIVAULT_EVENTS_POLL_INTERVAL: "100ms", SCAIVAULT_WEBHOOK_TIMEOUT: "5s" } });
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
    // Delivered before any hanging attempt ended (each waits out the 5 s timeout).
    const settled = await server.db.get<{ n: number | string }>("SELECT COUNT(*) AS n FROM event_deliveries WHERE tenant_id = 'tnt_default' AND attempts > 0");
    expect(Number(settled?.n)).toBe(0);
    expect(tarpit.received.length).toBe(32);
  }, 30_000);
});
