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

/** Far beyond a hash at 14 rounds (~1.1 s): a worker this late is stuck, and is replaced. */
const HASH_DEADLINE_MS = 30_000;

/**
 * bcrypt hashes on a worker thread. bcryptjs is JavaScript: on the event loop a hash at 14 rounds
 * is 1.1 s of CPU in 100 ms slices, each a 100 ms stall for every request of the node. The worker
 * is started on first use, does not keep the process alive when idle, and is started again if it dies.
 */
export class BcryptWorker {
  private worker: Worker | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;

  hash(password: string, salt: string): Promise<string> {
    const worker = this.worker ?? this.start();
    const id = this.nextId++;
    return new Promise<string>((resolve, reject) => {
      const deadline = setTimeout(() => void this.restart(worker), HASH_DEADLINE_MS);
      deadline.unref();
      const settled = <T>(then: (value: T) => void) => (value: T) => {
        clearTimeout(deadline);
        then(value);
      };
      this.pending.set(id, { resolve: settled(resolve), reject: settled(reject) });
      worker.ref();
      worker.postMessage({ id, password, salt });
    });
  }

  async close(): Promise<void> {
    if (this.worker) await this.restart(this.worker);
  }

  /** Stops `worker`: what it still owed is refused (its exit does that); the next hash starts another. */
  private async restart(worker: Worker): Promise<void> {
    if (this.worker === worker) this.worker = null;
    await worker.terminate();
  }

  private start(): Worker {
    const worker = new Worker(PROGRAM, { eval: true, workerData: { bcrypt: createRequire(import.meta.url).resolve("bcryptjs") } });
    worker.unref();
    worker.on("message", ({ id, hash }: { id: number; hash: string | null }) => {
      const request = this.pending.get(id);
      this.pending.delete(id);
      if (this.pending.size === 0) worker.unref();
      if (hash === null) request?.reject(new Error("bcrypt failed"));
      else request?.resolve(hash);
    });
    const fail = (error: Error) => {
      if (this.worker === worker) this.worker = null;
      for (const request of this.pending.values()) request.reject(error);
      this.pending.clear();
    };
    worker.on("error", fail);
    worker.on("exit", () => fail(new Error("the bcrypt worker stopped")));
    this.worker = worker;
    return worker;
  }
}
