import { expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { eventsAwaitingFanOut, until } from "../testing/observe.js";
import { sharedTurns, statementTurns } from "../testing/turns.js";
import { DISPATCH_BATCH } from "./dispatcher.js";
import { EventOutbox } from "./outbox.js";

/**
 * A delivery round keeps passing while passes come back full, so a backlog larger than one batch
 * drains on one kick. The poll is an hour here: only the write's own kick can drain it.
 */
describeEachBackend("events: an outbox backlog", (backend) => {
  const vault = useVault(backend, { env: { SCAIVAULT_EVENTS_POLL_INTERVAL: "1h" } });

  it("is dispatched whole by the round one write starts", async () => {
    const { admin } = vault();
    const db = vault().vault.db;
    const undispatched = () => eventsAwaitingFanOut(db);
    // A listener, so that the backlog has fan-out work on both backends (SQLite leaves for the pass
    // only events of tenants with a target; PostgreSQL numbers every event in the pass).
    const sub = await admin.post("/v1/subscriptions", { name: "backlog", paths: ["backlog/**"], events: ["secret.updated"], delivery: { type: "polling", buffer_size: 1000 } });
    expect(sub.status).toBe(201);
    expect((await admin.put("/v1/secrets/backlog/first", { data: { a: 1 } })).status).toBe(201);
    await until("the first write dispatched", async () => (await undispatched()) === 0);
    const model = await db.get<{ partner_id: string; tenant_id: string }>("SELECT partner_id, tenant_id FROM events LIMIT 1");

    // Committed through an outbox nobody listens to (as another node's events are): nothing kicks a round.
    const backlog = 2 * DISPATCH_BATCH + 50;
    const outbox = new EventOutbox(db);
    await db.transaction(async (tx) => {
      for (let i = 0; i < backlog; i++) {
        await outbox.append(tx, { event_type: "secret.updated", tenant_id: model!.tenant_id, partner_id: model!.partner_id, identity_id: null, path: "backlog/first", data: {}, request_id: null });
      }
    });
    expect(await undispatched()).toBe(backlog);

    expect((await admin.put("/v1/secrets/backlog/second", { data: { a: 2 } })).status).toBe(201);
    await until("the backlog and the write dispatched", async () => (await undispatched()) === 0, 20_000);
    const numbers = (await db.all<{ dispatch_seq: number | string }>("SELECT dispatch_seq FROM events ORDER BY dispatch_seq")).map((r) => Number(r.dispatch_seq));
    expect(new Set(numbers).size).toBe(numbers.length);
    expect(numbers[numbers.length - 1] - numbers[0] + 1).toBe(numbers.length);
    const inbox = await db.get<{ n: number | string }>("SELECT COUNT(*) AS n FROM subscription_inbox WHERE subscription_id = ?", [sub.body.id]);
    expect(Number(inbox?.n)).toBe(backlog);
  });

  it("runs each pass of a burst's backlog in a turn of the event loop of its own", async () => {
    const { admin } = vault();
    const db = vault().vault.db;
    const model = await db.get<{ partner_id: string; tenant_id: string }>("SELECT partner_id, tenant_id FROM events LIMIT 1");
    // One transaction's burst (as a CA revocation makes), through an outbox nobody listens to; a write kicks the round.
    const burst = 3 * DISPATCH_BATCH + 10;
    await db.transaction((tx) => new EventOutbox(db).appendAll(tx, Array.from({ length: burst }, () => ({ event_type: "secret.updated", tenant_id: model!.tenant_id, partner_id: model!.partner_id, identity_id: null, path: "backlog/first", data: {}, request_id: null }))));
    const peeks = await statementTurns(db, /FROM events WHERE (fanout_pending IS NOT NULL|dispatch_seq IS NULL) ORDER BY/, async () => {
      expect((await admin.put("/v1/secrets/backlog/third", { data: { a: 3 } })).status).toBe(201);
      await until("the burst dispatched", async () => (await eventsAwaitingFanOut(db)) === 0, 20_000);
    });
    expect(peeks.length).toBeGreaterThanOrEqual(4);
    expect(sharedTurns(peeks)).toEqual([]);
  });
});
