import { LoopSlices } from "../shared/turn.js";
import type { Database } from "../storage/contract.js";
import { walkStretches } from "../storage/stretches.js";

const DAY_MS = 86_400_000;

/** Live certificates per statement on SQLite (~2–3 ms of its loop). */
const STRETCH = 10_000;

export interface LiveFigures {
  /** Unrevoked, unexpired certificates by issuing CA. */
  byCa: Map<string, number>;
  /** Of those, expiring within 7 and 30 days. */
  week: number;
  month: number;
}

/**
 * The live certificates' figures for the `scaivault_certificates_*` gauges, along
 * `pki_certificates_live` (not_after, ca_id; unrevoked only). On SQLite a stretch of the index per
 * statement with the loop turning every 2 ms: with a million live certificates (a mesh's
 * short-lived ones) one scrape's statements held the node 267–316 ms (docs/benchmarks.md round
 * 33). The keyset is (not_after, ca_id, rowid), the index's own order. PostgreSQL answers in two
 * statements: its scans do not hold the node.
 */
export async function liveCertificateFigures(db: Database, now: number): Promise<LiveFigures> {
  const week = now + 7 * DAY_MS;
  const month = now + 30 * DAY_MS;
  if (db.dialect !== "sqlite") {
    const rows = await db.all<{ ca_id: string; n: number | string }>("SELECT ca_id, COUNT(*) AS n FROM pki_certificates WHERE revoked_at IS NULL AND not_after > ? GROUP BY ca_id", [now]);
    const soon = await db.get<{ week: number | string | null; month: number | string }>(
      "SELECT SUM(CASE WHEN not_after <= ? THEN 1 ELSE 0 END) AS week, COUNT(*) AS month FROM pki_certificates WHERE revoked_at IS NULL AND not_after > ? AND not_after <= ?",
      [week, now, month],
    );
    return { byCa: new Map(rows.map((r) => [r.ca_id, Number(r.n)])), week: Number(soon?.week ?? 0), month: Number(soon?.month ?? 0) };
  }
  const live = "FROM pki_certificates INDEXED BY pki_certificates_live WHERE revoked_at IS NULL";
  const figures: LiveFigures = { byCa: new Map(), week: 0, month: 0 };
  const slices = new LoopSlices(2);
  await walkStretches(db, { from: live, params: [], key: ["not_after", "ca_id", "rowid"], start: { sql: " AND not_after > ?", params: [now] }, size: STRETCH, slices }, async (bounds) => {
    const rows = await db.all<{ ca_id: string; n: number; week: number; month: number }>(
      `SELECT ca_id, COUNT(*) AS n, SUM(CASE WHEN not_after <= ? THEN 1 ELSE 0 END) AS week, SUM(CASE WHEN not_after <= ? THEN 1 ELSE 0 END) AS month
         ${live}${bounds.sql} GROUP BY ca_id`,
      [week, month, ...bounds.params],
    );
    for (const row of rows) {
      figures.byCa.set(row.ca_id, (figures.byCa.get(row.ca_id) ?? 0) + Number(row.n));
      figures.week += Number(row.week);
      figures.month += Number(row.month);
    }
  });
  return figures;
}
