/**
 * Values kept by key up to a total size in bytes: once a value set takes the total past
 * `maxBytes`, the entries used longest ago go first (never the one just set). For caches whose
 * values differ widely in size, which a count alone would not bound: one CA's CRL of 100,000
 * entries is ~5 MB, an engine's KRL of a million serials 8 MB, a compiled 512-character glob of
 * 256 segments ~16 KB against a few hundred bytes for a usual one.
 */
export class SizedCache<K, V> {
  // A Map iterates in insertion order; a value set again moves to the end.
  private readonly entries = new Map<K, { value: V; bytes: number }>();
  private total = 0;

  constructor(private readonly maxBytes: number, private readonly sizeOf: (value: V) => number) {}

  get bytes(): number {
    return this.total;
  }

  /** A value found becomes the newest (a Map keeps insertion order: delete and set again). */
  get(key: K): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  set(key: K, value: V): V {
    const replaced = this.entries.get(key);
    if (replaced) {
      this.total -= replaced.bytes;
      this.entries.delete(key);
    }
    const bytes = this.sizeOf(value);
    this.entries.set(key, { value, bytes });
    this.total += bytes;
    for (const [oldKey, oldest] of this.entries) {
      if (this.total <= this.maxBytes || oldKey === key) break;
      this.entries.delete(oldKey);
      this.total -= oldest.bytes;
    }
    return value;
  }
}
