import { expect, it } from "vitest";
import { describeEachBackend, onlyOn } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { eventsAwaitingFanOut, until } from "../testing/observe.js";
import { eventMigrations } from "./migrations.js";

/**
 * Every event gets one dispatch number, in commit order: PostgreSQL's fan-out pass numbers them
 * after they commit; SQLite numbers them in the writing transaction and leaves for the pass only
 * events of tenants with a target (issue 14).
 */
describeEachBackend("events: dispatch numbering", (backend) => {
  const vault = useVault(backend, { env: { SCAIVAULT_EVENTS_POLL_INTERVAL: "1h" } });
  const numbered = async (prefix: string) =>
    (await vault().vault.db.all<{ path: string; dispatch_seq: number | string }>("SELECT path, dispatch_seq FROM events WHERE path LIKE ? ORDER BY dispatch_seq", [`${prefix}%`])).map((r) => ({
      path: r.path,
      seq: Number(r.dispatch_seq),
    }));

  it("numbers each event once, contiguously, in the order the writes committed", async () => {
    const { admin, vault: v } = vault();
    for (let i = 0; i < 5; i++) expect((await admin.put(`/v1/secrets/numbering/s-${i}`, { data: { i } })).status).toBe(201);
    await until("the writes dispatched", async () => (await eventsAwaitingFanOut(v.db)) === 0);
    const rows = await numbered("numbering/");
    expect(rows.map((r) => r.path)).toEqual([0, 1, 2, 3, 4].map((i) => `numbering/s-${i}`));
    expect(rows.map((r) => r.seq)).toEqual(rows.map((_, i) => rows[0].seq + i));
  });

  onlyOn(backend, "sqlite")("sqlite only: numbers an event in its write's transaction, and leaves it for fan-out only while its tenant has a target", async () => {
    const { admin, vault: v } = vault();
    expect((await admin.put("/v1/secrets/at-insert/quiet", { data: { a: 1 } })).status).toBe(201);
    // Read as the response arrives, before any pass: nothing is left for one.
    const quiet = await v.db.get<{ dispatch_seq: number | null; fanout_pending: number | null }>("SELECT dispatch_seq, fanout_pending FROM events WHERE path = ?", ["at-insert/quiet"]);
    expect(quiet?.dispatch_seq).toBeGreaterThan(0);
    expect(quiet?.fanout_pending).toBeNull();

    const sub = await admin.post("/v1/subscriptions", { name: "at-insert", paths: ["at-insert/**"], events: ["secret.created"], delivery: { type: "polling" } });
    expect(sub.status).toBe(201);
    expect((await admin.put("/v1/secrets/at-insert/heard", { data: { a: 2 } })).status).toBe(201);
    const heard = await v.db.get<{ dispatch_seq: number }>("SELECT dispatch_seq FROM events WHERE path = ?", ["at-insert/heard"]);
    expect(Number(heard?.dispatch_seq)).toBeGreaterThan(Number(quiet?.dispatch_seq));
    await until("the pass fanned the event out", async () => (await eventsAwaitingFanOut(v.db)) === 0);
    const polled = await admin.get(`/v1/subscriptions/${sub.body.id}/poll?timeout=0`);
    expect(polled.body.events.map((e: { path: string }) => e.path)).toEqual(["at-insert/heard"]);
  });

  onlyOn(backend, "sqlite")("sqlite only: the upgrade numbers events still waiting, after the last number, in outbox order, and leaves them for the pass", async () => {
    const { admin, vault: v } = vault();
    expect((await admin.put("/v1/secrets/upgrade/model", { data: { a: 1 } })).status).toBe(201);
    const model = await v.db.get<{ partner_id: string; tenant_id: string }>("SELECT partner_id, tenant_id FROM events WHERE path = ?", ["upgrade/model"]);
    const last = Number((await v.db.get<{ last_seq: number }>("SELECT last_seq FROM event_dispatch_state WHERE id = 1"))?.last_seq);
    // As an older version left them: written, not yet numbered by its pass.
    for (const name of ["c", "a", "b"]) {
      await v.db.run("INSERT INTO events (id, partner_id, tenant_id, event_type, path, data, created_at) VALUES (?, ?, ?, 'secret.updated', ?, '{}', 0)", [`evt_upgrade_${name}`, model!.partner_id, model!.tenant_id, `upgrade/${name}`]);
    }
    const upgrade = eventMigrations.find((m) => m.id === "0512_events_numbered_at_insert")!;
    const numbering = upgrade.up({ dialect: "sqlite", blob: "BLOB", byteText: "TEXT" }).filter((sql) => sql.startsWith("UPDATE"));
    expect(numbering.length).toBeGreaterThan(0);
    for (const sql of numbering) await v.db.run(sql);

    const rows = await v.db.all<{ path: string; dispatch_seq: number; fanout_pending: number | null }>("SELECT path, dispatch_seq, fanout_pending FROM events WHERE id LIKE 'evt_upgrade_%' ORDER BY rowid");
    expect(rows.map((r) => [r.path, Number(r.dispatch_seq), r.fanout_pending])).toEqual([
      ["upgrade/c", last + 1, 1],
      ["upgrade/a", last + 2, 1],
      ["upgrade/b", last + 3, 1],
    ]);
    expect(Number((await v.db.get<{ last_seq: number }>("SELECT last_seq FROM event_dispatch_state WHERE id = 1"))?.last_seq)).toBe(last + 3);
    // The next write is numbered after them, and its kick lets the pass take them.
    expect((await admin.put("/v1/secrets/upgrade/after", { data: { a: 2 } })).status).toBe(201);
    expect(Number((await v.db.get<{ dispatch_seq: number }>("SELECT dispatch_seq FROM events WHERE path = ?", ["upgrade/after"]))?.dispatch_seq)).toBe(last + 4);
    await until("the pass took the upgraded events", async () => (await eventsAwaitingFanOut(v.db)) === 0);
  });
});
