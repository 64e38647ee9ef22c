import type { Queryable, SqlParam } from "./contract.js";

/** Rows per multi-row insert, largest first: a few statement texts (each prepared once) cover any count. */
const CHUNKS = [256, 64, 16, 4, 1] as const;

/** `INSERT INTO table (columns) VALUES (…), (…)` for `rows` rows of `perRow` values. */
export function multiRowInsert(table: string, columns: string, perRow: number, rows: number): string {
  const row = `(${Array.from({ length: perRow }, () => "?").join(", ")})`;
  return `INSERT INTO ${table} (${columns}) VALUES ${Array.from({ length: rows }, () => row).join(", ")}`;
}

/** `count` split into chunk sizes, largest first. */
export function chunked(count: number): number[] {
  const sizes: number[] = [];
  let left = count;
  for (const size of CHUNKS) {
    for (; left >= size; left -= size) sizes.push(size);
  }
  return sizes;
}

/**
 * Many rows in a few statements: one statement per row held a SQLite node for the length of the
 * whole transaction and cost PostgreSQL a round trip each.
 */
export async function insertMany(tx: Queryable, table: string, columns: readonly string[], rows: readonly (readonly SqlParam[])[]): Promise<void> {
  let at = 0;
  for (const size of chunked(rows.length)) {
    const chunk = rows.slice(at, (at += size));
    await tx.run(multiRowInsert(table, columns.join(", "), columns.length, size), chunk.flat());
  }
}
