import type { Database, ObserveStatement } from "./contract.js";
import { PostgresDatabase, type PostgresOptions } from "./postgres.js";
import { SqliteDatabase } from "./sqlite.js";

export interface OpenOptions {
  auditSync?: "normal" | "full";
  poolSize?: number;
  /** Development and test assertion: a transaction's code that uses `db` instead of `tx` throws (SQLite). */
  guardTransactions?: boolean;
  /** PostgreSQL: deadlines (DATABASE_ACQUIRE_TIMEOUT, DATABASE_QUERY_TIMEOUT, DATABASE_LONG_QUERY_TIMEOUT), prepared statements. */
  postgres?: Omit<PostgresOptions, "max">;
  /** Told every statement's duration (both backends). */
  observeStatement?: ObserveStatement;
}

/** `sqlite:<file>` or `postgres(ql)://…`, as DATABASE_URL gives it (already validated). */
export function openDatabase(databaseUrl: string, options: OpenOptions = {}): Database {
  if (databaseUrl.startsWith("sqlite:")) {
    return new SqliteDatabase(databaseUrl.slice("sqlite:".length), {
      synchronous: options.auditSync === "full" ? "FULL" : "NORMAL",
      guardTransactions: options.guardTransactions,
      observeStatement: options.observeStatement,
    });
  }
  return new PostgresDatabase(databaseUrl, { ...options.postgres, max: options.poolSize, observeStatement: options.observeStatement });
}
