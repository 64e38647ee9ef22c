import { expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { peekSql } from "./dispatcher.js";
import { INSERT_NUMBERED } from "./outbox.js";

// The fan-out pass runs after every change; it must find undispatched events through an index,
// not by walking every event the outbox ever held.
describeEachBackend("events: fan-out query plan", (backend) => {
  const vault = useVault(backend);

  it("reads the events awaiting fan-out through an index in outbox order", async () => {
    const { db } = vault().vault;
    if (db.dialect === "sqlite") {
      const plan = await db.all<{ detail: string }>(`EXPLAIN QUERY PLAN ${peekSql("sqlite")}`, [200]);
      expect(plan.map((row) => row.detail).join(" ")).toMatch(/USING (COVERING )?INDEX events_fanout_pending/);
      // SQLite decides as it writes an event whether its tenant has a target: probed on an index,
      // never by scanning the target tables on every write.
      const insert = await db.all<{ detail: string }>(`EXPLAIN QUERY PLAN ${INSERT_NUMBERED}`, ["evt_x", "p", "t", "secret.updated", "a/b", null, null, "{}", 0, 0, 1, "t", "t"]);
      const details = insert.map((row) => row.detail).join(" ");
      expect(details).toMatch(/SEARCH w USING (COVERING )?INDEX webhooks_name/);
      expect(details).toMatch(/SEARCH s USING (COVERING )?INDEX subscriptions_name/);
      expect(details).not.toMatch(/SCAN (webhooks|subscriptions)/);
      return;
    }
    // A near-empty table is cheapest to scan; forbid that so the plan shows whether the index serves.
    const plan = await db.transaction(async (tx) => {
      await tx.run("SET LOCAL enable_seqscan = off");
      return tx.all<{ "QUERY PLAN": string }>(`EXPLAIN ${peekSql("postgres").replace("LIMIT ?", "LIMIT 200")}`);
    });
    expect(plan.map((row) => row["QUERY PLAN"]).join(" ")).toContain("events_undispatched_order");
  });
});
