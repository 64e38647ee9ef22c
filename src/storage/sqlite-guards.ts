import { AsyncLocalStorage } from "node:async_hooks";

/**
 * The SQLite adapter's development assertions (SCAIVAULT_STORAGE_GUARDS): off in production, because
 * AsyncLocalStorage makes every promise in the process pay for async hooks on Node 20 (about 10 % of
 * an audited read); the test suites turn them on.
 */
export class TransactionGuards {
  private readonly inside = new AsyncLocalStorage<boolean>();

  /**
   * Catches a transaction's code using `db` instead of `tx`: a write would wait for the lock the
   * transaction holds (a deadlock), and the reader connection cannot see the transaction's writes
   * (a silent stale read).
   */
  requireOutside(): void {
    if (this.inside.getStore()) throw new Error("database used without the transaction from inside a transaction: pass tx down");
  }

  /**
   * Runs a transaction's work with the inside-a-transaction mark, and fails it if it waited on
   * anything but SQLite (a thread-pool digest, a timer, the network): the file has one writer, every
   * other write of the process waits meanwhile, and a second node in the same process (the tests'
   * two-node set-up) waits synchronously for the lock, holding up the very loop the first needs to
   * commit — a stale-CRL herd answered 503 after 10 s that way. SQLite's statements resolve at once
   * in this adapter, so work that waits on nothing else settles before the event loop turns; a turn
   * in between is the wait. A best effort: a wait begun in the timers or check phase (a background
   * job's timer, the group after a waiting one) may end in the next poll phase, before the check
   * phase sets the flag, and escape; requests begin their transactions in the poll phase, where
   * every wait on the thread pool, a timer or the network is caught.
   */
  async run<T>(work: () => Promise<T>): Promise<T> {
    let turned = false;
    const turn = setImmediate(() => (turned = true));
    try {
      const result = await this.inside.run(true, work);
      if (turned) throw new Error("a transaction waited on something other than storage: compute it before the transaction, then write");
      return result;
    } finally {
      clearImmediate(turn);
    }
  }
}
