import { afterAll, beforeAll, expect, it } from "vitest";
import { describeEachBackend, onlyOn, scratchDatabase, type ScratchDatabase } from "../testing/backends.js";
import { recordPgMessages } from "../testing/pg-messages.js";
import { writeDeferred, type Database } from "./contract.js";
import { openDatabase } from "./open.js";

/**
 * The storage contract for deferred writes: they run in the order given, ahead of the
 * transaction's next statement (on PostgreSQL in that statement's message, saving their round
 * trip), and fail or roll back with the transaction.
 */
describeEachBackend("storage contract: deferred writes", (backend) => {
  let scratch: ScratchDatabase;
  let db: Database;

  beforeAll(async () => {
    scratch = await scratchDatabase(backend);
    db = openDatabase(scratch.url, { poolSize: 3, guardTransactions: true });
    await db.migrate([{ id: "9102_deferred_items", up: (t) => [`CREATE TABLE items (id TEXT PRIMARY KEY, n INTEGER NOT NULL, bin ${t.blob})`] }]);
  });
  afterAll(async () => {
    await db?.close();
    await scratch?.drop();
  });

  it("a deferred write is seen by the transaction's next statement, binary values exact", async () => {
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => 255 - i));
    const seen = await db.transaction(async (tx) => {
      await tx.run("INSERT INTO items (id, n) VALUES (?, ?)", ["seen-1", 1]);
      await writeDeferred(tx, "INSERT INTO items (id, n, bin) VALUES (?, ?, ?)", ["seen-2", 2, bytes]);
      await writeDeferred(tx, "UPDATE items SET n = n + 10 WHERE id = ?", ["seen-2"]);
      return tx.all<{ id: string; n: number }>("SELECT id, n FROM items WHERE id LIKE 'seen-%' ORDER BY id");
    });
    expect(seen.map((row) => [row.id, Number(row.n)])).toEqual([["seen-1", 1], ["seen-2", 12]]);
    expect(Buffer.compare((await db.get<{ bin: Buffer }>("SELECT bin FROM items WHERE id = ?", ["seen-2"]))!.bin, bytes)).toBe(0);
  });

  it("a deferred write that fails fails the statement it travels with, and nothing of the transaction is stored", async () => {
    await db.run("INSERT INTO items (id, n) VALUES (?, ?)", ["taken", 1]);
    const failed = db.transaction(async (tx) => {
      await tx.run("INSERT INTO items (id, n) VALUES (?, ?)", ["fails-1", 1]);
      await writeDeferred(tx, "INSERT INTO items (id, n) VALUES (?, ?)", ["taken", 2]);
      await tx.get("SELECT n FROM items WHERE id = ?", ["fails-1"]);
    });
    await expect(failed).rejects.toMatchObject({ kind: "unique_violation" });
    expect(await db.get("SELECT id FROM items WHERE id = ?", ["fails-1"])).toBeUndefined();
  });

  onlyOn(backend, "postgres")("postgres only: deferred writes travel ahead of the next statement in its message; a rollback sends none of them", async () => {
    const { sent, stop } = recordPgMessages();
    try {
      await db.transaction(async (tx) => {
        await tx.run("INSERT INTO items (id, n) VALUES (?, ?)", ["msg-1", 1]);
        expect(tx.deferWrite?.("INSERT INTO items (id, n, bin) VALUES (?, ?, ?)", ["msg-2", 2, Buffer.from([0, 39, 92])])).toBe(true);
        await tx.get("SELECT n FROM items WHERE id = ?", ["msg-2"]);
      });
      const rolledBack = db.transaction(async (tx) => {
        await tx.run("INSERT INTO items (id, n) VALUES (?, ?)", ["msg-3", 3]);
        expect(tx.deferWrite?.("INSERT INTO items (id, n) VALUES (?, ?)", ["msg-4", 4])).toBe(true);
        throw new Error("changed its mind");
      });
      await expect(rolledBack).rejects.toThrow("changed its mind");
    } finally {
      stop();
    }
    const messages = sent.filter((text) => !text.startsWith("PREPARE "));
    // BEGIN with the first insert; the deferred insert ahead of the read, in one message; COMMIT.
    expect(messages[0]).toMatch(/^BEGIN;/);
    expect(messages[1]).toMatch(/'msg-2'.*E'\\\\x00275c'.*;\s*(SELECT n FROM items|EXECUTE qsv_\d+\('msg-2'\))/s);
    expect(messages[2]).toBe("COMMIT");
    // The rolled-back transaction: BEGIN with its insert, then ROLLBACK alone.
    expect(messages.slice(3)).toEqual([expect.stringMatching(/^BEGIN;.*'msg-3'/s), "ROLLBACK"]);
    expect(await db.get("SELECT id FROM items WHERE id = ?", ["msg-4"])).toBeUndefined();
    expect(await db.get("SELECT id FROM items WHERE id = ?", ["msg-2"])).toBeDefined();
  });
});
