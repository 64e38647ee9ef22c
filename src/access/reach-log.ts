/** A change counted by an access counter, and what it reached (`t:<tenant>` or `p:<partner>`). */
export interface ReachedChange {
  reach: string;
  seq: number;
}

/**
 * What this node knows of the changes one access counter counted: for each reach, the counter of
 * the last change that reached it. A cache entry tagged with the counter read before it was
 * loaded is stale once a change reaching it came after that tag; so an entry loaded while a change
 * committed, and stored after the node caught up, is never used.
 */
export class ReachLog {
  private seen = -1;
  private readonly changedAt = new Map<string, number>();
  private reading: Promise<void> | null = null;

  constructor(private readonly changesSince: (seq: number) => Promise<ReachedChange[]>) {}

  /** Whether `target` (a counter a request read) is newer than what this node caught up to. */
  behind(target: number): boolean {
    return target > this.seen;
  }

  /**
   * Reads the reaches changed since the counter this node caught up to (one read shared by
   * concurrent requests). A node that has cached nothing yet only notes where it starts: what it
   * caches from then on is loaded after the changes counted so far.
   */
  async catchUp(target: number, cachesNothing: boolean): Promise<void> {
    if (this.seen < 0 && cachesNothing) {
      this.seen = target;
      return;
    }
    // A read shared with a request that began it before `target` was read may miss the changes
    // counted up to it; a second one cannot: a change's row commits with its count.
    for (let round = 0; round < 2 && this.seen < target; round++) {
      this.reading ??= this.read().finally(() => (this.reading = null));
      await this.reading;
    }
    this.seen = Math.max(this.seen, target);
  }

  /** Whether a change reaching any of `reaches` came after counter `tag`. */
  changedAfter(tag: number, ...reaches: string[]): boolean {
    return reaches.some((reach) => (this.changedAt.get(reach) ?? -1) > tag);
  }

  private async read(): Promise<void> {
    for (const change of await this.changesSince(this.seen)) {
      if (change.seq > (this.changedAt.get(change.reach) ?? -1)) this.changedAt.set(change.reach, change.seq);
      this.seen = Math.max(this.seen, change.seq);
    }
  }
}
