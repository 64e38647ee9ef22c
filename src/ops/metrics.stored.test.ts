import { expect, it } from "vitest";
import { planOf, statementsDuring } from "../testing/plans.js";
import { sharedTurns, statementTurns } from "../testing/turns.js";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";

function sample(text: string, series: string): number | null {
  const match = new RegExp(`^${series.replace(/[{}"=]/g, "\\$&")} ([0-9.e+-]+)$`, "m").exec(text);
  return match ? Number(match[1]) : null;
}

/**
 * `/v1/metrics` is public and never limited (SPEC §8), and a gauge counted in storage costs as much
 * as the data is large: however often it is scraped, a node reads those gauges at most once per
 * SCAIVAULT_METRICS_STORAGE_INTERVAL, while what it counts itself stays current at every scrape.
 */
describeEachBackend("metrics: gauges read from storage, at most once per interval", (backend) => {
  const vault = useVault(backend, { env: { SCAIVAULT_METRICS_STORAGE_INTERVAL: "1h" } });

  it("answers scrapes inside the interval from the last reading, with live counters current", async () => {
    const { admin, anonymous, vault: server } = vault();
    const first = (await anonymous.get("/v1/metrics")).text;
    expect(sample(first, "scaivault_secrets_total")).toBe(0);
    expect((await admin.put("/v1/secrets/stored-metrics/one", { data: { v: "1" } })).status).toBe(201);
    const { statements, value: scrapes } = await statementsDuring(server.db, () => Promise.all(Array.from({ length: 8 }, async () => (await anonymous.get("/v1/metrics")).text)));
    expect(statements.map((s) => s.sql).filter((sql) => /COUNT\(\*\)/.test(sql))).toEqual([]);
    for (const text of scrapes) {
      expect(sample(text, "scaivault_secrets_total")).toBe(0);
      expect(sample(text, "scaivault_secret_writes_total")).toBe(1);
      // Both registries' families, each once.
      expect(text.match(/^# TYPE scaivault_secrets_total /gm)).toHaveLength(1);
      expect(text.match(/^# TYPE scaivault_secret_writes_total /gm)).toHaveLength(1);
    }
  });
});

/**
 * The secrets gauge counts the whole table. In one statement that held a SQLite node's loop 82–86
 * ms at a million secrets at every reading (docs/benchmarks.md round 33): it reads a stretch of
 * the table per turn of the loop there.
 */
describeEachBackend("metrics: the secrets gauge over a large table", (backend) => {
  const vault = useVault(backend, { env: { SCAIVAULT_METRICS_STORAGE_INTERVAL: "0s" } });

  it("counts the live secrets, on SQLite a stretch of the table per turn of the loop", async () => {
    const { anonymous, vault: server } = vault();
    const numbers = backend === "sqlite" ? "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 45000) SELECT n FROM s" : "SELECT generate_series(1, 45000) AS n";
    // Every fifth one deleted.
    await server.db.run(`INSERT INTO secrets (tenant_id, path, partner_id, secret_type, metadata, max_versions, current_version, created_at, updated_at, deleted_at)
      SELECT 'tnt_default', 'gauge/' || n, 'ptn_default', 'kv', '{}', 10, 1, 0, 0, CASE WHEN n % 5 = 0 THEN 1 ELSE NULL END FROM (${numbers}) s`);
    const turns = await statementTurns(server.db, /FROM secrets WHERE rowid >= \?/, async () => {
      expect(sample((await anonymous.get("/v1/metrics")).text, "scaivault_secrets_total")).toBe(36_000);
    });
    if (backend === "sqlite") {
      expect(turns.length).toBeGreaterThanOrEqual(3);
      expect(sharedTurns(turns)).toEqual([]);
    }
  });

  it.runIf(backend === "sqlite")("reads no gauge by scanning a whole table", async () => {
    const { anonymous, vault: server } = vault();
    const { statements } = await statementsDuring(server.db, () => anonymous.get("/v1/metrics"));
    expect(statements.length).toBeGreaterThanOrEqual(5);
    for (const statement of statements) expect(await planOf(server.db, statement.sql, statement.params), statement.sql).not.toMatch(/^SCAN \w+$/m);
  });
});
