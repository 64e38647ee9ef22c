import { expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { statementsDuring } from "../testing/plans.js";

const CERTIFICATES = 25_000;
const DAY_MS = 86_400_000;

function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/**
 * The `scaivault_certificates_*` gauges over many live certificates (a mesh's short-lived ones):
 * exact, and on SQLite read a stretch of `pki_certificates_live` per statement (one scrape's
 * statements held the node ~0.3 s at a million).
 */
describeEachBackend("pki: certificate gauges over many live certificates", (backend) => {
  const vault = useVault(backend, { env: { SCAIVAULT_METRICS_STORAGE_INTERVAL: "0s" } });

  it("counts live certificates by CA and those expiring within 7 and 30 days, in stretches on SQLite", async () => {
    const { anonymous, vault: server } = vault();
    const now = Date.now();
    const numbers = backend === "sqlite" ? `WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < ${CERTIFICATES}) SELECT n FROM s` : `SELECT generate_series(1, ${CERTIFICATES}) AS n`;
    // Two CAs; every 13th revoked, every 17th expired; the rest end 1–40 days from now (an hour early).
    await server.db.run(`INSERT INTO pki_certificates (id, serial_number, tenant_id, partner_id, ca_id, common_name, alt_names, ip_sans, source, certificate_pem, not_before, not_after, revoked_at, created_by, created_at)
      SELECT 'crt_g' || n, 'sng' || n, 'tnt_default', 'ptn_default', CASE WHEN n % 3 = 0 THEN 'ca_gauge_b' ELSE 'ca_gauge_a' END, 'cn', '[]', '[]', 'issue', 'pem', ${now},
             CASE WHEN n % 17 = 0 THEN ${now - DAY_MS} ELSE ${now - 3_600_000} + (1 + n % 40) * CAST(${DAY_MS} AS BIGINT) END, CASE WHEN n % 13 = 0 THEN ${now} ELSE NULL END, 'x', ${now}
        FROM (${numbers}) s`);
    const expected = { a: 0, b: 0, week: 0, month: 0 };
    for (let n = 1; n <= CERTIFICATES; n++) {
      if (n % 13 === 0 || n % 17 === 0) continue;
      if (n % 3 === 0) expected.b++;
      else expected.a++;
      const days = 1 + (n % 40);
      if (days <= 7) expected.week++;
      if (days <= 30) expected.month++;
    }
    const { statements, value: scrape } = await statementsDuring(server.db, () => anonymous.get("/v1/metrics"));
    expect(sample(scrape.text, 'scaivault_certificates_active{ca_id="ca_gauge_a"}')).toBe(expected.a);
    expect(sample(scrape.text, 'scaivault_certificates_active{ca_id="ca_gauge_b"}')).toBe(expected.b);
    expect(sample(scrape.text, 'scaivault_certificates_expiring_soon{within_days="7"}')).toBe(expected.week);
    expect(sample(scrape.text, 'scaivault_certificates_expiring_soon{within_days="30"}')).toBe(expected.month);
    // The gauges' reads only: a background pass (expiry notices) may read the table in the same window.
    const reads = statements.filter((s) => /FROM pki_certificates (INDEXED BY pki_certificates_live )?WHERE revoked_at IS NULL/.test(s.sql));
    // SQLite: a stretch's end and its figures per 10,000 live certificates; PostgreSQL: two statements.
    expect(reads.length).toBe(backend === "sqlite" ? 2 * Math.ceil((expected.a + expected.b) / 10_000) : 2);
  });
});
