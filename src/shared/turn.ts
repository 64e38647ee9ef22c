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
  return restFor(performance.now() - startedAt);
}

/** Waits `ms` (at least a turn of the loop). */
function restFor(ms: number): Promise<void> {
  return new Promise((resolve) => (ms >= 1 ? setTimeout(resolve, ms) : setImmediate(resolve)));
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
 * Slices of the event loop shared by every long walk a request starts (audit verifications and
 * exports): a walk runs at most `sliceMs` (and a page), then the loop rests as long, and each
 * other walk takes its slice before this one's next. Slicing each walk on its own still let N
 * walks take N slices of every turn: eight verifications of a 60,000-entry trail at once left
 * other readers of a SQLite node 15 reads a second of their 1,792 (docs/benchmarks.md round 32).
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
   * loop has rested after the last one as long as it ran (and its statements' answers took):
   * together the walks take about half of a busy node's loop at most, and a walk alone takes about
   * twice its work.
   */
  private take(): Promise<(busyMs: number) => void> {
    const previous = this.tail;
    let rested!: () => void;
    this.tail = new Promise<void>((resolve) => (rested = resolve));
    return previous.then(() => (busyMs: number) => void restFor(busyMs).then(rested));
  }
}

export class SliceWalk {
  private release: ((busyMs: number) => void) | null = null;
  private items = 0;
  private since = 0;
  /** Answer time of the walk's statements since its last release, added to its next rest. */
  private owed = 0;

  constructor(private readonly sliceMs: number, private readonly take: () => Promise<(busyMs: number) => void>) {}

  /** Asked per item (the clock is read every 32): true once this slice has run its time. */
  due(): boolean {
    return (++this.items & 31) === 0 && performance.now() - this.since >= this.sliceMs;
  }

  /**
   * A statement of the walk. What it does on the loop (SQLite answers there, in the call) is this
   * slice's work; while the answer comes over the network (PostgreSQL) the slice is given up, so
   * the other walks are not kept waiting for it; the walk goes on in its next slice. The time the
   * answer took is owed: the loop rests that much longer after the walk's next slice. It is the
   * database's work for the walk and, on PostgreSQL, the node's parsing of the rows, which happens
   * outside any slice; uncounted, four exports at once left the node's readers 20–25 % of their
   * reads instead of the half the share promises (docs/benchmarks.md round 33).
   */
  async read<T>(statement: () => Promise<T>): Promise<T> {
    const pending = statement();
    this.end();
    const sent = performance.now();
    try {
      return await pending;
    } finally {
      this.owed += performance.now() - sent;
      await this.resume();
    }
  }

  /** Gives up the slice and waits for this walk's next one. */
  async pause(): Promise<void> {
    this.end();
    await this.resume();
  }

  end(): void {
    if (!this.release) return;
    this.release(performance.now() - this.since + this.owed);
    this.owed = 0;
    this.release = null;
  }

  private async resume(): Promise<void> {
    this.release = await this.take();
    this.since = performance.now();
  }
}
