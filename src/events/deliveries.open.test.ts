import { expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { planOf, statementsDuring } from "../testing/plans.js";
import { claimableSql, DeliveryStore } from "./delivery-store.js";

/**
 * What is still open is found along indexes of what is open only: a delivery's pending siblings
 * (every claim), a disabled target's pending deliveries, a subscription's unacknowledged events
 * (every poll, and every event added to a full buffer). Along the full indexes each statement
 * walked all a target had settled or a subscription had acknowledged within retention: 20-49 ms
 * per statement at 200,000 on SQLite (docs/benchmarks.md round 34).
 */
describeEachBackend("events: open deliveries and unacknowledged events", (backend) => {
  const vault = useVault(backend);

  it("are read along the indexes of pending deliveries and unacknowledged inbox rows", async () => {
    const { db } = vault().vault;
    const store = new DeliveryStore(db);
    const subscription = await vault().admin.post("/v1/subscriptions", { name: "plan", paths: ["plan/**"], events: ["secret.*"], delivery: { type: "polling" } });
    expect(subscription.status, subscription.text).toBe(201);
    const subId = subscription.body.id as string;
    const { statements } = await statementsDuring(
      db,
      async () => {
        await store.failOpen("whk_plan", "disabled");
        await store.inbox(subId, 0, 100);
        await db.transaction((tx) => store.addToInbox(subId, "evt_plan", 1, 1000, tx));
      },
      { writes: true },
    );
    const find = (pattern: RegExp) => {
      const found = statements.find((s) => pattern.test(s.sql));
      expect(found, String(pattern)).toBeDefined();
      return found!;
    };
    const cases = [
      { statement: find(/^UPDATE event_deliveries SET status = 'failed'/), index: "event_deliveries_pending_order" },
      { statement: find(/FROM subscription_inbox i JOIN events/), index: "subscription_inbox_pending" },
      // A full buffer's drop is a range at the bottom of the unacknowledged rows' positions, not an OFFSET of the buffer from the top.
      { statement: find(/^DELETE FROM subscription_inbox WHERE subscription_id = \? AND acked_at IS NULL AND inbox_pos <= \?$/), index: "subscription_inbox_pending_pos" },
      { statement: { sql: claimableSql(db.dialect), params: [Date.now(), Date.now(), 10] }, index: "event_deliveries_pending_order" },
    ];
    for (const { statement, index } of cases) {
      const plan = await planOf(db, statement.sql, statement.params);
      expect(plan, statement.sql).toContain(index);
      // Nothing reads the full per-target or per-subscription indexes any more (migration 0522 dropped them).
      expect(plan, statement.sql).not.toMatch(/event_deliveries_order|subscription_inbox_seq|event_deliveries_target_updated/);
    }
    expect(Number((await db.get<{ inbox_pos: number | string }>("SELECT inbox_pos FROM subscription_inbox WHERE subscription_id = ?", [subId]))?.inbox_pos)).toBe(1);
    await vault().admin.delete(`/v1/subscriptions/${subId}`);
  });
});
