import { afterAll, beforeAll, expect, it, vi } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { eventsAwaitingFanOut, until } from "../testing/observe.js";
import { DeliveryStore } from "./delivery-store.js";
import { TestReceiver } from "./test-receiver.js";

/**
 * A commit's delivery round looks for due deliveries only when its passes made some (issue 14).
 * The poll is an hour here, so only commits start rounds while the test looks.
 */
describeEachBackend("events: a commit's delivery round", (backend) => {
  const receiver = new TestReceiver();
  beforeAll(() => receiver.start());
  afterAll(() => receiver.stop());
  const vault = useVault(backend, { env: { SCAIVAULT_EVENTS_POLL_INTERVAL: "1h" } });

  it("reads no deliveries after events nobody listens to, and delivers at once once a webhook listens", async () => {
    const { admin, vault: v } = vault();
    const claims = vi.spyOn(DeliveryStore.prototype, "claim");
    try {
      // The round the node started with (which does look) is over before the test looks.
      await until("the node's own events dispatched", async () => (await eventsAwaitingFanOut(v.db)) === 0);
      await new Promise((resolve) => setTimeout(resolve, 300));
      claims.mockClear();
      for (let i = 0; i < 3; i++) expect((await admin.put(`/v1/secrets/rounds/quiet-${i}`, { data: { i } })).status).toBe(201);
      await until("the writes dispatched", async () => (await eventsAwaitingFanOut(v.db)) === 0);
      // A round's claim follows its pass at once; give it time to show up if it were made.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(claims).not.toHaveBeenCalled();

      const hook = await admin.post("/v1/webhooks", { name: "rounds", url: `${receiver.url}/rounds`, secret: "s", events: ["secret.created"], filters: { path_prefix: "rounds/" } });
      expect(hook.status).toBe(201);
      // Delivered without the poll: the commit's round made a delivery, so it claimed it.
      expect((await admin.put("/v1/secrets/rounds/heard", { data: { a: 1 } })).status).toBe(201);
      await receiver.waitFor((received) => received.length === 1, 10_000);
    } finally {
      claims.mockRestore();
    }
  });
});
