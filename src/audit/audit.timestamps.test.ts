import { expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";

const MICROS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

describeEachBackend("audit: timestamps with microseconds", (backend) => {
  const vault = useVault(backend);

  it("entries carry microsecond timestamps (the docs' 2026-01-15T10:30:00.123456Z), ordered and paged stably", async () => {
    const t = vault();
    for (let i = 0; i < 12; i++) expect((await t.admin.put(`/v1/secrets/micro/s${i % 4}`, { data: { i } })).status).toBeLessThan(300);
    const all = await t.admin.get("/v1/audit/logs?path_prefix=micro/&limit=1000");
    expect(all.body.logs).toHaveLength(12);
    for (const log of all.body.logs) expect(log.timestamp).toMatch(MICROS);
    // Measured microseconds, not a padded millisecond: twelve entries cannot all fall on one.
    expect(all.body.logs.filter((l: { timestamp: string }) => !l.timestamp.endsWith("000Z")).length).toBeGreaterThan(0);
    // Newest first: the text sorts as the stored time does.
    const times: string[] = all.body.logs.map((l: { timestamp: string }) => l.timestamp);
    expect([...times].sort().reverse()).toEqual(times);
    // Pages of 5 by cursor give the same entries in the same order.
    const paged: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { logs: Array<{ id: string }>; cursor: string | null } } = await t.admin.get(`/v1/audit/logs?path_prefix=micro/&limit=5${cursor ? `&cursor=${cursor}` : ""}`);
      paged.push(...page.body.logs.map((l) => l.id));
      cursor = page.body.cursor;
    } while (cursor);
    expect(paged).toEqual(all.body.logs.map((l: { id: string }) => l.id));
    // A timestamp as shown is a valid `from`/`to` and selects its own entry.
    const oldest = all.body.logs[all.body.logs.length - 1];
    const from = await t.admin.get(`/v1/audit/logs?path_prefix=micro/&limit=1000&from=${encodeURIComponent(oldest.timestamp)}`);
    expect(from.body.logs.map((l: { id: string }) => l.id)).toContain(oldest.id);
    const to = await t.admin.get(`/v1/audit/logs?path_prefix=micro/&limit=1000&to=${encodeURIComponent(oldest.timestamp)}`);
    expect(to.body.logs.map((l: { id: string }) => l.id)).not.toContain(oldest.id);
  });

  it("the chain covers the microseconds: an entry whose microseconds are edited fails verify", async () => {
    const t = vault();
    expect((await t.admin.put("/v1/secrets/micro-chain/a", { data: { v: 1 } })).status).toBe(201);
    const entry = (await t.admin.get("/v1/audit/logs?path_prefix=micro-chain/&limit=1")).body.logs[0] as { id: string; timestamp: string };
    const stored = await t.vault.db.get<{ timestamp_us: number | string | null }>("SELECT timestamp_us FROM audit_log WHERE id = ?", [entry.id]);
    expect(Number(stored?.timestamp_us)).toBe(Number(entry.timestamp.slice(-4, -1)));
    expect((await t.admin.get("/v1/audit/verify")).body.ok).toBe(true);
    await t.vault.db.run("UPDATE audit_log SET timestamp_us = ? WHERE id = ?", [(Number(stored?.timestamp_us) + 1) % 1000, entry.id]);
    const broken = (await t.admin.get("/v1/audit/verify")).body;
    expect(broken.ok).toBe(false);
    await t.vault.db.run("UPDATE audit_log SET timestamp_us = ? WHERE id = ?", [stored?.timestamp_us ?? null, entry.id]);
    expect((await t.admin.get("/v1/audit/verify")).body.ok).toBe(true);
  });

  it("event envelopes carry microsecond timestamps", async () => {
    const t = vault();
    const sub = await t.admin.post("/v1/subscriptions", { name: "micro-events", paths: ["micro-ev/**"], events: ["secret.*"], delivery: { type: "polling" } });
    expect(sub.status).toBe(201);
    expect((await t.admin.put("/v1/secrets/micro-ev/a", { data: { v: 1 } })).status).toBe(201);
    let events: Array<{ timestamp: string }> = [];
    for (let i = 0; i < 40 && events.length === 0; i++) events = (await t.admin.get(`/v1/subscriptions/${sub.body.id}/poll?timeout=1`)).body.events;
    expect(events.length).toBeGreaterThan(0);
    for (const event of events) expect(event.timestamp).toMatch(MICROS);
    const stored = await t.vault.db.get<{ created_us: number | string | null }>("SELECT created_us FROM events WHERE id = ?", [(events[0] as { event_id?: string }).event_id ?? ""]);
    expect(stored?.created_us).not.toBeNull();
    expect(events[0].timestamp.slice(-4, -1)).toBe(String(Number(stored?.created_us)).padStart(3, "0"));
  });
});
