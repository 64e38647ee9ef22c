/**
 * Values kept by key up to a total size in bytes: once a value set takes the total past
 * `maxBytes`, the entries set longest ago go first (never the one just set). For caches of large
 * encoded answers (CRLs, SSH KRLs), which a count alone would not bound: one CA's CRL of 100,000
 * entries is ~5 MB, an engine's KRL of a million serials 8 MB.
 */
export class SizedCache<K, V> {
  // A Map iterates in insertion order; a value set again moves to the end.
  private readonly entries = new Map<K, { value: V; bytes: number }>();
  private total = 0;

  constructor(private readonly maxBytes: number, private readonly sizeOf: (value: V) => number) {}

  get bytes(): number {
    return this.total;
  }

  get(key: K): V | undefined {
    return this.entries.get(key)?.value;
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
