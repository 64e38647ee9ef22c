import { createRequire } from "node:module";
import { once } from "node:events";
import { statSync } from "node:fs";
import { Worker } from "node:worker_threads";

/** WAL frames (4 KiB pages: 64 MiB) past which the next write waits for the WAL to start over. */
export const WAL_LIMIT_FRAMES = 16_384;
/** Longer than any restart of a WAL at the limit should take; past it, writes go on regardless. */
const RESTART_WAIT_MS = 30_000;
/** After a restart that could not finish (a long read in the way), writes are not held back again for this long. */
const RETRY_RESTART_MS = 5_000;

/**
 * Runs in the worker thread: its own connection, a passive checkpoint every `intervalMs`. A passive
 * checkpoint never waits for readers or writers, so the vault's connections are never blocked. When
 * one finds the WAL at `limitFrames` or more it says so; asked to, it copies the remaining frames
 * back and restarts the WAL, which the vault holds its writes back for.
 * Plain JavaScript (eval) so that it runs the same from the built code and from the test sources.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.driver);
const db = new Database(workerData.file);
// A restart waits this long for a reader to finish; the vault's reads take microseconds.
db.pragma("busy_timeout = 2000");
let failed = false;
const checkpoint = () => {
  try {
    const [{ log }] = db.pragma("wal_checkpoint(PASSIVE)");
    if (log >= workerData.limitFrames) parentPort.postMessage({ oversized: true });
  } catch (error) {
    if (!failed) parentPort.postMessage({ failed: String((error && error.code) || "error") });
    failed = true;
  }
};
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.on("message", (message) => {
  if (message === "restart") {
    let busy = 1;
    try {
      busy = db.pragma("wal_checkpoint(RESTART)")[0].busy;
    } catch {
      // Reported as not done: the vault's writes go on, and a later passive checkpoint reports again.
    }
    parentPort.postMessage({ restarted: busy === 0 });
    return;
  }
  if (message !== "close") return;
  clearInterval(timer);
  checkpoint();
  db.close();
  parentPort.close();
});
`;

/**
 * WAL checkpoints off the event loop. SQLite's automatic checkpoint runs inside the COMMIT that
 * crosses the threshold, on the thread that commits, and writes pages back and fsyncs the database
 * file there: every thousand pages one request stalled every request in flight. The writer's
 * automatic checkpoint is turned off while this worker runs, and back on if it fails.
 */
export class SqliteCheckpointer {
  private readonly worker: Worker;
  private closed = false;
  private restarting: Promise<void> | null = null;
  /** Settles the pending restart: the worker's answer, its exit, or the wait running out. */
  private answer: ((restarted: boolean) => void) | null = null;
  private nextRestartAt = 0;
  /**
   * The WAL has grown past the limit. Under a steady stream of commits a passive checkpoint never
   * catches up with the last one, so SQLite never starts the WAL over: it grew by every page every
   * commit wrote (~50 MB/s under PUT load, issue 14) and kept that size on disk afterwards.
   */
  private oversized = false;
  private readonly wal: string;
  private readonly fileLimitBytes: number;

  /**
   * `fileLimitBytes`: a WAL file this large is oversized whatever the worker has said (a busy
   * worker reports late); it must be above the size SQLite cuts the file back to at a restart
   * (`journal_size_limit`), or every write would wait for a restart. Both limits come from the
   * one place that also sets `journal_size_limit` (SqliteDatabase).
   */
  constructor(file: string, onFailure: (reason: string) => void, options: { intervalMs?: number; limitFrames: number; fileLimitBytes: number }) {
    const driver = createRequire(import.meta.url).resolve("better-sqlite3");
    this.wal = `${file}-wal`;
    this.fileLimitBytes = options.fileLimitBytes;
    const workerData = { file, driver, intervalMs: options.intervalMs ?? 100, limitFrames: options.limitFrames };
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData });
    this.worker.unref();
    this.worker.on("message", (message: { failed?: string; oversized?: boolean; restarted?: boolean }) => {
      if (message.failed) onFailure(message.failed);
      if (message.oversized) this.oversized = true;
      if (message.restarted !== undefined) this.answer?.(message.restarted);
    });
    this.worker.on("error", (error) => {
      if (!this.closed) onFailure((error as { code?: string }).code ?? "worker error");
    });
    this.worker.once("exit", () => {
      this.closed = true;
      this.answer?.(false);
    });
  }

  /** Whether the next write should wait for `restart()` first. */
  walOversized(): boolean {
    if (this.closed || Date.now() < this.nextRestartAt) return false;
    return this.oversized || (statSync(this.wal, { throwIfNoEntry: false })?.size ?? 0) >= this.fileLimitBytes;
  }

  /**
   * Copies the frames the last passive checkpoint left back and starts the WAL over (the next
   * commit writes from its beginning). The caller holds back its writes until this settles: the
   * restart needs a moment with no writer. Reads go on meanwhile. A few milliseconds, where a
   * truncating checkpoint spent ~20 ms more freeing the file's blocks.
   */
  restart(): Promise<void> {
    this.restarting ??= new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.answer?.(false), RESTART_WAIT_MS);
      timer.unref();
      this.answer = (restarted) => {
        if (!restarted) this.nextRestartAt = Date.now() + RETRY_RESTART_MS;
        this.oversized = false;
        clearTimeout(timer);
        this.answer = null;
        this.restarting = null;
        resolve();
      };
      this.worker.postMessage("restart");
    });
    return this.restarting;
  }

  /** One last checkpoint, then the worker's connection closes. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const exited = once(this.worker, "exit");
    this.worker.postMessage("close");
    const timeout = new Promise((resolve) => setTimeout(resolve, 5000).unref());
    await Promise.race([exited, timeout]);
    await this.worker.terminate();
  }
}
