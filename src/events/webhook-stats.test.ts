import { expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { planOf, statementsDuring } from "../testing/plans.js";

const DELIVERIES = 12_000;
const OLD = 100;

/**
 * A webhook's figures (GET /v1/webhooks/{id}) over a day of many deliveries: the same numbers as
 * one aggregate over them, on SQLite summed a stretch at a time (one statement over a busy day held
 * the node ~0.5 s), and the last attempt found along an index, not by sorting every delivery.
 */
describeEachBackend("events: a busy webhook's statistics", (backend) => {
  const vault = useVault(backend);

  it("counts the day's settled deliveries exactly, in stretches on SQLite, and finds the newest attempt along its index", async () => {
    const { admin, vault: server } = vault();
    const hook = await admin.post("/v1/webhooks", { name: "busy", url: "http://127.0.0.1:9/hook", events: ["certificate.expiring"] });
    expect(hook.status, hook.text).toBe(201);
    const now = Date.now();
    const numbers = (count: number) => (backend === "sqlite" ? `WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < ${count}) SELECT n FROM s` : `SELECT generate_series(1, ${count}) AS n`);
    const status = "CASE WHEN n % 7 = 0 THEN 'pending' WHEN n % 10 = 0 THEN 'failed' ELSE 'success' END";
    const duration = "CASE WHEN n % 7 = 0 OR n % 11 = 0 THEN NULL ELSE 10 + n % 5 END";
    // One delivery made long ago was attempted again just now: it is the last attempt.
    // The pending ones are due tomorrow: the delivery worker must not settle them before the read.
    const pendingDue = `CASE WHEN n % 7 = 0 THEN ${now + 86_400_000} ELSE 0 END`;
    const updated = `CASE WHEN n = 11990 THEN ${now + 1000} ELSE ${now} - n * 1000 + 500 END`;
    const insert = (prefix: string, count: number, createdAt: string) =>
      server.db.run(`INSERT INTO event_deliveries (id, partner_id, tenant_id, target_kind, target_id, event_id, event_type, ordering_key, dispatch_seq, status, attempts, next_attempt_at, response_code, duration_ms, created_at, updated_at)
        SELECT '${prefix}' || n, 'ptn_default', 'tnt_default', 'webhook', ?, 'evt_${prefix}' || n, 'certificate.expiring', 'k', n, ${status}, CASE WHEN n % 7 = 0 THEN 0 ELSE 1 END, ${pendingDue}, 200, ${duration}, ${createdAt}, ${updated} FROM (${numbers(count)}) s`, [hook.body.id]);
    await insert("dlv_st", DELIVERIES, `${now} - n * 1000`);
    await insert("dlv_old", OLD, `${now - 2 * 86_400_000} - n`);

    let total = 0, succeeded = 0, durations = 0, timed = 0;
    for (let n = 1; n <= DELIVERIES; n++) {
      if (n % 7 === 0) continue;
      total++;
      if (n % 10 !== 0) succeeded++;
      if (n % 11 !== 0) (durations += 10 + (n % 5)), timed++;
    }
    const { value: read, statements } = await statementsDuring(server.db, () => admin.get(`/v1/webhooks/${hook.body.id}`));
    expect(read.status, read.text).toBe(200);
    expect(read.body.statistics).toEqual({ deliveries_24h: total, success_rate_24h: succeeded / total, avg_latency_ms: Math.round(durations / timed) });
    expect(read.body.last_delivery).toMatchObject({ id: "dlv_st11990", timestamp: new Date(now + 1000).toISOString() });

    const sums = statements.filter((s) => /SUM\(CASE WHEN status = 'success'/.test(s.sql));
    expect(sums.length).toBe(backend === "sqlite" ? Math.ceil(DELIVERIES / 5000) : 1);
    const last = statements.find((s) => /attempts > 0 ORDER BY updated_at DESC/.test(s.sql));
    expect(last).toBeDefined();
    if (backend === "sqlite") expect(await planOf(server.db, last!.sql, last!.params)).not.toMatch(/USE TEMP B-TREE FOR ORDER BY/);
  });
});
