import type { Database } from "./contract.js";
import { PostgresDatabase } from "./postgres.js";
import { SqliteDatabase } from "./sqlite.js";

export interface OpenOptions {
  auditSync?: "normal" | "full";
  poolSize?: number;
  /** Development and test assertion: a transaction's code that uses `db` instead of `tx` throws (SQLite). */
  guardTransactions?: boolean;
}

/** `sqlite:<file>` or `postgres(ql)://…`, as DATABASE_URL gives it (already validated). */
export function openDatabase(databaseUrl: string, options: OpenOptions = {}): Database {
  if (databaseUrl.startsWith("sqlite:")) {
    return new SqliteDatabase(databaseUrl.slice("sqlite:".length), {
      synchronous: options.auditSync === "full" ? "FULL" : "NORMAL",
      guardTransactions: options.guardTransactions,
    });
  }
  return new PostgresDatabase(databaseUrl, { max: options.poolSize });
}
