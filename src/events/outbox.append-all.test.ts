import { expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { eventsAwaitingFanOut, until } from "../testing/observe.js";
import { EventOutbox, type NewEvent } from "./outbox.js";

/**
 * Many events of one transaction in a few multi-row inserts (a CA revocation announces every valid
 * leaf): stored exactly as one at a time would store them, in order, numbered as one run on SQLite,
 * each left for the fan-out pass exactly when its tenant has a target.
 */
describeEachBackend("events: appending many in one transaction", (backend) => {
  const vault = useVault(backend, { env: { SCAIVAULT_EVENTS_POLL_INTERVAL: "1h" } });

  it("stores 341 events of two tenants in order, every field as given, and delivers those of the tenant with a target", async () => {
    const { admin, vault: server } = vault();
    const sub = await admin.post("/v1/subscriptions", { name: "many", paths: ["many/**"], events: ["certificate.revoked"], delivery: { type: "polling" } });
    expect(sub.status).toBe(201);
    const listened = await server.db.get<{ tenant_id: string; partner_id: string }>("SELECT tenant_id, partner_id FROM subscriptions WHERE id = ?", [sub.body.id]);
    // 341 = 256 + 64 + 16 + 4 + 1: every chunk size once; a third of them for a tenant with no target.
    const events: NewEvent[] = Array.from({ length: 341 }, (_, i) => ({
      tenant_id: i % 3 === 0 ? "tnt_quiet" : listened!.tenant_id, partner_id: listened!.partner_id, identity_id: "system:test", path: `many/${String(i).padStart(3, "0")}`,
      request_id: `req_many_${i}`, event_type: "certificate.revoked", data: { i, nested: { quote: `"${i}'`, unicode: "ü" } },
    }));
    const outbox = new EventOutbox(server.db);
    const stored = await server.db.transaction((tx) => outbox.appendAll(tx, events));
    expect(stored.map((e) => e.path)).toEqual(events.map((e) => e.path));

    const rows = await server.db.all<{ id: string; tenant_id: string; identity_id: string; request_id: string; event_type: string; path: string; data: string; dispatch_seq: number | string | null; fanout_pending: number | null }>(
      "SELECT id, tenant_id, identity_id, request_id, event_type, path, data, dispatch_seq, fanout_pending FROM events WHERE path LIKE 'many/%' ORDER BY path",
    );
    expect(rows.map((r) => [r.id, r.tenant_id, r.identity_id, r.request_id, r.event_type, r.path, JSON.parse(r.data)])).toEqual(
      stored.map((e, i) => [e.event_id, events[i].tenant_id, "system:test", `req_many_${i}`, "certificate.revoked", events[i].path, events[i].data]),
    );
    if (backend === "sqlite") {
      // One contiguous run in the order given; only the listened tenant's events wait for the pass.
      const seqs = rows.map((r) => Number(r.dispatch_seq));
      expect(seqs).toEqual(seqs.map((_, i) => seqs[0] + i));
      expect(rows.map((r) => r.fanout_pending)).toEqual(events.map((e) => (e.tenant_id === "tnt_quiet" ? null : 1)));
      expect(stored.map((e) => outbox.awaitsFanOut(e))).toEqual(events.map((e) => e.tenant_id !== "tnt_quiet"));
      const last = await server.db.get<{ last_seq: number | string }>("SELECT last_seq FROM event_dispatch_state WHERE id = 1");
      expect(Number(last?.last_seq)).toBe(seqs.at(-1));
    }

    // A write kicks the node's pass, which numbers (PostgreSQL) and fans out what it finds.
    expect((await admin.put("/v1/secrets/many-kick", { data: { a: 1 } })).status).toBe(201);
    await until("the pass handled the batch", async () => (await eventsAwaitingFanOut(server.db)) === 0, 30_000);
    const polled: string[] = [];
    for (let page = 0; page < 20 && polled.length < 227; page++) {
      const answer = await admin.get(`/v1/subscriptions/${sub.body.id}/poll?timeout=0&max_events=100`);
      const got: { event_id: string; path: string }[] = answer.body.events;
      polled.push(...got.map((e) => e.path));
      if (got.length > 0) expect((await admin.post(`/v1/subscriptions/${sub.body.id}/ack`, { event_ids: got.map((e) => e.event_id) })).status).toBe(200);
    }
    expect(polled).toEqual(events.filter((e) => e.tenant_id !== "tnt_quiet").map((e) => e.path));
  }, 60_000);
});
