import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";

/**
 * The worker's program, run as a script (CommonJS) so that it needs no built file: the tests run
 * the TypeScript sources. It hashes one request at a time; the password never leaves the process.
 */
const PROGRAM = `
const { parentPort, workerData } = require("node:worker_threads");
const bcrypt = require(workerData.bcrypt);
parentPort.on("message", ({ id, password, salt }) => {
  try {
    parentPort.postMessage({ id, hash: bcrypt.hashSync(password, salt) });
  } catch {
    parentPort.postMessage({ id, hash: null });
  }
});`;

interface Pending {
  resolve: (hash: string) => void;
  reject: (error: Error) => void;
}

/** One worker thread and what it owes: a worker's failure refuses only its own hashes. */
interface Thread {
  worker: Worker;
  pending: Map<number, Pending>;
}

/** Far beyond a hash at 14 rounds (~1.1 s): a worker this late is stuck, and is replaced. */
const HASH_DEADLINE_MS = 30_000;

/**
 * bcrypt hashes on worker threads. bcryptjs is JavaScript: on the event loop a hash at 14 rounds
 * is 1.1 s of CPU in 100 ms slices, each a 100 ms stall for every request of the node. Up to
 * `threads` workers (the generation gate's concurrency, so every turn it gives can hash at once);
 * each is started on first use, does not keep the process alive when idle, and is started again
 * if it dies. A hash goes to the thread that owes the fewest.
 */
export class BcryptWorker {
  private readonly threads: (Thread | null)[];
  private nextId = 0;

  /** `deadlineMs`: how long a hash may take before its thread is taken for stuck and replaced. */
  constructor(threads = 1, private readonly deadlineMs = HASH_DEADLINE_MS) {
    this.threads = Array.from({ length: Math.max(1, threads) }, () => null);
  }

  /** Worker threads running now. */
  get threadsStarted(): number {
    return this.threads.filter((thread) => thread !== null).length;
  }

  hash(password: string, salt: string): Promise<string> {
    const thread = this.leastBusy();
    const id = this.nextId++;
    return new Promise<string>((resolve, reject) => {
      const deadline = setTimeout(() => void this.stop(thread), this.deadlineMs);
      deadline.unref();
      const settled = <T>(then: (value: T) => void) => (value: T) => {
        clearTimeout(deadline);
        then(value);
      };
      thread.pending.set(id, { resolve: settled(resolve), reject: settled(reject) });
      thread.worker.ref();
      thread.worker.postMessage({ id, password, salt });
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.threads.map((thread) => (thread ? this.stop(thread) : undefined)));
  }

  /** An idle started thread, else a thread not started yet, else the started one that owes the fewest. */
  private leastBusy(): Thread {
    let best: Thread | null = null;
    for (const thread of this.threads) {
      if (thread && (!best || thread.pending.size < best.pending.size)) best = thread;
    }
    if (best && best.pending.size === 0) return best;
    const free = this.threads.indexOf(null);
    return free >= 0 ? this.start(free) : best!;
  }

  /** Stops a thread: what it still owed is refused (its exit does that); its slot starts another when needed. */
  private async stop(thread: Thread): Promise<void> {
    const slot = this.threads.indexOf(thread);
    if (slot >= 0) this.threads[slot] = null;
    await thread.worker.terminate();
  }

  private start(slot: number): Thread {
    const worker = new Worker(PROGRAM, { eval: true, workerData: { bcrypt: createRequire(import.meta.url).resolve("bcryptjs") } });
    const thread: Thread = { worker, pending: new Map() };
    worker.unref();
    worker.on("message", ({ id, hash }: { id: number; hash: string | null }) => {
      const request = thread.pending.get(id);
      thread.pending.delete(id);
      if (thread.pending.size === 0) worker.unref();
      if (hash === null) request?.reject(new Error("bcrypt failed"));
      else request?.resolve(hash);
    });
    const fail = (error: Error) => {
      const at = this.threads.indexOf(thread);
      if (at >= 0) this.threads[at] = null;
      for (const request of thread.pending.values()) request.reject(error);
      thread.pending.clear();
    };
    worker.on("error", fail);
    worker.on("exit", () => fail(new Error("the bcrypt worker stopped")));
    this.threads[slot] = thread;
    return thread;
  }
}
