/**
 * The opt-in read cache: entries live `ttl` seconds; the event stream drops a path's entries the
 * moment an event names it. A generation counter per path stops a read that was in flight during
 * an invalidation from storing the value it fetched before the change.
 */
export class SecretCache<V> {
  private readonly entries = new Map<string, { value: V; expiresAt: number }>();
  private readonly generations = new Map<string, number>();
  private epoch = 0;

  constructor(private readonly ttlMs: number) {}

  private key(path: string, variant: string): string {
    return `${path}\u0000${variant}`;
  }

  get(path: string, variant = ""): V | undefined {
    const key = this.key(path, variant);
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (Date.now() >= entry.expiresAt) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  /** A token to pass to `set`: the value is stored only if nothing invalidated the path since. */
  ticket(path: string): string {
    return `${this.epoch}:${this.generations.get(path) ?? 0}`;
  }

  set(path: string, variant: string, value: V, ticket: string): void {
    if (ticket !== this.ticket(path)) return;
    this.entries.set(this.key(path, variant), { value, expiresAt: Date.now() + this.ttlMs });
  }

  invalidate(path: string): void {
    this.generations.set(path, (this.generations.get(path) ?? 0) + 1);
    const prefix = `${path}\u0000`;
    for (const key of this.entries.keys()) if (key.startsWith(prefix)) this.entries.delete(key);
  }

  /** Everything, e.g. after the stream reconnects and events may have been missed. */
  clear(): void {
    this.epoch++;
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
