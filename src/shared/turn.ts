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

/**
 * Slices of the event loop shared by every long walk a request starts (audit verification): a
 * walk runs at most `sliceMs` (and a page), then the loop rests as long, and each other walk takes
 * its slice before this one's next. Slicing each walk on its own still let N walks take N slices of
 * every turn: eight verifications of a 60,000-entry trail at once left other readers of a SQLite
 * node 15 reads a second of their 1,792 (docs/benchmarks.md round 32).
 */
export class SharedSlices {
  private tail: Promise<void> = Promise.resolve();

  constructor(private readonly sliceMs = 1) {}

  /** A walk's hold on the loop, its first slice begun. End it (`end()`, in a `finally`) or every later walk waits. */
  async walk(): Promise<SliceWalk> {
    const walk = new SliceWalk(this.sliceMs, () => this.take());
    await walk.pause();
    return walk;
  }

  /**
   * Resolves, with the slice's release, once the walks queued before have had their slices and the
   * loop has rested after the last one as long as it ran (`restAfter`): together the walks take
   * about half of a busy node's loop at most, and a walk alone takes about twice its work.
   */
  private take(): Promise<() => void> {
    const previous = this.tail;
    let rested!: () => void;
    this.tail = new Promise<void>((resolve) => (rested = resolve));
    return previous.then(() => {
      const startedAt = performance.now();
      return () => void restAfter(startedAt).then(rested);
    });
  }
}

export class SliceWalk {
  private release: (() => void) | null = null;
  private items = 0;
  private since = 0;

  constructor(private readonly sliceMs: number, private readonly take: () => Promise<() => void>) {}

  /** Asked per item (the clock is read every 32): true once this slice has run its time. */
  due(): boolean {
    return (++this.items & 31) === 0 && performance.now() - this.since >= this.sliceMs;
  }

  /** Gives up the slice and waits for this walk's next one. */
  async pause(): Promise<void> {
    this.end();
    this.release = await this.take();
    this.since = performance.now();
  }

  end(): void {
    this.release?.();
    this.release = null;
  }
}
