import { expect, it } from "vitest";
import { ALL_MIGRATIONS } from "../storage/migrations.js";
import { describeEachBackend, useScratchDatabase } from "../testing/backends.js";
import { DeliveryStore } from "./delivery-store.js";

/**
 * Migration 0530 on a database whose polling subscriptions already hold inbox rows: each
 * subscription's rows are numbered in dispatch order, its position continues from there, and a
 * full buffer then drops exactly its oldest unacknowledged events.
 */
describeEachBackend("events: inbox positions on upgrade", (backend) => {
  const database = useScratchDatabase(backend, ALL_MIGRATIONS.filter((m) => m.id !== "0530_inbox_positions"));

  it("numbers stored inbox rows per subscription in dispatch order, and the buffer holds on from there", async () => {
    const db = database();
    const subscription = (id: string, bufferSize: number) =>
      db.run(
        `INSERT INTO subscriptions (id, partner_id, tenant_id, name, paths, events, filters, delivery_type, signature_scheme, buffer_size, status, owner_id, owner_type, owner_groups, owner_roles, created_at, updated_at)
         VALUES (?, 'ptn_x', 'tnt_x', ?, '[]', '[]', '{}', 'polling', 'body', ?, 'active', 'sa:x', 'service_account', '[]', '[]', 0, 0)`,
        [id, id, bufferSize],
      );
    await subscription("sub_a", 3);
    await subscription("sub_b", 3);
    await subscription("sub_empty", 3);
    const row = (sub: string, event: string, seq: number, acked: boolean) =>
      db.run("INSERT INTO subscription_inbox (subscription_id, event_id, dispatch_seq, created_at, acked_at) VALUES (?, ?, ?, 0, ?)", [sub, event, seq, acked ? 1 : null]);
    await row("sub_a", "evt_a3", 30, false);
    await row("sub_a", "evt_a1", 10, true);
    await row("sub_a", "evt_a2", 20, false);
    await row("sub_b", "evt_b1", 15, false);
    expect(await db.migrate(ALL_MIGRATIONS)).toEqual(["0530_inbox_positions"]);

    const positions = await db.all<{ event_id: string; inbox_pos: number | string }>("SELECT event_id, inbox_pos FROM subscription_inbox ORDER BY event_id");
    expect(positions.map((p) => [p.event_id, Number(p.inbox_pos)])).toEqual([["evt_a1", 1], ["evt_a2", 2], ["evt_a3", 3], ["evt_b1", 1]]);
    const subs = await db.all<{ id: string; inbox_pos: number | string }>("SELECT id, inbox_pos FROM subscriptions ORDER BY id");
    expect(subs.map((s) => [s.id, Number(s.inbox_pos)])).toEqual([["sub_a", 3], ["sub_b", 1], ["sub_empty", 0]]);

    // Buffer 3: the fourth event drops the unacknowledged event three positions back (evt_a1 is acknowledged).
    const store = new DeliveryStore(db);
    await db.transaction((tx) => store.addToInbox("sub_a", "evt_a4", 40, 3, tx));
    const unacked = async (sub: string) => (await db.all<{ event_id: string }>("SELECT event_id FROM subscription_inbox WHERE subscription_id = ? AND acked_at IS NULL ORDER BY dispatch_seq", [sub])).map((r) => r.event_id);
    expect(await unacked("sub_a")).toEqual(["evt_a2", "evt_a3", "evt_a4"]);
    await db.transaction((tx) => store.addToInbox("sub_a", "evt_a5", 50, 3, tx));
    expect(await unacked("sub_a")).toEqual(["evt_a3", "evt_a4", "evt_a5"]);
    // A buffer made smaller drops what no longer fits on the next event.
    await db.transaction((tx) => store.addToInbox("sub_a", "evt_a6", 60, 1, tx));
    expect(await unacked("sub_a")).toEqual(["evt_a6"]);
    // A subscription deleted meanwhile gets no row.
    await db.transaction((tx) => store.addToInbox("sub_gone", "evt_g1", 70, 3, tx));
    expect(await unacked("sub_gone")).toEqual([]);
  });
});
