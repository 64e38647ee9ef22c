import { webcrypto } from "node:crypto";
import { stat } from "node:fs";
import { afterAll, beforeAll, expect } from "vitest";
import { describeEachBackend, onlyOn, scratchDatabase, type ScratchDatabase } from "../testing/backends.js";
import type { Database, Queryable } from "./contract.js";
import { openDatabase } from "./open.js";

/**
 * The SQLite adapter's development assertions (SCAIVAULT_STORAGE_GUARDS, src/storage/sqlite-guards.ts):
 * a transaction's code that uses the database handle instead of its transaction, or that waits on
 * anything but storage, fails. PostgreSQL has neither (its transactions hold a connection of their own).
 */
describeEachBackend("storage contract: transaction guards", (backend) => {
  let scratch: ScratchDatabase;
  let db: Database;

  beforeAll(async () => {
    scratch = await scratchDatabase(backend);
    db = openDatabase(scratch.url, { poolSize: 3, guardTransactions: true });
    await db.migrate([
      { id: "9201_guard_items", up: () => ["CREATE TABLE items (id TEXT PRIMARY KEY, n INTEGER NOT NULL)"] },
      { id: "9202_guard_counter", up: () => ["CREATE TABLE counter (id TEXT PRIMARY KEY, n INTEGER NOT NULL)", "INSERT INTO counter (id, n) VALUES ('c', 0)"] },
    ]);
  });
  afterAll(async () => {
    await db?.close();
    await scratch?.drop();
  });

  onlyOn(backend, "sqlite")("sqlite only: under the guards, a transaction that waits on anything but storage fails and rolls back, alone in its group", async () => {
    const count = async () => Number((await db.get<{ n: number }>("SELECT n FROM counter WHERE id = 'c'"))?.n);
    const before = await count();
    const bump = (wait: ((tx: Queryable) => Promise<unknown>) | null) =>
      db.transaction(async (tx) => {
        await tx.run("UPDATE counter SET n = n + 1 WHERE id = 'c'");
        if (wait) await wait(tx);
        await tx.run("UPDATE counter SET n = n + 1 WHERE id = 'c'");
      });
    const settled = (outcomes: PromiseSettledResult<unknown>[]) => outcomes.map((outcome) => outcome.status);
    const refusals = (outcomes: PromiseSettledResult<unknown>[]) => outcomes.flatMap((outcome) => (outcome.status === "rejected" ? [String(outcome.reason)] : []));
    // Grouped: the one that waits a turn fails alone; waiting on storage and settled promises is no wait.
    const grouped = await Promise.allSettled([
      bump(null),
      bump(() => new Promise((resolve) => setImmediate(resolve))),
      bump(async (tx) => {
        await tx.get("SELECT n FROM counter WHERE id = 'c'");
        await Promise.resolve();
      }),
    ]);
    expect(settled(grouped)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    // A thread-pool wait (a WebCrypto digest), begun where requests begin theirs: in an I/O callback.
    // (Begun in the timers or check phase, such a wait may end before the guard's check: see sqlite-guards.ts.)
    const fromIoCallback = await new Promise<PromiseSettledResult<unknown>[]>((resolve) => {
      stat(".", () => void Promise.allSettled([bump(() => webcrypto.subtle.digest("SHA-256", new Uint8Array(32)))]).then(resolve));
    });
    expect(settled(fromIoCallback)).toEqual(["rejected"]);
    for (const reason of [...refusals(grouped), ...refusals(fromIoCallback)]) expect(reason).toMatch(/waited on something other than storage/);
    expect(await count()).toBe(before + 4);
  });

  onlyOn(backend, "sqlite")("sqlite only: writing through db inside a transaction throws at once instead of deadlocking", async () => {
    const error = await db
      .transaction(async () => {
        await db.run("INSERT INTO items (id, n) VALUES (?, ?)", ["dl", 40]);
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/pass tx down/);
    expect(await db.get("SELECT id FROM items WHERE id = ?", ["dl"])).toBeUndefined();
    // The writer is free again afterwards.
    await db.transaction((tx) => tx.run("INSERT INTO items (id, n) VALUES (?, ?)", ["dl2", 41]));
  });

  onlyOn(backend, "sqlite")("sqlite only: reading through db inside a transaction throws too (it would miss the transaction's writes)", async () => {
    const error = await db.transaction(async () => db.get("SELECT id FROM items WHERE id = ?", ["p1"])).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/pass tx down/);
  });
});
