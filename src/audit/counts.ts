/** A count of matching entries, and the first and last time among them. */
export interface Counted {
  n: number | string;
  first_at: number | string;
  last_at: number | string;
}

const NULL_KEY = "null";

/**
 * Adds up counts of the same group (equal values of `columns`) handed in by several statements
 * (windows, chains, rollups). One list alone is returned as it came: no key is built for it.
 */
export class CountMerger<Row extends Counted> {
  private first: Row[] | null = null;
  private merged: Map<string, Row> | null = null;

  constructor(private readonly columns: readonly string[]) {}

  add(rows: Row[]): void {
    if (rows.length === 0) return;
    if (this.first === null && this.merged === null) {
      this.first = rows;
      return;
    }
    if (this.merged === null) {
      this.merged = new Map();
      this.merge(this.first!);
      this.first = null;
    }
    this.merge(rows);
  }

  rows(): Row[] {
    return this.merged ? [...this.merged.values()] : (this.first ?? []);
  }

  private merge(rows: Row[]): void {
    const merged = this.merged!;
    // A summary's path counts merge ~1M rows at 1M entries (a path per window): one column is its
    // own key (null apart from every string), without building a JSON array per row.
    const [only] = this.columns;
    const keyOf =
      this.columns.length === 1
        ? (row: Row) => {
            const value = row[only as keyof Row];
            return value === null ? NULL_KEY : `=${String(value)}`;
          }
        : (row: Row) => JSON.stringify(this.columns.map((column) => row[column as keyof Row]));
    for (const row of rows) {
      const key = keyOf(row);
      const seen = merged.get(key);
      if (!seen) {
        merged.set(key, row);
        continue;
      }
      // The rows are this merger's own (fresh from the driver): summed in place.
      seen.n = Number(seen.n) + Number(row.n);
      seen.first_at = Math.min(Number(seen.first_at), Number(row.first_at));
      seen.last_at = Math.max(Number(seen.last_at), Number(row.last_at));
    }
  }
}
