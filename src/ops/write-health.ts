import { statfs } from "node:fs/promises";
import { dirname } from "node:path";
import { StorageError, type Database } from "../storage/contract.js";

/** Below this much free space on the SQLite file's filesystem the node reports itself not ready. */
const MIN_FREE_BYTES = 1024 * 1024;
/** A real write that failed for want of storage keeps the node not ready this long. */
const FAILURE_WINDOW_MS = 10_000;

/**
 * Whether this node can write, for readiness. A plain `SELECT 1` says yes on a full disk or a
 * read-only database, where every request then fails; so readiness also (1) writes a probe row,
 * (2) on SQLite checks the free space of the database's filesystem — a tiny probe can still fit
 * into WAL pages being reused when real writes no longer do — and (3) remembers a real write that
 * failed for want of storage for a short window (without letting it stick: a node taken out of
 * service gets no writes that could clear it).
 */
export class WriteHealth {
  private failedAt: number | null = null;

  constructor(private readonly db: Database, private readonly sqliteFile: string | null) {}

  /** Called by the instrumented database on every write's outcome. */
  noteWrite(error: unknown): void {
    if (error === null) this.failedAt = null;
    else if (error instanceof StorageError && error.kind === "unavailable") this.failedAt = Date.now();
  }

  /** Throws with a short reason when the node cannot write. */
  async check(): Promise<void> {
    if (this.failedAt !== null && Date.now() - this.failedAt < FAILURE_WINDOW_MS) throw new Error("writes are failing");
    if (this.sqliteFile) {
      const stats = await statfs(dirname(this.sqliteFile));
      if (stats.bavail * stats.bsize < MIN_FREE_BYTES) throw new Error("disk full");
    }
    try {
      await this.db.run("UPDATE resilience_probe SET at = ? WHERE id = 1", [Date.now()]);
    } catch {
      throw new Error("not writable");
    }
  }
}

export function sqliteFileOf(databaseUrl: string): string | null {
  if (!databaseUrl.startsWith("sqlite:")) return null;
  const file = databaseUrl.slice("sqlite:".length);
  return file === ":memory:" ? null : file;
}
