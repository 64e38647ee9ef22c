import { afterAll, beforeAll, expect, it } from "vitest";
import { describeEachBackend, scratchDatabase, type ScratchDatabase } from "../testing/backends.js";
import type { Database } from "./contract.js";
import { openDatabase } from "./open.js";

/**
 * `scaivault_db_latency_seconds` is fed by the adapters (issue 14, round 11): each statement a
 * store runs, inside a transaction or not, is observed once with its duration; a transaction's own
 * BEGIN, SAVEPOINT and COMMIT are not (instrumentDatabase observes the transaction whole).
 */
describeEachBackend("statement observation", (backend) => {
  let scratch: ScratchDatabase;
  let db: Database;
  const observed: number[] = [];

  beforeAll(async () => {
    scratch = await scratchDatabase(backend);
    db = openDatabase(scratch.url, { poolSize: 2, observeStatement: (seconds) => observed.push(seconds) });
    await db.run("CREATE TABLE observed_items (id TEXT PRIMARY KEY, n INTEGER NOT NULL)");
  });
  afterAll(async () => {
    await db?.close();
    await scratch?.drop();
  });

  it("observes each statement once, in and out of transactions, and failed ones too", async () => {
    observed.length = 0;
    await db.run("INSERT INTO observed_items (id, n) VALUES (?, ?)", ["a", 1]);
    await db.get("SELECT n FROM observed_items WHERE id = ?", ["a"]);
    await db.all("SELECT id FROM observed_items");
    await db.getShared("SELECT COUNT(*) AS n FROM observed_items");
    expect(observed).toHaveLength(4);
    // Two writes grouped in one turn (one SQLite group commit): their statements only.
    await Promise.all(
      ["b", "c"].map((id) =>
        db.transaction(async (tx) => {
          await tx.run("INSERT INTO observed_items (id, n) VALUES (?, ?)", [id, 2]);
          await tx.get("SELECT n FROM observed_items WHERE id = ?", [id]);
        }),
      ),
    );
    expect(observed).toHaveLength(8);
    await expect(db.run("INSERT INTO observed_items (id, n) VALUES (?, ?)", ["a", 3])).rejects.toMatchObject({ kind: "unique_violation" });
    expect(observed).toHaveLength(9);
    for (const seconds of observed) {
      expect(seconds).toBeGreaterThanOrEqual(0);
      expect(seconds).toBeLessThan(60);
    }
  });
});
