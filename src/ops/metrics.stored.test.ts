import { expect, it } from "vitest";
import { statementsDuring } from "../testing/plans.js";
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
