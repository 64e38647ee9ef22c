import { expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { planOf, statementsDuring } from "../testing/plans.js";
import { auditMigrations } from "./migrations.js";
import { insertEntries, type FixtureEntry } from "./test-fixtures.js";

/** Batch reads in the last 20 days: every 50th named the path, every 200th failed on it. */
const BATCH_READS = 2_000;
const READS = BATCH_READS / 50;
const FAILED = BATCH_READS / 200;
/** Paths per batch read besides the one asked about, each of the longest kind (512 characters). */
const OTHER_PATHS = 20;

/**
 * A secret's trail counts and pages the batch reads that named it: entries about no path, whose
 * paths are lists in extra_data. Each named path is also a row of audit_path_mentions, written with
 * the entry, and the trail reads only those rows and the entries they point to. Before, it read
 * every batch read of 30 days whose extra_data held the path's text and parsed each: 10,000 batch
 * reads of 100 long paths cost 1.8–4.2 s and 300–660 MB per request (docs/benchmarks.md round 37).
 */
describeEachBackend("audit: batch reads in a secret's trail, found by the paths they named", (backend) => {
  const vault = useVault(backend);

  it("writes a row per named path with the entry, and the trail counts and pages them", async () => {
    const { admin, vault: server } = vault();
    await admin.put("/v1/secrets/named/db", { data: { v: 1 } });
    await admin.put("/v1/secrets/named/other", { data: { v: 1 } });
    for (let i = 0; i < 3; i++) expect((await admin.post("/v1/secrets/batch", { paths: ["named/db", "named/other", "named/absent"] })).status).toBe(200);
    expect((await admin.post("/v1/secrets/batch", { paths: ["named/other"] })).status).toBe(200);
    const rows = await server.db.all<{ path: string; outcome: string; n: number | string }>(
      "SELECT path, outcome, COUNT(*) AS n FROM audit_path_mentions WHERE tenant_id = 'tnt_default' AND path LIKE 'named/%' GROUP BY path, outcome ORDER BY path",
    );
    expect(rows.map((r) => [r.path, r.outcome, Number(r.n)])).toEqual([["named/absent", "failed", 3], ["named/db", "read", 3], ["named/other", "read", 4]]);
    const trail = await admin.get("/v1/audit/secrets/named/db");
    expect(trail.status).toBe(200);
    expect(trail.body.summary).toMatchObject({ reads: 3, writes: 1, failed_events: 0, total_events: 4 });
    expect(trail.body.logs.map((l: { action: string; secret_path: string | null }) => [l.action, l.secret_path])).toEqual([["read", null], ["read", null], ["read", null], ["write", "named/db"]]);
    const failed = (await admin.get("/v1/audit/secrets/named/absent")).body.summary;
    expect(failed).toMatchObject({ reads: 0, failed_events: 3, total_events: 3 });
  });

  it("names only secret paths: a refused name holding NUL or upper case is recorded in the entry, not as a mention", async () => {
    const { admin, vault: server } = vault();
    const odd = ["named/\u0000nul", "Named/Upper", "named/\ud800"];
    const batch = await admin.post("/v1/secrets/batch", { paths: ["named/db", ...odd] });
    expect(batch.status).toBe(200);
    expect(Object.keys(batch.body.errors).sort()).toEqual([...odd].sort());
    const entry = (await admin.get("/v1/audit/logs?action=read&limit=1")).body.logs[0];
    expect(entry.extra_data.denied_or_failed.sort()).toEqual([...odd].sort());
    const mentions = await server.db.all<{ path: string }>("SELECT path FROM audit_path_mentions WHERE id = ?", [entry.id]);
    expect(mentions.map((m) => m.path)).toEqual(["named/db"]);
  });

  it("reads only the mentions of the path, however much the other batch reads named", async () => {
    const { admin, vault: server } = vault();
    const now = Date.now();
    const long = (i: number) => `wide/${String(i).padStart(3, "0")}${"x".repeat(503)}`;
    const entries: FixtureEntry[] = [];
    for (let i = 0; i < BATCH_READS; i++) {
      const names = i % 50 === 0, fails = i % 200 === 1;
      const paths = Array.from({ length: OTHER_PATHS }, (_, k) => long(k));
      entries.push({
        id: `log_wide${String(i).padStart(8, "0")}`, timestamp: now - 1_000 - i * 400_000, identity_id: `sa:wide${i % 3}`, secret_path: null,
        extra_data: JSON.stringify({ paths: names ? [...paths, "wide/db"] : paths, denied_or_failed: fails ? ["wide/db"] : [] }),
      });
    }
    await insertEntries(server.db, "wide", entries);
    let summary: Record<string, unknown> = {};
    let logs: { id: string }[] = [];
    const { statements } = await statementsDuring(server.db, async () => {
      const trail = await admin.get("/v1/audit/secrets/wide/db?limit=20");
      expect(trail.status).toBe(200);
      summary = trail.body.summary;
      logs = trail.body.logs;
    });
    expect(summary).toMatchObject({ reads: READS, failed_events: FAILED, total_events: READS + FAILED });
    expect((summary.readers as { reads: number }[]).reduce((sum, r) => sum + r.reads, 0)).toBe(READS);
    const newest = entries.filter((e) => e.extra_data!.includes('"wide/db"')).slice(0, 20).map((e) => e.id);
    expect(logs.map((l) => l.id)).toEqual(newest);
    // No statement reads batch reads by their text; those that read mentions go along the path's index.
    const onTrail = statements.filter((s) => /audit_log|audit_path_mentions/.test(s.sql));
    expect(onTrail.filter((s) => /extra_data (I?LIKE|~)|secret_path IS NULL/.test(s.sql))).toEqual([]);
    const mentions = onTrail.filter((s) => s.sql.includes("audit_path_mentions"));
    expect(mentions.length).toBeGreaterThanOrEqual(2);
    for (const statement of mentions) expect(await planOf(server.db, statement.sql, statement.params), statement.sql).toContain("audit_path_mentions_path");
  });

  it("the upgrade adds the paths of batch reads written before it", async () => {
    const { vault: server } = vault();
    const now = Date.now();
    await insertEntries(server.db, "before", [
      { id: "log_before1", timestamp: now - 5_000, identity_id: "sa:before", secret_path: null, extra_data: JSON.stringify({ paths: ["before/a", "before/b"], denied_or_failed: ["before/c"] }) },
      { id: "log_before2", timestamp: now - 4_000, identity_id: "sa:before", secret_path: null, success: 0, status: 500, extra_data: JSON.stringify({ paths: "not a list", denied_or_failed: [7, "before/a"] }) },
      { id: "log_before3", timestamp: now - 3_000, identity_id: "sa:before", secret_path: "before/a", extra_data: JSON.stringify({ paths: ["before/x"] }) },
      { id: "log_before4", timestamp: now - 2_000, identity_id: "sa:before", secret_path: null, action: "list", extra_data: JSON.stringify({ paths: ["before/y"] }) },
      // Names no secret can have, as a refused batch read recorded them: PostgreSQL's jsonb refuses
      // \u0000 and lone surrogates, and its text NUL; none of them may fail the upgrade.
      { id: "log_before5", timestamp: now - 1_000, identity_id: "sa:before", secret_path: null, extra_data: JSON.stringify({ paths: ["before/d"], denied_or_failed: ["bad\u0000name", "Upper/Case", "x".repeat(513)] }) },
      { id: "log_before6", timestamp: now - 900, identity_id: "sa:before", secret_path: null, extra_data: JSON.stringify({ paths: ["before/e"], denied_or_failed: ["lone\ud800"] }) },
    ]);
    const read = () => server.db.all<Record<string, unknown>>(
      "SELECT id, path, outcome, tenant_id, timestamp, action, identity_id, success, status FROM audit_path_mentions WHERE id LIKE 'log_before%' ORDER BY id, path",
    );
    const written = await read();
    expect(written.map((r) => [r.id, r.path, r.outcome])).toEqual([
      ["log_before1", "before/a", "read"], ["log_before1", "before/b", "read"], ["log_before1", "before/c", "failed"], ["log_before2", "before/a", "failed"],
      ["log_before5", "before/d", "read"], ["log_before6", "before/e", "read"],
    ]);
    // The whole migration again, as an upgrade runs it: the table gone, the old index back.
    await server.db.run("DROP TABLE audit_path_mentions");
    await server.db.run("CREATE INDEX audit_log_batch_reads ON audit_log (tenant_id, secret_path, timestamp) WHERE secret_path IS NULL AND action = 'read'");
    const upgrade = auditMigrations.find((m) => m.id === "0531_audit_path_mentions")!;
    const types = backend === "postgres" ? { dialect: backend, blob: "BYTEA", byteText: 'TEXT COLLATE "C"' } : { dialect: backend, blob: "BLOB", byteText: "TEXT" };
    await server.db.transaction(async (tx) => {
      for (const statement of upgrade.up(types)) await tx.run(statement);
    });
    const normal = (r: Record<string, unknown>) => ({ ...r, timestamp: Number(r.timestamp), success: Number(r.success), status: Number(r.status) });
    // PostgreSQL's upgrade leaves out entries its jsonb would refuse (a \u0000 or lone surrogate in a
    // refused name): their paths stay in the entry, and the upgrade does not fail on them.
    const expected = written.filter((r) => backend === "sqlite" || !["log_before5", "log_before6"].includes(r.id as string));
    expect((await read()).map(normal)).toEqual(expected.map(normal));
  });
});
