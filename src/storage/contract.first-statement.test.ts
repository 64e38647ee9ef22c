import { afterAll, beforeAll, expect, it } from "vitest";
import { describeEachBackend, onlyOn, scratchDatabase, type ScratchDatabase } from "../testing/backends.js";
import { recordPgMessages } from "../testing/pg-messages.js";
import type { Database } from "./contract.js";
import { openDatabase } from "./open.js";
import { INLINE_BINARY_MAX_BYTES } from "./pg-sql-text.js";

/**
 * The storage contract for a transaction's first statement: on PostgreSQL it goes out in one
 * message with BEGIN, its values inlined, and must mean exactly what it means bound.
 */
describeEachBackend("storage contract: a transaction's first statement", (backend) => {
  let scratch: ScratchDatabase;
  let db: Database;

  beforeAll(async () => {
    scratch = await scratchDatabase(backend);
    db = openDatabase(scratch.url, { poolSize: 5, guardTransactions: true });
    await db.migrate([{ id: "9101_first_statement_items", up: (t) => [`CREATE TABLE items (id TEXT PRIMARY KEY, n INTEGER NOT NULL, at BIGINT, flag INTEGER, body TEXT, bin ${t.blob})`] }]);
  });
  afterAll(async () => {
    await db?.close();
    await scratch?.drop();
  });

  it("a transaction's first statement (sent with BEGIN on PostgreSQL) binds every parameter type as any later statement does", async () => {
    await db.run("INSERT INTO items (id, n, at, flag, body) VALUES (?, ?, ?, ?, ?)", ["77", 9100, 3_000_000_000, 1, "first"]);
    const nasty = ["'", "\\'", "\\", "E'x", "$$", "$1", "?", "-- x", "/* x", "';DROP TABLE items;--", "a\nb", "日本語 😀"];
    const cases: { sql: string; params: (string | number | bigint | boolean | null | Buffer)[] }[] = [
      // Inline values are typed from their context, as bound parameters are (on PostgreSQL a bare
      // 42 would come back as an integer where the bound value comes back as text).
      { sql: "SELECT ? AS v", params: [42] },
      { sql: "SELECT n FROM items WHERE id = ?", params: ["77"] },
      { sql: "SELECT id FROM items WHERE at = ? AND flag = ?", params: [3_000_000_000n, true] },
      { sql: "SELECT id FROM items WHERE n = ? - 1 AND (body = ? OR body IS NOT NULL)", params: [9101, null] },
      { sql: "SELECT id FROM items WHERE n > ? ORDER BY n LIMIT ?", params: [-5, 1] },
      ...nasty.map((text) => ({ sql: "SELECT ? AS text", params: [text] })),
      // Binary goes inline as hex; over the inline limit BEGIN goes alone and the statement keeps its parameters.
      { sql: "SELECT id FROM items WHERE bin = ? OR id = ?", params: [Buffer.from([0, 1, 39, 92, 255]), "77"] },
      { sql: "SELECT id FROM items WHERE bin = ? OR id = ?", params: [Buffer.alloc(INLINE_BINARY_MAX_BYTES + 1, 7), "77"] },
    ];
    for (const { sql, params } of cases) {
      const bound = await db.all(sql, params);
      const first = await db.transaction((tx) => tx.all(sql, params));
      expect(first).toEqual(bound);
      expect({ sql, rows: first.length }).toEqual({ sql, rows: 1 });
    }
    // A first statement that fails rolls back; every pooled connection is left usable.
    for (let i = 0; i < 7; i++) {
      const failed = db.transaction(async (tx) => {
        await tx.run("INSERT INTO items (id, n) VALUES (?, ?)", ["77", 9200 + i]);
      });
      await expect(failed).rejects.toMatchObject({ kind: "unique_violation" });
    }
    expect(await db.transaction(async (tx) => (await tx.run("UPDATE items SET body = ? WHERE id = ?", ["after", "77"])).changes)).toBe(1);
    expect((await db.get<{ body: string }>("SELECT body FROM items WHERE id = ?", ["77"]))?.body).toBe("after");
    // A transaction that runs nothing returns its result.
    expect(await db.transaction(async () => "nothing ran")).toBe("nothing ran");
  });

  onlyOn(backend, "postgres")("postgres only: BEGIN costs no round trip of its own", async () => {
    const { sent, stop } = recordPgMessages();
    try {
      await db.transaction(async (tx) => {
        await tx.get("SELECT n FROM items WHERE id = ?", ["77"]);
        await tx.run("UPDATE items SET body = ? WHERE id = ?", ["counted", "77"]);
      });
      await db.transaction(async () => undefined);
    } finally {
      stop();
    }
    // BEGIN with the first statement (its text, or EXECUTE once the connection has PREPAREd it),
    // the second, COMMIT: three messages; the empty transaction none. A PREPARE goes once per
    // connection and statement, between transactions, and is not counted.
    const perTransaction = sent.filter((text) => !text.startsWith("PREPARE "));
    expect(perTransaction).toHaveLength(3);
    expect(perTransaction[0]).toMatch(/^BEGIN;\s*(SELECT n FROM items WHERE id = '77'|EXECUTE qsv_\d+\('77'\))$/);
    expect(perTransaction[2]).toBe("COMMIT");
  });

  it("a read queued with alongFirst answers as the same read run in the transaction, or asks its caller to run it", async () => {
    await db.run("INSERT INTO items (id, n, body) VALUES (?, ?, ?)", ["along", 5, "it's $$ ? -- along"]);
    const read = "SELECT n, body FROM items WHERE id = ? AND body = ?";
    const params = ["along", "it's $$ ? -- along"];
    const { early, inTransaction } = await db.transaction(async (tx) => {
      const queued = tx.alongFirst?.(read, params) ?? null;
      await tx.get("SELECT n FROM items WHERE id = ?", ["77"]);
      const rows = queued ? await queued() : null;
      return { early: rows ?? (await tx.all(read, params)), inTransaction: await tx.all(read, params) };
    });
    expect(early).toEqual(inTransaction);
    expect(early).toEqual([{ n: 5, body: "it's $$ ? -- along" }]);
  });

  onlyOn(backend, "postgres")("postgres only: alongFirst travels in the first statement's message, after it; it fails with it, and is handed back when it cannot travel", async () => {
    const { sent, stop } = recordPgMessages();
    try {
      // After the first statement: the along read sees the row the first statement changed.
      const seen = await db.transaction(async (tx) => {
        const queued = tx.alongFirst?.<{ n: number }>("SELECT n FROM items WHERE id = ?", ["77"]);
        await tx.run("UPDATE items SET n = n + 1 WHERE id = ?", ["77"]);
        // Once the first statement has gone out, nothing more can travel with it.
        expect(tx.alongFirst?.("SELECT 1 AS one", [])).toBeNull();
        return queued?.();
      });
      const perTransaction = sent.filter((text) => !text.startsWith("PREPARE "));
      const after = (await db.get<{ n: number }>("SELECT n FROM items WHERE id = ?", ["77"]))!.n;
      expect(seen).toEqual([{ n: after }]);
      expect(perTransaction).toHaveLength(2);
      expect(perTransaction[0]).toMatch(/^BEGIN;\s*(UPDATE items|EXECUTE qsv_\d+)[^;]*;\s*(SELECT n FROM items WHERE id = '77'|EXECUTE qsv_\d+\('77'\))$/);
      expect(perTransaction[1]).toBe("COMMIT");
    } finally {
      stop();
    }

    // The first statement fails: the queued read rejects with it, and the transaction rolls back.
    let queued: (() => Promise<unknown>) | null | undefined;
    const failed = db.transaction(async (tx) => {
      queued = tx.alongFirst?.("SELECT n FROM items WHERE id = ?", ["77"]);
      await tx.run("INSERT INTO items (id, n) VALUES (?, ?)", ["77", 1]);
    });
    await expect(failed).rejects.toMatchObject({ kind: "unique_violation" });
    await expect(queued?.()).rejects.toMatchObject({ kind: "unique_violation" });

    // A first statement with a binary value over the inline limit goes out bound, alone: the queued read is handed back (null).
    const handedBack = await db.transaction(async (tx) => {
      const q = tx.alongFirst?.("SELECT n FROM items WHERE id = ?", ["77"]);
      await tx.get("SELECT id FROM items WHERE bin = ? OR id = ?", [Buffer.alloc(INLINE_BINARY_MAX_BYTES + 1), "77"]);
      return q?.();
    });
    expect(handedBack).toBeNull();
    // Asked for before any statement went out: handed back at once (never waited for), and the
    // caller's own read then goes out as the first statement.
    expect(
      await db.transaction(async (tx) => {
        const q = tx.alongFirst?.<{ n: number }>("SELECT n FROM items WHERE id = ?", ["77"]);
        expect(await q?.()).toBeNull();
        return tx.all("SELECT n FROM items WHERE id = ?", ["77"]);
      }),
    ).toHaveLength(1);
    // A value that cannot be inlined is not queued.
    expect(await db.transaction(async (tx) => tx.alongFirst?.("SELECT ? AS b", ["a\0b"]) ?? "not queued")).toBe("not queued");
  });
});
