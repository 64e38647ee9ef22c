interface Slot<V> {
  value: V;
  used: boolean;
}

/**
 * A map of at most `capacity` entries that, when full, forgets one it has not used lately. The
 * caches on a request's path (tokens, directory answers, compiled policies, verified JWTs) used to
 * empty themselves when full: past their capacity of active callers, every caller's next request
 * read storage again, and a caller able to make many distinct credentials could empty them for
 * everyone. Eviction is "second chance" (CLOCK), close to least-recently-used: a hit only marks its
 * entry, as cheap as a plain map's lookup; a full map looks from its oldest entry on, gives each
 * marked one another round (unmarked, moved to the end) and drops the first unmarked one.
 */
export class LruMap<K, V> {
  // A Map iterates in insertion order: the first key is the oldest not moved since.
  private readonly map = new Map<K, Slot<V>>();

  constructor(private readonly capacity: number) {}

  get size(): number {
    return this.map.size;
  }

  get(key: K): V | undefined {
    const slot = this.map.get(key);
    if (slot === undefined) return undefined;
    slot.used = true;
    return slot.value;
  }

  set(key: K, value: V): void {
    const slot = this.map.get(key);
    if (slot) {
      slot.value = value;
      slot.used = true;
      return;
    }
    if (this.map.size >= this.capacity) this.evictOne();
    this.map.set(key, { value, used: false });
  }

  delete(key: K): boolean {
    return this.map.delete(key);
  }

  clear(): void {
    this.map.clear();
  }

  /** Every entry, oldest first, without counting as use; deleting while iterating is safe. */
  *[Symbol.iterator](): IterableIterator<[K, V]> {
    for (const [key, slot] of this.map) yield [key, slot.value];
  }

  /** At most one pass over the map: every entry marked in it is unmarked, so the pass ends. */
  private evictOne(): void {
    for (const [key, slot] of this.map) {
      this.map.delete(key);
      if (!slot.used) return;
      slot.used = false;
      this.map.set(key, slot);
    }
  }
}
