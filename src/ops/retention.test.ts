import { afterAll, beforeAll, expect, it } from "vitest";
import { eventually, TestReceiver } from "../events/test-receiver.js";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { EventRetention } from "./retention.js";

describeEachBackend("retention of delivery state", (backend) => {
  const ok = new TestReceiver();
  const failing = new TestReceiver(() => ({ status: 500 }));
  beforeAll(async () => {
    await ok.start();
    await failing.start();
  });
  afterAll(async () => {
    await ok.stop();
    await failing.stop();
  });
  const vault = useVault(backend, {
    env: { SCAIVAULT_EVENTS_RETENTION: "1s", SCAIVAULT_RETENTION_INTERVAL: "300ms", SCAIVAULT_EVENTS_POLL_INTERVAL: "100ms", SCAIVAULT_WEBHOOK_RETRY_SCHEDULE: "1h" },
  });

  const count = async (sql: string, params: string[]) => Number((await vault().vault.db.get<{ n: number | string }>(sql, params))?.n ?? 0);

  it("prunes settled deliveries, inbox rows and unreferenced events past SCAIVAULT_EVENTS_RETENTION, and keeps what is still pending", async () => {
    const { admin } = vault();
    const good = await admin.post("/v1/webhooks", { name: "ok", url: `${ok.url}/ok`, secret: "s", events: ["secret.created"], filters: { path_prefix: "ret/ok/" } });
    const bad = await admin.post("/v1/webhooks", { name: "failing", url: `${failing.url}/bad`, secret: "s", events: ["secret.created"], filters: { path_prefix: "ret/pending/" } });
    const sub = await admin.post("/v1/subscriptions", { name: "inbox", paths: ["ret/ok/**"], events: ["secret.*"], delivery: { type: "polling" } });
    expect([good.status, bad.status, sub.status]).toEqual([201, 201, 201]);
    expect((await admin.put("/v1/secrets/ret/ok/a", { data: { v: 1 } })).status).toBe(201);
    expect((await admin.put("/v1/secrets/ret/pending/b", { data: { v: 1 } })).status).toBe(201);
    await ok.waitFor((received) => received.length === 1, 30_000);
    await failing.waitFor((received) => received.length === 1, 30_000);
    const polled = await admin.get(`/v1/subscriptions/${sub.body.id}/poll?timeout=5`);
    expect(polled.body.events.map((e: { path: string }) => e.path)).toEqual(["ret/ok/a"]);

    // Everything about ret/ok/a is settled: it goes within a few passes (generous bound, 30 s).
    await eventually(() => count("SELECT COUNT(*) AS n FROM events WHERE path = ?", ["ret/ok/a"]), (n) => n === 0, 30_000);
    expect(await count("SELECT COUNT(*) AS n FROM event_deliveries WHERE target_id = ?", [good.body.id])).toBe(0);
    expect(await count("SELECT COUNT(*) AS n FROM subscription_inbox WHERE subscription_id = ?", [sub.body.id])).toBe(0);
    // A delivery still pending keeps itself and its event.
    expect(await count("SELECT COUNT(*) AS n FROM event_deliveries WHERE target_id = ? AND status = 'pending'", [bad.body.id])).toBe(1);
    expect(await count("SELECT COUNT(*) AS n FROM events WHERE path = ?", ["ret/pending/b"])).toBe(1);
    // The pass was recorded once, by the lease holder, which let go of it.
    const lease = await vault().vault.db.get<{ owner: string | null; last_run_at: number }>("SELECT owner, last_run_at FROM maintenance_leases WHERE name = 'events_retention'", []);
    expect(lease?.last_run_at).toBeGreaterThan(0);
  }, 90_000);
});

describeEachBackend("retention windows are configurable", (backend) => {
  // The node's own passes stay out of the way (hourly, 30-day window); the test drives one directly.
  const vault = useVault(backend, { env: { SCAIVAULT_EVENTS_POLL_INTERVAL: "100ms" } });
  const count = async (sql: string, params: string[]) => Number((await vault().vault.db.get<{ n: number | string }>(sql, params))?.n ?? 0);

  it("keeps settled rows younger than the window and prunes them once they are older", async () => {
    const { admin } = vault();
    const sub = await admin.post("/v1/subscriptions", { name: "window", paths: ["win/**"], events: ["secret.*"], delivery: { type: "polling" } });
    expect(sub.status).toBe(201);
    expect((await admin.put("/v1/secrets/win/a", { data: { v: 1 } })).status).toBe(201);
    await eventually(() => count("SELECT COUNT(*) AS n FROM subscription_inbox WHERE subscription_id = ?", [sub.body.id]), (n) => n === 1, 30_000);
    const log = () => {};
    const hour = 3_600_000;

    // A one-hour window, now: the row is seconds old and stays.
    const kept = await new EventRetention(vault().vault.db, { retentionMs: hour, intervalMs: 1000, log }).runIfDue(Date.now());
    expect(kept).toEqual({ deliveries: 0, inbox: 0, events: 0 });
    expect(await count("SELECT COUNT(*) AS n FROM subscription_inbox WHERE subscription_id = ?", [sub.body.id])).toBe(1);
    expect(await count("SELECT COUNT(*) AS n FROM events WHERE path = ?", ["win/a"])).toBe(1);

    // The same window two hours later: the inbox row, then its event, are past it.
    const pruned = await new EventRetention(vault().vault.db, { retentionMs: hour, intervalMs: 1000, log }).runIfDue(Date.now() + 2 * hour);
    expect(pruned?.inbox).toBeGreaterThanOrEqual(1);
    expect(await count("SELECT COUNT(*) AS n FROM subscription_inbox WHERE subscription_id = ?", [sub.body.id])).toBe(0);
    expect(await count("SELECT COUNT(*) AS n FROM events WHERE path = ?", ["win/a"])).toBe(0);
  }, 60_000);
});

describeEachBackend("retention keeps events awaiting fan-out", (backend) => {
  // No poll and no write: nothing runs a fan-out pass while the test looks.
  const vault = useVault(backend, { env: { SCAIVAULT_EVENTS_POLL_INTERVAL: "1h" } });

  it("does not prune an event the pass has yet to handle, however old", async () => {
    const { db } = vault().vault;
    // As each backend leaves it: PostgreSQL unnumbered; SQLite numbered as written, marked for fan-out.
    const [seq, pending] = db.dialect === "sqlite" ? [1_000_000, 1] : [null, null];
    await db.run("INSERT INTO events (id, partner_id, tenant_id, event_type, path, data, created_at, dispatch_seq, fanout_pending) VALUES ('evt_waiting', 'p_x', 't_x', 'secret.updated', 'old/waiting', '{}', 0, ?, ?)", [seq, pending]);
    const hour = 3_600_000;
    const pruned = await new EventRetention(db, { retentionMs: hour, intervalMs: 1000, log: () => {} }).runIfDue(Date.now() + 2 * hour);
    expect(pruned?.events).toBe(0);
    expect((await db.get<{ id: string }>("SELECT id FROM events WHERE id = 'evt_waiting'"))?.id).toBe("evt_waiting");
  });
});
