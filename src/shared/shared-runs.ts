/**
 * At most one run per key at a time. A caller that comes while a run is under way does not start
 * another beside it: it shares the next run, which starts when the current one ends — so every
 * caller gets a result computed wholly after it asked, and any number of callers cost at most two
 * runs per key (the one under way and the one they share).
 */
/** A run under way, and the one its latecomers share (made by the first of them). */
interface Round<T> {
  following: { promise: Promise<T>; start: () => void } | null;
}

export class SharedRuns<T> {
  private readonly rounds = new Map<string, Round<T>>();

  run(key: string, work: () => Promise<T>): Promise<T> {
    const round = this.rounds.get(key);
    if (!round) return this.begin(key, work);
    if (!round.following) {
      let start!: () => void;
      const promise = new Promise<T>((resolve, reject) => {
        start = () => this.begin(key, work).then(resolve, reject);
      });
      round.following = { promise, start };
    }
    return round.following.promise;
  }

  private begin(key: string, work: () => Promise<T>): Promise<T> {
    const round: Round<T> = { following: null };
    this.rounds.set(key, round);
    const done = Promise.resolve().then(work);
    // The next round is set in the same step as this one is removed: no caller can slip in between.
    const end = () => {
      this.rounds.delete(key);
      round.following?.start();
    };
    done.then(end, end);
    return done;
  }
}
