import type { Database, SqlParam } from "../storage/contract.js";

/**
 * The plan the database picks for a statement, as text, for tests that a query walks the index
 * meant for it. PostgreSQL's plan is asked with sequential scans priced out: with a test's few
 * rows it would scan the table anyway, and so it still does only when no index can serve.
 */
export async function planOf(db: Database, sql: string, params: readonly unknown[]): Promise<string> {
  if (db.dialect === "sqlite") return (await db.all<{ detail: string }>(`EXPLAIN QUERY PLAN ${sql}`, params as SqlParam[])).map((row) => row.detail).join("\n");
  return db.transaction(async (tx) => {
    await tx.run("SET LOCAL enable_seqscan = off");
    return (await tx.all<Record<string, string>>(`EXPLAIN ${sql}`, params as SqlParam[])).map((row) => row["QUERY PLAN"]).join("\n");
  });
}
