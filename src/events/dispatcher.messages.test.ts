import { expect, it } from "vitest";
import { describeEachBackend, onlyOn } from "../testing/backends.js";
import { recordPgMessages } from "../testing/pg-messages.js";
import { useVault } from "../testing/harness.js";
import { until } from "../testing/observe.js";

/**
 * A fan-out pass on PostgreSQL: its lock, the dispatch state and the open events read go out in
 * one message, the numbering with the COMMIT (statements kept as text here, unprepared, so the
 * messages can be read).
 */
describeEachBackend("events: the fan-out pass's messages", (backend) => {
  const vault = useVault(backend, { env: { DATABASE_PREPARED_STATEMENTS: "false" } });

  onlyOn(backend, "postgres")("postgres only: a pass is two messages in its transaction, and numbers every event once", async () => {
    const { admin, vault: v } = vault();
    const { sent, stop } = recordPgMessages();
    try {
      for (let i = 0; i < 5; i++) expect((await admin.put(`/v1/secrets/fanout/m-${i}`, { data: { i } })).status).toBe(201);
      await until("every event dispatched", async () => (await v.db.get<{ n: number }>("SELECT COUNT(*)::int AS n FROM events WHERE dispatch_seq IS NULL"))?.n === 0);
    } finally {
      stop();
    }
    const passes = sent.filter((text) => text.includes("pg_try_advisory_xact_lock"));
    expect(passes.length).toBeGreaterThan(0);
    for (const first of passes) {
      expect(first).toMatch(/^BEGIN;\nSELECT last_seq FROM event_dispatch_state WHERE id = 1 AND pg_try_advisory_xact_lock\('\d+'\) FOR UPDATE;\nSELECT (id|\*) FROM events WHERE dispatch_seq IS NULL AND outbox_seq >= '\d+' AND outbox_seq <= '\d+'$/);
    }
    expect(sent.some((text) => /^UPDATE events SET dispatch_seq = CASE id .*;\nUPDATE event_dispatch_state SET last_seq = \d+ WHERE id = 1;\nCOMMIT$/s.test(text))).toBe(true);
    // Numbered once each, contiguously, in outbox order.
    const rows = await v.db.all<{ dispatch_seq: number }>("SELECT dispatch_seq FROM events ORDER BY outbox_seq");
    const seqs = rows.map((r) => Number(r.dispatch_seq));
    expect(seqs).toEqual(seqs.map((_, i) => seqs[0] + i));
  });
});
