import { beforeAll, expect, it } from "vitest";
import { describeEachBackend, useScratchDatabase } from "../testing/backends.js";
import { planOf, statementsDuring } from "../testing/plans.js";
import { sharedTurns, statementTurns } from "../testing/turns.js";
import type { Database } from "./contract.js";
import { countAlongIndex, countInStretches } from "./stretch-count.js";

/**
 * A gauge's count over a large table: the same number as one COUNT, and on SQLite read a stretch
 * of rowids per turn of the loop, so no reading holds the node for the whole table.
 */
describeEachBackend("counts in stretches", (backend) => {
  const database = useScratchDatabase(backend, [
    { id: "9102_counted_items", up: () => ["CREATE TABLE counted_items (id TEXT NOT NULL PRIMARY KEY, gone BIGINT)"] },
    { id: "9103_owned_items", up: () => ["CREATE TABLE owned_items (id TEXT NOT NULL PRIMARY KEY, owner TEXT NOT NULL)", "CREATE INDEX owned_items_owner ON owned_items (owner)"] },
  ]);
  let db: Database;

  beforeAll(async () => {
    db = database();
    // 95 rows, every third gone; then 20 deleted from the middle, leaving a gap in the rowids.
    for (let i = 0; i < 95; i++) await db.run("INSERT INTO counted_items (id, gone) VALUES (?, ?)", [`c${String(i).padStart(3, "0")}`, i % 3 === 0 ? 1 : null]);
    await db.run("DELETE FROM counted_items WHERE id >= 'c040' AND id < 'c060'");
  });

  it("counts what one COUNT counts, across stretches and the gap", async () => {
    const whole = await db.get<{ n: number | string }>("SELECT COUNT(*) AS n FROM counted_items WHERE gone IS NULL");
    expect(Number(whole!.n)).toBe(49);
    expect(await countInStretches(db, "counted_items", "gone IS NULL", [], 10)).toBe(49);
    expect(await countInStretches(db, "counted_items", "gone IS NULL AND id < ?", ["c030"], 10)).toBe(20);
    expect(await countInStretches(db, "counted_items", "id = ?", ["none"], 10)).toBe(0);
  });

  it("counts along an index what one COUNT counts, across stretches, rests and owners", async () => {
    // Owners interleaved, so each owner's rowids have gaps: a, b, a, a, b, a, …
    for (let i = 0; i < 55; i++) await db.run("INSERT INTO owned_items (id, owner) VALUES (?, ?)", [`o${String(i).padStart(3, "0")}`, i % 3 === 1 ? "b" : "a"]);
    for (const [owner, expected] of [["a", 37], ["b", 18], ["nobody", 0]] as const) {
      for (const stretch of [1, 10, 37, 100]) expect(await countAlongIndex(db, "owned_items", "owner = ?", [owner], stretch), `${owner} by ${stretch}`).toBe(expected);
    }
  });

  it("counts an empty table as 0", async () => {
    await db.run("CREATE TABLE IF NOT EXISTS counted_empty (id TEXT PRIMARY KEY)");
    expect(await countInStretches(db, "counted_empty", "id IS NOT NULL")).toBe(0);
  });

  it.runIf(backend === "sqlite")("reads one stretch per turn of the event loop on SQLite", async () => {
    const turns = await statementTurns(db, /FROM counted_items WHERE rowid >= \?/, async () => {
      expect(await countInStretches(db, "counted_items", "gone IS NULL", [], 10)).toBe(49);
    });
    expect(turns).toHaveLength(10);
    expect(sharedTurns(turns)).toEqual([]);
  });

  it.runIf(backend === "sqlite")("finds the rowids' span at the table's edges, without a scan", async () => {
    const { statements } = await statementsDuring(db, () => countInStretches(db, "counted_items", "gone IS NULL", [], 10));
    const span = statements.find((s) => /MIN\(rowid\)/.test(s.sql));
    expect(span).toBeDefined();
    // Both ends in one aggregate make SQLite scan the table (50 ms at a million rows).
    expect(await planOf(db, span!.sql, span!.params)).not.toMatch(/SCAN counted_items/);
  });
});
