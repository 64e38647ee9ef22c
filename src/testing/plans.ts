import { vi } from "vitest";
import type { PruneStep } from "../ops/retention.js";
import type { Database, Queryable, SqlParam } from "../storage/contract.js";

export interface Statement {
  sql: string;
  params: readonly SqlParam[];
  /** Rows the statement answered (once it has answered). */
  rows?: number;
}

/**
 * The reads (`get`, `all`; with `writes`, `run` too, and those of its transactions) `db` was asked
 * while `work` ran, with their work's value. On this one database object, not its class
 * (testing/turns.ts statementTurns): a second node's background jobs on the same kind of database
 * must not land in the list.
 */
export async function statementsDuring<T>(db: Database, work: () => Promise<T>, options: { writes?: boolean } = {}): Promise<{ statements: Statement[]; value: T }> {
  const statements: Statement[] = [];
  const methods = options.writes ? (["get", "all", "run"] as const) : (["get", "all"] as const);
  const recorded = (target: Queryable, method: (typeof methods)[number]) => {
    const original = target[method].bind(target) as (sql: string, params?: readonly SqlParam[]) => Promise<unknown>;
    return async (sql: string, params?: readonly SqlParam[]) => {
      const statement: Statement = { sql, params: params ?? [] };
      statements.push(statement);
      const value: unknown = await original(sql, params);
      statement.rows = Array.isArray(value) ? value.length : value === undefined ? 0 : 1;
      return value;
    };
  };
  // Each original is taken before its spy replaces it.
  const spyOn = (target: Queryable, method: (typeof methods)[number]) => {
    const implementation = recorded(target, method) as Queryable["all"];
    return vi.spyOn(target, method).mockImplementation(implementation);
  };
  const spies: Array<{ mockRestore(): void }> = methods.map((method) => spyOn(db, method));
  if (options.writes) {
    // A transaction's statements too: its own methods record while its work runs (the same object: stores compare it).
    const transaction = db.transaction.bind(db);
    spies.push(vi.spyOn(db, "transaction").mockImplementation(((work: (tx: Queryable) => Promise<unknown>) =>
      transaction(async (tx) => {
        const own = methods.map((method) => spyOn(tx, method));
        try {
          return await work(tx);
        } finally {
          for (const spy of own) spy.mockRestore();
        }
      })) as Database["transaction"]));
  }
  try {
    return { statements, value: await work() };
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
}

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

/** The plan of a retention step's row selection (the `SELECT` inside its `DELETE … IN (…)`), now. */
export function pruneStepPlan(db: Database, step: PruneStep): Promise<string> {
  const selection = step.sql.slice(step.sql.indexOf("SELECT"), step.sql.lastIndexOf(")"));
  return planOf(db, selection, step.params(Date.now(), Date.now()));
}
