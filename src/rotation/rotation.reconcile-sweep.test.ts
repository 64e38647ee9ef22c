import { expect, it } from "vitest";
import { eventually } from "../events/test-receiver.js";
import { describeEachBackend, onlyOn } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import type { Database, SqlParam } from "../storage/contract.js";
import { planOf, type Statement } from "../testing/plans.js";
import { ScheduleStore } from "./schedule-store.js";

/**
 * The scheduler's reconciliation, a safety net behind the writes that keep schedules and expiry
 * watches in step, sweeps the secrets' key order a stretch per pass: each pass's statements read
 * along the primary keys of that stretch, not every secret, schedule and watch (docs/benchmarks.md
 * round 26: ~165 ms of synchronous SQLite work every 5 s at 100,000 secrets).
 */
const COUNT = 2_500;
const DAY = 86_400_000;

describeEachBackend("rotation: reconciliation sweeps the key order a stretch at a time", (backend) => {
  const vault = useVault(backend, { env: { SCAIVAULT_SCHEDULER_RECONCILE: "50ms", SCAIVAULT_SCHEDULER_POLL: "50ms" } });

  it("brings every out-of-step secret in step across stretches, the tail's orphan watch included", async () => {
    const { admin, vault: server } = vault();
    const policy = (await admin.post("/v1/rotation/policies", { name: "swept", interval: "30d" })).body as { id: string };
    const now = Date.now();
    // Linked to a policy and expiring, with neither a schedule nor a watch: as if written by an old build.
    await server.db.run(
      `INSERT INTO secrets (tenant_id, path, partner_id, secret_type, metadata, max_versions, expires_in, expires_at, notify_before, rotation_policy_id, secret_policy_id, current_version, created_at, created_by, updated_at, deleted_at, recoverable_until)
       WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < ${COUNT})
       SELECT 'tnt_default', 'swept/s' || (10000 + g), 'ptn_default', 'generic', '{}', 10, NULL, ${now + 30 * DAY} + g, NULL, ?, NULL, 1, ${now}, 'user:admin', ${now}, NULL, NULL FROM s`,
      [policy.id],
    );
    // A watch whose secret is gone, after every secret in key order.
    await server.db.run("INSERT INTO secret_expiry_watch (tenant_id, path, partner_id, expires_at, notify_before, fired, next_fire_at) VALUES ('tnt_default', 'zzz/gone', 'ptn_default', ?, NULL, '', ?)", [now + DAY, now + DAY]);
    const count = async (sql: string) => Number((await server.db.get<{ n: number | string }>(sql))?.n);
    await eventually(() => count("SELECT COUNT(*) AS n FROM rotation_schedules WHERE path LIKE 'swept/%'"), (n) => n === COUNT, 60_000);
    await eventually(() => count("SELECT COUNT(*) AS n FROM secret_expiry_watch WHERE path LIKE 'swept/%'"), (n) => n === COUNT, 60_000);
    await eventually(() => count("SELECT COUNT(*) AS n FROM secret_expiry_watch WHERE path = 'zzz/gone'"), (n) => n === 0, 60_000);
  }, 120_000);

  // SQLite's plans are fixed by its rules; PostgreSQL's follow statistics, and on this test's few
  // thousand rows it may rightly read a whole small table (round 26 measured it at 100,000 secrets).
  onlyOn(backend, "sqlite")("sqlite only: a stretch's statements read along the primary keys, not through the tables", async () => {
    const db = vault().vault.db;
    // The store's own statements, recorded apart from the node's (its scheduler sweeps through `db` too).
    const seen: Statement[] = [];
    const recording: Database = Object.assign(Object.create(db) as Database, {
      get: (sql: string, params?: SqlParam[]) => (seen.push({ sql, params: params ?? [] }), db.get(sql, params)),
      all: (sql: string, params?: SqlParam[]) => (seen.push({ sql, params: params ?? [] }), db.all(sql, params)),
    });
    const store = new ScheduleStore(recording);
    const first = await store.sweepStretch(null, 1000);
    expect(first.to).not.toBeNull();
    seen.length = 0;
    const middle = await store.sweepStretch(first.to, 1000);
    await store.unsynced(middle, 100);
    await store.unwatched(middle, 100);
    expect(seen).toHaveLength(3);
    for (const statement of seen) {
      const plan = await planOf(db, statement.sql, statement.params);
      expect(plan, statement.sql).not.toMatch(/\bSCAN (s|r|w)\b/);
    }
  });
});
