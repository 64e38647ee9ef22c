import { expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { planOf, statementsDuring } from "../testing/plans.js";
import { statementTurns } from "../testing/turns.js";

/** Entries about no path in the last 30 days: half of them batch reads (2.4 windows of the SQLite search's 5,000), half lists. */
const PATHLESS = 24_000;
/** Of the batch reads, every 1,000th named the path, and every 4,000th failed on it. */
const READS = PATHLESS / 2_000;
const FAILED = PATHLESS / 8_000;

/**
 * A secret's trail counts the batch reads that named it: entries about no path, found by their
 * extra_data, so every entry about no path of the last 30 days is read. On SQLite a window of them
 * at a time with turns of the loop between; one statement held the node ~80 ms per 200,000 such
 * entries per request (docs/benchmarks.md round 34).
 */
describeEachBackend("audit: batch reads in a secret's trail, among many entries about no path", (backend) => {
  const vault = useVault(backend);

  it("finds every batch read that named the path, on SQLite a window at a time", async () => {
    const { admin, vault: server } = vault();
    const numbers = backend === "sqlite" ? `WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < ${PATHLESS}) SELECT n FROM s` : `SELECT generate_series(1, ${PATHLESS}) AS n`;
    const now = Date.now();
    const read = JSON.stringify({ paths: ["mention/db"], denied_or_failed: [] });
    const failed = JSON.stringify({ paths: [], denied_or_failed: ["mention/db"] });
    const other = JSON.stringify({ paths: ["other/path"], denied_or_failed: [] });
    // Off any chain (this test reads the trail, it does not verify it), spread over the last 20 days.
    await server.db.run(
      `INSERT INTO audit_log (id, chain_id, seq, partner_id, tenant_id, timestamp, action, identity_type, identity_id, secret_path, source_ip, user_agent, success, status, duration_ms, request_id, extra_data, prev_hash, hash)
       SELECT 'log_mention' || n, 'filler:mention', n, 'ptn_default', 'tnt_default', CAST(? AS BIGINT) - n * 72000, CASE WHEN n % 2 = 0 THEN 'read' ELSE 'list' END,
              'service_account', 'sa:batcher' || (n % 3), NULL, '10.0.0.1', 'test', CASE WHEN n % 8000 = 2 THEN 0 ELSE 1 END, 200, 1, 'req_mention' || n,
              CASE WHEN n % 2000 = 0 THEN ? WHEN n % 8000 = 2 THEN ? WHEN n % 2 = 0 THEN ? ELSE '{}' END, 'x', 'x' FROM (${numbers}) s`,
      [now, read, failed, other],
    );
    let summary: Record<string, unknown> = {};
    // The tenant's entries (an admin's search reads its partner's own chain after them).
    const turns = await statementTurns(server.db, /^SELECT (timestamp|id, chain_id.*) FROM audit_log WHERE tenant_id = \? AND secret_path IS NULL/s, async () => {
      const trail = await admin.get("/v1/audit/secrets/mention/db");
      expect(trail.status, trail.text).toBe(200);
      summary = trail.body.summary;
    });
    const { statements } = await statementsDuring(server.db, () => admin.get("/v1/audit/secrets/mention/db"));
    expect(summary).toMatchObject({ reads: READS, failed_events: FAILED, total_events: READS + FAILED });
    expect((summary.readers as { identity_id: string; reads: number }[]).map((r) => r.reads).reduce((a, b) => a + b, 0)).toBe(READS);
    // Every statement that looks at the tenant's entries about no path reads its batch reads only,
    // along their own index (a partner admin's own chain, read after it, holds no batch reads).
    const pathless = statements.filter((s) => /tenant_id = \? AND secret_path IS NULL/.test(s.sql));
    expect(pathless.length).toBeGreaterThan(0);
    for (const statement of pathless) expect(await planOf(server.db, statement.sql, statement.params), statement.sql).toContain("audit_log_batch_reads");
    if (backend === "sqlite") {
      // Three windows (5,000, 5,000, the rest), each an edge and a read, each window in its own turn.
      expect(turns).toHaveLength(6);
      expect(new Set(turns).size).toBe(3);
    } else {
      expect(turns).toHaveLength(1);
    }
  });
});
