import { expect, it, vi } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { eventsAwaitingFanOut, until } from "../testing/observe.js";
import { TargetsStore } from "./targets-store.js";

/** A fan-out pass reads the target lists only when some event it handles belongs to a tenant that has a target. */
describeEachBackend("events: fan-out pass reads targets only when they matter", (backend) => {
  const vault = useVault(backend);
  const undispatched = () => eventsAwaitingFanOut(vault().vault.db);

  it("skips the webhook and subscription reads for events nobody listens to, and still delivers once a subscription exists", async () => {
    const { admin } = vault();
    const webhookReads = vi.spyOn(TargetsStore.prototype, "enabledWebhooks");
    const subscriptionReads = vi.spyOn(TargetsStore.prototype, "activeSubscriptions");
    try {
      for (let i = 0; i < 3; i++) expect((await admin.put(`/v1/secrets/quiet/s-${i}`, { data: { i } })).status).toBe(201);
      await until("the writes dispatched", async () => Number(await undispatched()) === 0);
      expect(webhookReads).not.toHaveBeenCalled();
      expect(subscriptionReads).not.toHaveBeenCalled();

      const sub = await admin.post("/v1/subscriptions", { name: "listening", paths: ["loud/**"], events: ["secret.created"], delivery: { type: "polling" } });
      expect(sub.status).toBe(201);
      expect((await admin.put("/v1/secrets/loud/one", { data: { a: 1 } })).status).toBe(201);
      await until("the write dispatched", async () => Number(await undispatched()) === 0);
      expect(subscriptionReads).toHaveBeenCalled();
      const polled = await admin.get(`/v1/subscriptions/${sub.body.id}/poll?timeout=0`);
      expect(polled.status).toBe(200);
      expect(JSON.stringify(polled.body)).toContain("loud/one");
    } finally {
      webhookReads.mockRestore();
      subscriptionReads.mockRestore();
    }
  });
});
