import { expect, it, vi } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { eventsAwaitingFanOut, until } from "../testing/observe.js";
import { planOf } from "../testing/plans.js";
import { peekSql } from "./dispatcher.js";
import { TargetsStore, type SubscriptionRow, type WebhookRow } from "./targets-store.js";

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

  it("reads only the targets of the tenants whose events it handles, never another tenant's", async () => {
    const { admin, vault: server } = vault();
    expect((await admin.post("/v1/identity/tenants", { id: "tnt_fanout_other", name: "other" })).status).toBe(201);
    const other = { headers: { "X-Tenant-ID": "tnt_fanout_other" } };
    const polling = { paths: ["**"], events: ["secret.*"], delivery: { type: "polling" } };
    for (const name of ["o1", "o2", "o3"]) expect((await admin.post("/v1/subscriptions", { name, ...polling }, other)).status).toBe(201);
    expect((await admin.post("/v1/webhooks", { name: "o-hook", url: "https://hooks.example.com/in", events: ["secret.*"] }, other)).status).toBe(201);
    const mine = await admin.post("/v1/subscriptions", { name: "home", ...polling });
    expect(mine.status).toBe(201);
    // Creating a target marks its tenant for the peek.
    expect((await server.db.all<{ tenant_id: string }>("SELECT tenant_id FROM event_target_tenants ORDER BY tenant_id")).map((row) => row.tenant_id)).toEqual(["tnt_default", "tnt_fanout_other"]);

    const subscriptionsRead: SubscriptionRow[][] = [];
    const webhooksRead: WebhookRow[][] = [];
    const readSubscriptions = TargetsStore.prototype.activeSubscriptions;
    const readWebhooks = TargetsStore.prototype.enabledWebhooks;
    const subscriptionReads = vi.spyOn(TargetsStore.prototype, "activeSubscriptions").mockImplementation(async function (this: TargetsStore, ...args) {
      const rows = await readSubscriptions.apply(this, args);
      subscriptionsRead.push(rows);
      return rows;
    });
    const webhookReads = vi.spyOn(TargetsStore.prototype, "enabledWebhooks").mockImplementation(async function (this: TargetsStore, ...args) {
      const rows = await readWebhooks.apply(this, args);
      webhooksRead.push(rows);
      return rows;
    });
    try {
      for (let i = 0; i < 3; i++) expect((await admin.put(`/v1/secrets/home/s-${i}`, { data: { i } })).status).toBe(201);
      await until("the writes dispatched", async () => Number(await undispatched()) === 0);
    } finally {
      subscriptionReads.mockRestore();
      webhookReads.mockRestore();
    }
    expect(subscriptionsRead.length).toBeGreaterThan(0);
    expect(new Set(subscriptionsRead.flat().map((sub) => sub.tenant_id))).toEqual(new Set(["tnt_default"]));
    expect(webhooksRead.flat()).toEqual([]);
    const polled = await admin.get(`/v1/subscriptions/${mine.body.id}/poll?timeout=0`);
    expect(polled.body.events.map((event: { path: string }) => event.path)).toEqual(["home/s-0", "home/s-1", "home/s-2"]);
    // PostgreSQL's peek asks the marked tenants, never the subscriptions table itself.
    if (backend === "postgres") expect(await planOf(server.db, peekSql("postgres"), [200])).not.toMatch(/subscriptions|webhooks/);
  });
});
