/** A change counted by an access counter, and what it reached (`t:<tenant>` or `p:<partner>`). */
export interface ReachedChange {
  reach: string;
  seq: number;
}

/**
 * How far this node has caught up with one access counter. `fetch(seen)` reads the changes counted
 * after `seen` (one read shared by concurrent requests); `apply` drops what they invalidate and
 * answers the newest count applied. Applying and moving the position happen in one step, so no
 * request sees the caches changed under the old position.
 */
export class CounterCatchUp<Fetched> {
  private seen = -1;
  private reading: Promise<void> | null = null;

  constructor(
    private readonly fetch: (seen: number) => Promise<Fetched>,
    private readonly apply: (fetched: Fetched, seen: number, target: number) => number,
  ) {}

  /** The count this node has caught up to (-1 before the first). */
  get position(): number {
    return this.seen;
  }

  /** Whether `target` (a counter a request read) is newer than what this node caught up to. */
  behind(target: number): boolean {
    return target > this.seen;
  }

  /** Notes that everything counted up to `target` is applied (a cache emptied, or nothing cached yet). */
  skipTo(target: number): void {
    this.seen = Math.max(this.seen, target);
  }

  /** Reads and applies the changes counted up to `target`. */
  async catchUp(target: number): Promise<void> {
    // A read shared with a request that began it before `target` was read may miss the changes
    // counted up to it; a second one cannot: a change's row commits with its count.
    for (let round = 0; round < 2 && this.seen < target; round++) {
      const from = this.seen;
      this.reading ??= this.fetch(from)
        .then((fetched) => this.skipTo(this.apply(fetched, from, target)))
        .finally(() => (this.reading = null));
      await this.reading;
    }
    this.skipTo(target);
  }
}

/**
 * What this node knows of the changes one access counter counted: for each reach, the counter of
 * the last change that reached it. A cache entry tagged with the counter read before it was
 * loaded is stale once a change reaching it came after that tag; so an entry loaded while a change
 * committed, and stored after the node caught up, is never used.
 */
export class ReachLog {
  private readonly changedAt = new Map<string, number>();
  private readonly counter: CounterCatchUp<ReachedChange[]>;

  constructor(changesSince: (seq: number) => Promise<ReachedChange[]>) {
    this.counter = new CounterCatchUp(changesSince, (changes, seen) => {
      let newest = seen;
      for (const change of changes) {
        if (change.seq > (this.changedAt.get(change.reach) ?? -1)) this.changedAt.set(change.reach, change.seq);
        newest = Math.max(newest, change.seq);
      }
      return newest;
    });
  }

  /** Whether `target` (a counter a request read) is newer than what this node caught up to. */
  behind(target: number): boolean {
    return this.counter.behind(target);
  }

  /**
   * Reads the reaches changed since the counter this node caught up to (one read shared by
   * concurrent requests). A node that has cached nothing yet only notes where it starts: what it
   * caches from then on is loaded after the changes counted so far.
   */
  async catchUp(target: number, cachesNothing: boolean): Promise<void> {
    if (this.counter.position < 0 && cachesNothing) this.counter.skipTo(target);
    else await this.counter.catchUp(target);
  }

  /** Whether a change reaching any of `reaches` came after counter `tag`. */
  changedAfter(tag: number, ...reaches: string[]): boolean {
    return reaches.some((reach) => (this.changedAt.get(reach) ?? -1) > tag);
  }
}
