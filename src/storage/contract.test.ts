import { readdirSync, readlinkSync, statSync } from "node:fs";
import fc from "fast-check";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeEachBackend, onlyOn, scratchDatabase, type ScratchDatabase } from "../testing/backends.js";
import type { Database, Migration } from "./contract.js";
import { StorageError } from "./contract.js";
import { openDatabase } from "./open.js";
import { INLINE_BINARY_MAX_BYTES } from "./pg-sql-text.js";

/**
 * One contract suite, run against both adapters directly (no server): what every store relies on.
 * Cases a backend cannot have are named with `onlyOn`, never dropped silently.
 */
const MIGRATIONS: Migration[] = [
  {
    id: "9001_contract_items",
    up: (t) => [
      `CREATE TABLE items (id TEXT PRIMARY KEY, n INTEGER NOT NULL, at BIGINT, flag INTEGER, body TEXT, bin ${t.blob})`,
      "CREATE UNIQUE INDEX items_n ON items (n) WHERE n >= 1000",
    ],
  },
  { id: "9002_contract_counter", up: () => ["CREATE TABLE counter (id TEXT PRIMARY KEY, n INTEGER NOT NULL)", "INSERT INTO counter (id, n) VALUES ('c', 0)"] },
];

class DomainError extends Error {
  readonly code = "domain";
}

