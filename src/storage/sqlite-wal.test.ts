import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { SqliteDatabase } from "./sqlite.js";

/**
 * SQLite only: PostgreSQL bounds its own WAL (`max_wal_size`). Under a steady stream of group
 * commits the worker's passive checkpoints never caught up with the last commit, so SQLite never
 * started the WAL over: it grew by every page every commit wrote (~50 MB/s under PUT load, issue
 * 14) and kept that size on disk after the load ended. Past the limit the next write now waits for
 * the worker to restart the WAL.
 */
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const CLIENTS = 64;
const WRITES_PER_CLIENT = 200;
const BODY = "x".repeat(2_000);

it("keeps the WAL near its limit under sustained writes, and loses no write", async () => {
  const dir = mkdtempSync(join(tmpdir(), "scaivault-wal-"));
  dirs.push(dir);
  const file = join(dir, "vault.db");
  // 256 frames of 4 KiB: 1 MiB, where the product's limit is 64 MiB.
  const db = new SqliteDatabase(file, { checkpoints: { intervalMs: 5, limitFrames: 256 } });
  const walSize = () => statSync(`${file}-wal`, { throwIfNoEntry: false })?.size ?? 0;
  try {
    await db.run("CREATE TABLE wal_items (id INTEGER PRIMARY KEY, body TEXT NOT NULL)");
    // Sustained, as clients under load: each writes again as soon as its last write is answered
    // (one turn later, as a request would arrive), so the writer is never idle for long enough
    // for a passive checkpoint to catch up.
    const sizes: number[] = [];
    const client = async (first: number) => {
      for (let id = first; id < first + WRITES_PER_CLIENT; id += 1) {
        await db.transaction((tx) => tx.run("INSERT INTO wal_items (id, body) VALUES (?, ?)", [id, BODY]));
        sizes.push(walSize());
        await new Promise((resolve) => setImmediate(resolve));
      }
    };
    await Promise.all(Array.from({ length: CLIENTS }, (_, n) => client(n * WRITES_PER_CLIENT)));
    const written = await db.get<{ n: number; bytes: number }>("SELECT COUNT(*) AS n, SUM(LENGTH(body)) AS bytes FROM wal_items");
    expect(written).toEqual({ n: CLIENTS * WRITES_PER_CLIENT, bytes: CLIENTS * WRITES_PER_CLIENT * BODY.length });
    // 25.6 MB were written. The WAL file may reach three times its 1 MiB limit (the size that
    // counts as oversized without the worker's report) plus one group commit's pages, not the load.
    expect(Math.min(...sizes)).toBeGreaterThan(0);
    expect(Math.max(...sizes)).toBeLessThan(4 * 1024 * 1024);
  } finally {
    await db.close();
  }
});
