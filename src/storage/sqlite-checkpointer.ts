import { createRequire } from "node:module";
import { once } from "node:events";
import { Worker } from "node:worker_threads";

/**
 * Runs in the worker thread: its own connection, a passive checkpoint every `intervalMs`. A passive
 * checkpoint never waits for readers or writers, so the vault's connections are never blocked.
 * Plain JavaScript (eval) so that it runs the same from the built code and from the test sources.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.driver);
const db = new Database(workerData.file);
let failed = false;
const checkpoint = () => {
  try {
    db.pragma("wal_checkpoint(PASSIVE)");
  } catch (error) {
    if (!failed) parentPort.postMessage({ failed: String((error && error.code) || "error") });
    failed = true;
  }
};
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.on("message", (message) => {
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

  constructor(file: string, onFailure: (reason: string) => void, intervalMs = 100) {
    const driver = createRequire(import.meta.url).resolve("better-sqlite3");
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file, driver, intervalMs } });
    this.worker.unref();
    this.worker.on("message", (message: { failed?: string }) => {
      if (message.failed) onFailure(message.failed);
    });
    this.worker.on("error", (error) => {
      if (!this.closed) onFailure((error as { code?: string }).code ?? "worker error");
    });
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
