/**
 * One query per turn of the event loop for a read that every request makes (the access epoch, a
 * tenant's secret epoch). The query is sent from `setImmediate`, after every request that joined
 * it in this turn has arrived, so each of them still sees every change committed before it
 * arrived. Worth it on PostgreSQL, where each read is a round trip; SQLite reads directly.
 */
export class TurnCoalescer<V> {
  private readonly waiting = new Map<string, Promise<V>>();

  constructor(private readonly load: (key: string) => Promise<V>) {}

  get(key: string): Promise<V> {
    let shared = this.waiting.get(key);
    if (!shared) {
      shared = new Promise<V>((resolve, reject) => {
        setImmediate(() => {
          // Whoever arrives from here on gets a query of its own, sent after it arrived.
          this.waiting.delete(key);
          this.load(key).then(resolve, reject);
        });
      });
      this.waiting.set(key, shared);
    }
    return shared;
  }
}