describeEachBackend("storage contract", (backend) => {
  let scratch: ScratchDatabase;
  let db: Database;

  beforeAll(async () => {
    scratch = await scratchDatabase(backend);
    db = openDatabase(scratch.url, { poolSize: 5, guardTransactions: true });
  });
  afterAll(async () => {
    await db?.close();
    await scratch?.drop();
  });

  it("applies migrations once, in order, and a second run applies nothing", async () => {
    const first = await db.migrate([MIGRATIONS[1], MIGRATIONS[0]]);
    expect(first).toEqual(["9001_contract_items", "9002_contract_counter"]);
    expect(await db.migrate(MIGRATIONS)).toEqual([]);
    const rows = await db.all<{ id: string }>("SELECT id FROM schema_migrations ORDER BY id");
    expect(rows.map((r) => r.id)).toEqual(["9001_contract_items", "9002_contract_counter"]);
    expect((await db.get<{ n: number }>("SELECT n FROM counter WHERE id = 'c'"))?.n).toBe(0);
  });

  it("getShared: callers of one turn share an answer that still shows every change committed before them", async () => {
    const read = () => db.getShared<{ n: number }>("SELECT n FROM counter WHERE id = ?", ["c"]).then((row) => Number(row?.n));
    const start = await read();
    const together = await Promise.all([read(), read(), read()]);
    expect(together).toEqual([start, start, start]);
    // A commit by this process, then a read in the same turn of the event loop.
    await db.transaction((tx) => tx.run("UPDATE counter SET n = n + 1 WHERE id = 'c'"));
    expect(await read()).toBe(start + 1);
    await db.run("UPDATE counter SET n = n + 1 WHERE id = 'c'");
    expect(await read()).toBe(start + 2);
    // A commit through another connection (another node), then a read in a later turn.
    const other = openDatabase(scratch.url);
    try {
      await other.run("UPDATE counter SET n = n + 1 WHERE id = 'c'");
    } finally {
      await other.close();
    }
    await new Promise((resolve) => setImmediate(resolve));
    expect(await read()).toBe(start + 3);
    await db.run("UPDATE counter SET n = 0 WHERE id = 'c'");
  });

  it("refuses duplicate migration ids", async () => {
    await expect(db.migrate([MIGRATIONS[0], { ...MIGRATIONS[0] }])).rejects.toThrow(/duplicate migration id/);
  });

  it("binds ? placeholders in order, of every parameter type", async () => {
    const at = Date.UTC(2026, 0, 15, 10, 30);
    await db.run("INSERT INTO items (id, n, at, flag, body) VALUES (?, ?, ?, ?, ?)", ["p1", 1, at, true, "text with ? inside a parameter"]);
    await db.run("INSERT INTO items (id, n, at, flag, body) VALUES (?, ?, ?, ?, ?)", ["p2", 2, null, false, null]);
    const row = await db.get<{ id: string; n: number; at: number; flag: number; body: string }>("SELECT id, n, at, flag, body FROM items WHERE id = ? AND n = ?", ["p1", 1]);
    expect(row).toEqual({ id: "p1", n: 1, at, flag: 1, body: "text with ? inside a parameter" });
    const second = await db.get<{ at: number | null; flag: number; body: string | null }>("SELECT at, flag, body FROM items WHERE id = ?", ["p2"]);
    expect(second).toEqual({ at: null, flag: 0, body: null });
  });

  it("get answers undefined for no row; all answers [] and keeps ORDER BY", async () => {
    expect(await db.get("SELECT id FROM items WHERE id = ?", ["absent"])).toBeUndefined();
    expect(await db.all("SELECT id FROM items WHERE id = ?", ["absent"])).toEqual([]);
    const rows = await db.all<{ id: string }>("SELECT id FROM items WHERE id IN (?, ?) ORDER BY n DESC", ["p1", "p2"]);
    expect(rows.map((r) => r.id)).toEqual(["p2", "p1"]);
  });

  it("run reports the number of changed rows", async () => {
    expect((await db.run("UPDATE items SET body = ? WHERE id IN (?, ?)", ["x", "p1", "p2"])).changes).toBe(2);
    expect((await db.run("UPDATE items SET body = ? WHERE id = ?", ["x", "absent"])).changes).toBe(0);
  });

  it("returns BIGINT as a JavaScript number, including values past 2^31", async () => {
    const big = 4_102_444_800_000; // 2100-01-01 in epoch ms
    await db.run("INSERT INTO items (id, n, at) VALUES (?, ?, ?)", ["big", 3, big]);
    const row = await db.get<{ at: unknown }>("SELECT at FROM items WHERE id = ?", ["big"]);
    expect(typeof row?.at).toBe("number");
    expect(row?.at).toBe(big);
    const count = await db.get<{ c: unknown }>("SELECT COUNT(*) AS c FROM items");
    expect(Number(count?.c)).toBeGreaterThanOrEqual(3);
  });

  it("round-trips binary exactly, every byte value included", async () => {
    const bytes = Buffer.from(Array.from({ length: 512 }, (_, i) => i % 256));
    await db.run("INSERT INTO items (id, n, bin) VALUES (?, ?, ?)", ["bin", 4, bytes]);
    const row = await db.get<{ bin: Buffer }>("SELECT bin FROM items WHERE id = ?", ["bin"]);
    expect(Buffer.isBuffer(row?.bin)).toBe(true);
    expect(Buffer.compare(row!.bin, bytes)).toBe(0);
  });

  it("commits a transaction's writes together and returns its result", async () => {
    const result = await db.transaction(async (tx) => {
      await tx.run("INSERT INTO items (id, n) VALUES (?, ?)", ["t1", 10]);
      await tx.run("INSERT INTO items (id, n) VALUES (?, ?)", ["t2", 11]);
      return (await tx.get<{ c: number }>("SELECT COUNT(*) AS c FROM items WHERE id IN (?, ?)", ["t1", "t2"]))?.c;
    });
    expect(Number(result)).toBe(2);
    expect(await db.all("SELECT id FROM items WHERE id IN (?, ?)", ["t1", "t2"])).toHaveLength(2);
  });

  it("rolls back everything when the work throws, and passes a domain error through unchanged", async () => {
    const thrown = new DomainError("policy says no");
    const caught = await db
      .transaction(async (tx) => {
        await tx.run("INSERT INTO items (id, n) VALUES (?, ?)", ["r1", 20]);
        await tx.run("UPDATE counter SET n = n + 100 WHERE id = 'c'");
        throw thrown;
      })
      .catch((error: unknown) => error);
    expect(caught).toBe(thrown);
    expect(await db.get("SELECT id FROM items WHERE id = ?", ["r1"])).toBeUndefined();
    expect((await db.get<{ n: number }>("SELECT n FROM counter WHERE id = 'c'"))?.n).toBe(0);
  });

  it("classifies a duplicate key as unique_violation, inside and outside transactions, and rolls back", async () => {
    const outside = await db.run("INSERT INTO items (id, n) VALUES (?, ?)", ["p1", 99]).catch((e: unknown) => e);
    expect(outside).toBeInstanceOf(StorageError);
    expect((outside as StorageError).kind).toBe("unique_violation");
    await db.run("INSERT INTO items (id, n) VALUES (?, ?)", ["u1", 1000]);
    const inside = await db
      .transaction(async (tx) => {
        await tx.run("INSERT INTO items (id, n) VALUES (?, ?)", ["u2", 2000]);
        await tx.run("INSERT INTO items (id, n) VALUES (?, ?)", ["u3", 1000]);
      })
      .catch((e: unknown) => e);
    expect((inside as StorageError).kind).toBe("unique_violation");
    expect(await db.get("SELECT id FROM items WHERE id = ?", ["u2"])).toBeUndefined();
    // The error message never quotes the offending values.
    expect((inside as Error).message).not.toContain("1000");
  });

  it("classifies a syntax error as other, never as unavailable", async () => {
    const error = await db.all("SELEC nonsense").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageError);
    expect((error as StorageError).kind).toBe("other");
  });

  it("serialises 20 concurrent read-modify-write transactions that wait between read and write, without losing one", async () => {
    const lock = db.dialect === "postgres" ? " FOR UPDATE" : "";
    // Unguarded on SQLite, as in production: the guards refuse a wait inside its transactions (contract.guards.test.ts).
    const rmw = db.dialect === "sqlite" ? openDatabase(scratch.url, { poolSize: 5 }) : db;
    try {
      await Promise.all(
        Array.from({ length: 20 }, () =>
          rmw.transaction(async (tx) => {
            const row = await tx.get<{ n: number }>(`SELECT n FROM counter WHERE id = 'c'${lock}`);
            await new Promise((resolve) => setImmediate(resolve));
            await tx.run("UPDATE counter SET n = ? WHERE id = 'c'", [Number(row!.n) + 1]);
          }),
        ),
      );
    } finally {
      if (rmw !== db) await rmw.close();
    }
    expect((await db.get<{ n: number }>("SELECT n FROM counter WHERE id = 'c'"))?.n).toBe(20);
  });

  it("keeps concurrent transactions atomic each: a failing one among many rolls back alone", async () => {
    const before = Number((await db.get<{ n: number }>("SELECT n FROM counter WHERE id = 'c'"))?.n);
    const outcomes = await Promise.allSettled(
      Array.from({ length: 12 }, (_, i) =>
        db.transaction(async (tx) => {
          await tx.run("INSERT INTO items (id, n) VALUES (?, ?)", [`g${i}`, i]);
          await tx.run("UPDATE counter SET n = n + 1 WHERE id = 'c'");
          if (i % 4 === 1) throw new DomainError(`refuse ${i}`);
          if (i % 4 === 3) await tx.run("INSERT INTO items (id, n) VALUES (?, ?)", [`g${i}`, i]);
          return i;
        }),
      ),
    );
    const failed = outcomes.flatMap((o, i) => (o.status === "rejected" ? [i] : []));
    expect(failed).toEqual([1, 3, 5, 7, 9, 11]);
    expect(outcomes.filter((o) => o.status === "rejected").every((o) => o.reason instanceof DomainError || (o.reason as StorageError).kind === "unique_violation")).toBe(true);
    const kept = await db.all<{ id: string }>("SELECT id FROM items WHERE id LIKE 'g%' ORDER BY n");
    expect(kept.map((row) => row.id)).toEqual(["g0", "g2", "g4", "g6", "g8", "g10"]);
    expect((await db.get<{ n: number }>("SELECT n FROM counter WHERE id = 'c'"))?.n).toBe(before + 6);
  });

  it("keeps a transaction's uncommitted writes invisible to readers outside it", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    const pending = db.transaction(async (tx) => {
      await tx.run("INSERT INTO items (id, n) VALUES (?, ?)", ["iso", 30]);
      entered();
      await gate;
    });
    await inside;
    expect(await db.get("SELECT id FROM items WHERE id = ?", ["iso"])).toBeUndefined();
    release();
    await pending;
    expect(await db.get("SELECT id FROM items WHERE id = ?", ["iso"])).toBeDefined();
  });

  onlyOn(backend, "sqlite")("sqlite only: the WAL is checkpointed into the database file by the background worker, not by commits", async () => {
    const fresh = await scratchDatabase(backend);
    const file = fresh.url.slice("sqlite:".length);
    const node = openDatabase(fresh.url);
    try {
      await node.migrate(MIGRATIONS);
      const before = statSync(file).size;
      const body = "x".repeat(2000);
      // ~2,000 pages: past SQLite's own threshold (1,000), which the writer no longer acts on.
      for (let batch = 0; batch < 40; batch++) {
        await node.transaction(async (tx) => {
          for (let i = 0; i < 100; i++) await tx.run("INSERT INTO items (id, n, body) VALUES (?, ?, ?)", [`w${batch}-${i}`, batch * 100 + i, body]);
        });
      }
      const deadline = Date.now() + 5000;
      while (statSync(file).size <= before + 4 * 1024 * 1024 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(statSync(file).size).toBeGreaterThan(before + 4 * 1024 * 1024);
      expect(Number((await node.get<{ c: number }>("SELECT COUNT(*) AS c FROM items"))?.c)).toBe(4000);
    } finally {
      await node.close();
      await fresh.drop();
    }
  });

  onlyOn(backend, "sqlite")("sqlite only: a group commit's savepoints journal in memory, never in a temporary file", async () => {
    // SQLite keeps each savepoint's original pages in a sub-journal, a file under /var/tmp unless
    // temp_store is MEMORY: a write syscall per page per grouped write (issue 14), page images on disk.
    const tempFiles = () => readdirSync("/proc/self/fd").filter((fd) => {
      try {
        return /etilqs_/.test(readlinkSync(`/proc/self/fd/${fd}`));
      } catch {
        return false;
      }
    }).length;
    await db.migrate(MIGRATIONS);
    // Rows on ~40 pages, committed: the grouped writes below change existing pages (new pages at
    // the end of the file are never journaled), more of them than SQLite keeps in memory by default.
    await db.transaction(async (tx) => {
      for (let i = 0; i < 40; i++) await tx.run("INSERT INTO items (id, n, body) VALUES (?, ?, ?)", [`sj${i}`, 600 + i, "x".repeat(3000)]);
    });
    let seenInside = -1;
    await Promise.all(
      Array.from({ length: 3 }, (_, round) =>
        db.transaction(async (tx) => {
          await tx.run("UPDATE items SET body = ? WHERE id LIKE 'sj%'", [String(round).repeat(3000)]);
          seenInside = Math.max(seenInside, tempFiles());
          expect((await tx.get<{ temp_store: number }>("PRAGMA temp_store"))?.temp_store).toBe(2);
        }),
      ),
    );
    expect(seenInside).toBe(0);
    // Outside write transactions (reads go to the writer while it is idle) a large sort or GROUP BY
    // still spills to a file rather than holding every row in memory.
    expect((await db.get<{ temp_store: number }>("PRAGMA temp_store"))?.temp_store).toBe(0);
    // The last of the group won, and every row has its body: the journal still rolls back and commits.
    expect((await db.all<{ body: string }>("SELECT DISTINCT body FROM items WHERE id LIKE 'sj%'")).map((row) => row.body)).toEqual(["2".repeat(3000)]);
  });

  // SQLite is one node by design (multi-node means PostgreSQL); its busy wait would also block this
  // single test process, so the case is PostgreSQL's.
  onlyOn(backend, "postgres")("postgres only: applies each migration once when three nodes migrate the same empty database at once", async () => {
    const fresh = await scratchDatabase(backend);
    const nodes = [openDatabase(fresh.url), openDatabase(fresh.url), openDatabase(fresh.url)];
    try {
      const applied = await Promise.all(nodes.map((node) => node.migrate(MIGRATIONS)));
      expect(applied.flat().sort()).toEqual(["9001_contract_items", "9002_contract_counter"]);
      expect((await nodes[0].get<{ n: number }>("SELECT n FROM counter WHERE id = 'c'"))?.n).toBe(0);
      expect(Number((await nodes[1].get<{ c: number }>("SELECT COUNT(*) AS c FROM counter"))?.c)).toBe(1);
    } finally {
      for (const node of nodes) await node.close();
      await fresh.drop();
    }
  });

  onlyOn(backend, "postgres")("postgres only: runAtCommit inlines any value exactly (quotes, backslashes, ?, --, $$, unicode, negatives) or declines it", async () => {
    const fail = (error: unknown) => new DomainError(String(error));
    const nasty = ["'", "''", "\\'", "\\", "E'x", "$$", "$1", "?", "??", "-- x", "/* x", "';DROP TABLE items;--", "a\nb\r\tc", "日本語 😀", "\u2028"];
    const samples = [...nasty, ...fc.sample(fc.string({ unit: "binary", maxLength: 40 }).filter((text) => !text.includes("\0")), 150)];
    let n = 50_000;
    for (const body of samples) {
      const id = `atc-${n}`;
      const at = -(n++);
      await db.transaction(async (tx) => {
        expect(tx.runAtCommit?.("INSERT INTO items (id, n, at, body) VALUES (?, ?, ?-?, ?)", [id, n, at, at, body], fail)).toBe(true);
      });
      const row = await db.get<{ body: string; at: number | string }>("SELECT body, at FROM items WHERE id = ?", [id]);
      expect(row?.body).toBe(body);
      expect(Number(row?.at)).toBe(0);
    }
    // A NUL or a binary value over the inline limit is not inlined: the caller runs the statement itself.
    await db.transaction(async (tx) => {
      expect(tx.runAtCommit?.("INSERT INTO items (id, n, body) VALUES (?, ?, ?)", ["atc-nul", 1, "a\0b"], fail)).toBe(false);
      expect(tx.runAtCommit?.("INSERT INTO items (id, n, bin) VALUES (?, ?, ?)", ["atc-bin", 1, Buffer.alloc(INLINE_BINARY_MAX_BYTES + 1)], fail)).toBe(false);
    });
    // Binary within the limit goes inline as hex, every byte value exact.
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    await db.transaction(async (tx) => {
      expect(tx.runAtCommit?.("INSERT INTO items (id, n, bin) VALUES (?, ?, ?)", ["atc-bytes", 1, bytes], fail)).toBe(true);
    });
    expect(Buffer.compare((await db.get<{ bin: Buffer }>("SELECT bin FROM items WHERE id = ?", ["atc-bytes"]))!.bin, bytes)).toBe(0);
    // A failure of the statement sent with the COMMIT rolls the whole transaction back, through `failure`.
    await expect(
      db.transaction(async (tx) => {
        await tx.run("INSERT INTO items (id, n) VALUES (?, ?)", ["atc-rolled-back", 2]);
        tx.runAtCommit?.("INSERT INTO items (id, n) VALUES (?, ?)", ["atc-50000", 3], fail);
      }),
    ).rejects.toBeInstanceOf(DomainError);
    expect(await db.get("SELECT id FROM items WHERE id = ?", ["atc-rolled-back"])).toBeUndefined();
  });

  it("deferWrite: the deferred writes commit with the transaction, or roll back with it", async () => {
    const fail = (error: unknown) => new DomainError(String(error));
    await db.transaction(async (tx) => {
      // SQLite declines (no message to ride on): the caller runs the statement itself.
      if (!tx.deferWrite?.("INSERT INTO items (id, n, body) VALUES (?, ?, ?)", ["dtc-1", 1, "it's"])) await tx.run("INSERT INTO items (id, n, body) VALUES (?, ?, ?)", ["dtc-1", 1, "it's"]);
      await tx.run("INSERT INTO items (id, n) VALUES (?, ?)", ["dtc-2", 2]);
      if (!tx.runAtCommit?.("INSERT INTO items (id, n) VALUES (?, ?)", ["dtc-3", 3], fail)) await tx.run("INSERT INTO items (id, n) VALUES (?, ?)", ["dtc-3", 3]);
      // After runAtCommit nothing more may be deferred: the caller runs it itself (not at all here).
      expect(tx.deferWrite?.("INSERT INTO items (id, n) VALUES (?, ?)", ["dtc-4", 4]) ?? false).toBe(false);
    });
    const rows = await db.all<{ id: string; body: string | null }>("SELECT id, body FROM items WHERE id LIKE 'dtc-%' ORDER BY id");
    expect(rows.map((r) => r.id)).toEqual(["dtc-1", "dtc-2", "dtc-3"]);
    expect(rows[0].body).toBe("it's");
    expect(await db.transaction(async (tx) => tx.deferWrite?.("INSERT INTO items (id, n, bin) VALUES (?, ?, ?)", ["dtc-bin", 5, Buffer.alloc(INLINE_BINARY_MAX_BYTES + 1)]) ?? false)).toBe(false);
    // A deferred write that fails at the COMMIT fails the transaction: nothing of it is stored.
    const deferred = db.transaction(async (tx) => {
      await tx.run("INSERT INTO items (id, n) VALUES (?, ?)", ["dtc-rolled-back", 6]);
      if (!tx.deferWrite?.("INSERT INTO items (id, n) VALUES (?, ?)", ["dtc-1", 7])) await tx.run("INSERT INTO items (id, n) VALUES (?, ?)", ["dtc-1", 7]);
    });
    await expect(deferred).rejects.toBeInstanceOf(StorageError);
    await expect(deferred).rejects.toMatchObject({ kind: "unique_violation" });
    expect(await db.get("SELECT id FROM items WHERE id = ?", ["dtc-rolled-back"])).toBeUndefined();
  });

  it("closes idempotently", async () => {
    const extra = openDatabase(scratch.url);
    await extra.ping();
    await extra.close();
    await extra.close();
  });

  onlyOn(backend, "postgres")("postgres only: ping and classification of a lost server as unavailable", async () => {
    const dead = openDatabase("postgresql://postgres@127.0.0.1:1/none");
    const error = await dead.ping().catch((e: unknown) => e);
    expect((error as StorageError).kind).toBe("unavailable");
    await dead.close();
    await db.ping();
  });
});
