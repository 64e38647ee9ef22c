/**
 * Resolves on the event loop's next turn, after the I/O callbacks waiting now. A loop of
 * better-sqlite3 statements never waits otherwise (each `await` of one resolves at once), so a
 * long loop holds the node — every socket, timer and request — until it ends.
 */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Waits as long as the work since `startedAt` (a `performance.now()` reading) took, and at least a
 * turn: a background loop that rests so between its batches (retention passes) leaves requests at
 * least half of the node's loop, and of SQLite's one writer, however much it has to delete.
 * `nextTurn` alone lets in one turn's I/O per batch: a SQLite node answered 87 % fewer reads
 * during a long pass (docs/benchmarks.md round 25).
 */
export function restAfter(startedAt: number): Promise<void> {
  const tookMs = performance.now() - startedAt;
  return new Promise((resolve) => (tookMs >= 1 ? setTimeout(resolve, tookMs) : setImmediate(resolve)));
}

/**
 * A long computation on the loop, in slices: `due(items)` is asked per step of `items` items (the
 * clock is read once per 256 items) and says when `sliceMs` have run since the last `pause()`,
 * which yields a turn. Work proportional to a tenant's directory (50,000 users) held a node for
 * 0.4 s in one piece.
 */
export class LoopSlices {
  private items = 0;
  private since = performance.now();

  constructor(private readonly sliceMs = 8) {}

  due(items = 1): boolean {
    this.items += items;
    if (this.items < 256) return false;
    this.items = 0;
    return performance.now() - this.since >= this.sliceMs;
  }

  async pause(): Promise<void> {
    await nextTurn();
    this.since = performance.now();
  }
}
