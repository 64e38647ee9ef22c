import type { SqlParam } from "./contract.js";

/** The key a shared read is known by: its statement and parameters. */
export function sharedReadKey(sql: string, params: readonly SqlParam[] = []): string {
  return params.length === 0 ? sql : `${sql}\u0000${params.map(String).join("\u0000")}`;
}
/**
 * One query per turn of the event loop for a read that every request makes (PostgreSQL's
 * `getShared`). The query is sent from `setImmediate`, after every request that joined it in this
 * turn has arrived, so each of them still sees every change committed before it arrived.
 */
export class TurnCoalescer<A, V> {
  private readonly waiting = new Map<string, Promise<V>>();

  constructor(private readonly load: (args: A) => Promise<V>) {}

  /** `args` of the first caller with `key` in this turn are the ones queried. */
  get(key: string, args: A): Promise<V> {
    let shared = this.waiting.get(key);
    if (!shared) {
      shared = new Promise<V>((resolve, reject) => {
        setImmediate(() => {
          // Whoever arrives from here on gets a query of its own, sent after it arrived.
          this.waiting.delete(key);
          this.load(args).then(resolve, reject);
        });
      });
      this.waiting.set(key, shared);
    }
    return shared;
  }
}

/**
 * SQLite's `getShared`: reads are synchronous and local, so the turn's first caller reads at once
 * and the others reuse its answer until the turn's check phase (setImmediate) drops it. Requests
 * read these rows while being processed after the poll phase picked them up, so every request
 * that reuses the answer was already waiting when it was read. A commit by this process in
 * between drops it too (`generation`), so a request never misses a change made before it.
 */
export class TurnMemo<V> {
  private readonly memo = new Map<string, V>();
  private memoGeneration = -1;
  private clearScheduled = false;

  constructor(private readonly generation: () => number) {}

  get(key: string, load: () => V): V {
    const generation = this.generation();
    if (generation !== this.memoGeneration) {
      this.memo.clear();
      this.memoGeneration = generation;
    }
    if (this.memo.has(key)) return this.memo.get(key) as V;
    const value = load();
    this.memo.set(key, value);
    if (!this.clearScheduled) {
      this.clearScheduled = true;
      setImmediate(() => {
        this.clearScheduled = false;
        this.memo.clear();
      });
    }
    return value;
  }
}
