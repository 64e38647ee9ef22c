/**
 * The storage contract every backend implements. Stores write portable SQL with `?` placeholders
 * (the PostgreSQL adapter renumbers them); times are epoch milliseconds (BIGINT), booleans 0/1,
 * JSON as TEXT and binary as BLOB/BYTEA. Every store method takes an optional `Queryable` so the
 * service that owns a transaction can pass it down.
 */
export type SqlParam = string | number | bigint | boolean | null | Buffer;

export interface Queryable {
  all<T = Record<string, unknown>>(sql: string, params?: readonly SqlParam[]): Promise<T[]>;
  get<T = Record<string, unknown>>(sql: string, params?: readonly SqlParam[]): Promise<T | undefined>;
  run(sql: string, params?: readonly SqlParam[]): Promise<{ changes: number }>;
  /**
   * Inside a PostgreSQL transaction only: sends `sql` in the same round trip as the COMMIT (values
   * inlined as escaped literals), for the transaction's last statement when it holds a hot row
   * lock — the lock is then held for no round trip after it. Nothing may run on this transaction
   * after it. `failure` turns an error of that round trip into what the transaction throws.
   * Returns false (the caller runs it itself) when a value cannot be inlined (a NUL, a large binary).
   */
  runAtCommit?(sql: string, params: readonly SqlParam[], failure: (error: unknown) => Error): boolean;
  /**
   * Inside a PostgreSQL transaction only: queues `sql` (values inlined as escaped literals) to be
   * sent ahead of the transaction's next message, in it: the next statement, or the COMMIT (ahead
   * of the `runAtCommit` statement). Statements still run in the order they were given; only the
   * round trip is saved. For writes whose result nothing needs (outbox rows, a version write). An
   * error there fails that next statement or the COMMIT instead (a COMMIT's as a `runAtCommit`
   * error does). Returns false (the caller runs it itself) when not in such a transaction or a
   * value cannot be inlined.
   */
  deferWrite?(sql: string, params: readonly SqlParam[]): boolean;
  /**
   * Inside a PostgreSQL transaction whose first statement has not gone out yet: queues `sql`
   * (values inlined as escaped literals) to run right after that first statement, in the same
   * message, saving its round trip. For a read a later step of the transaction will make anyway,
   * whose rows nothing before it changes. Returns a function that hands over its rows once that
   * message has run (rejecting when it failed), or null when the read did not travel (the first
   * statement went out with bound parameters, or had not gone out when asked): the caller then
   * runs it itself. Returns null (not queued) outside such a transaction or when a value cannot
   * be inlined.
   */
  alongFirst?<T = Record<string, unknown>>(sql: string, params: readonly SqlParam[]): (() => Promise<T[] | null>) | null;
}

/** A write whose result nothing needs: deferred where the backend can (`Queryable.deferWrite`), else run now. */
export async function writeDeferred(tx: Queryable, sql: string, params: readonly SqlParam[]): Promise<void> {
  if (!tx.deferWrite?.(sql, params)) await tx.run(sql, params);
}

export type Dialect = "sqlite" | "postgres";

/**
 * Told each statement's duration in seconds (`scaivault_db_latency_seconds`). The adapters time
 * their own statements: a timing wrapper around every call cost an async frame, a closure and a
 * promise per statement (with the label-free prom-client observe, ~48,000 main-thread instructions
 * per SQLite PUT; docs/benchmarks.md, round 11).
 */
export type ObserveStatement = (seconds: number) => void;

/** What an adapter opened without an observer tells. */
export const unobserved: ObserveStatement = () => {};

/** Seconds since `start`, a `performance.now()` reading: what an `ObserveStatement` is told. */
export const secondsSince = (start: number): number => (performance.now() - start) / 1000;

export interface Migration {
  /** Unique and sortable; applied in ascending order, once. */
  id: string;
  /** DDL statements for the dialect; use `types` for the few names that differ. */
  up(types: DialectTypes): string[];
}

export interface DialectTypes {
  dialect: Dialect;
  blob: string;
  /** Text that sorts and compares byte-wise (secret paths): prefix ranges and cursors agree on both backends. */
  byteText: string;
}

export interface Database extends Queryable {
  readonly dialect: Dialect;
  /**
   * A one-row read that nearly every request makes (the access epoch, a tenant's secret epoch),
   * shared between the requests of one turn of the event loop. The answer still reflects every
   * change committed before the calling request arrived: on PostgreSQL the query is sent after
   * the turn's callers have arrived (one round trip for all of them); on SQLite the turn's first
   * caller reads and the others share its row until the turn ends or this process commits.
   */
  getShared<T>(sql: string, params?: readonly SqlParam[]): Promise<T | undefined>;
  /** Runs `work` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T>;
  migrate(migrations: readonly Migration[]): Promise<string[]>;
  ping(): Promise<void>;
  close(): Promise<void>;
  /**
   * The database for work off the request path — exports, pruning, migrations — with the long
   * statement deadline (DATABASE_LONG_QUERY_TIMEOUT) and, on PostgreSQL, connections of its own.
   * Absent or `this` where there is no difference (SQLite).
   */
  background?(): Database;
  /** Connection pool figures, for backends that pool (PostgreSQL). */
  poolStats?(): { size: number; available: number; waiting: number };
}

/** `invalid_input`: a value the backend cannot store as text at all (PostgreSQL refuses NUL characters). */
export type StorageErrorKind = "unique_violation" | "unavailable" | "serialization" | "invalid_input" | "other";

/** A storage failure classified by the driver's error code, never by its message. */
export class StorageError extends Error {
  constructor(readonly kind: StorageErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StorageError";
  }
}

/** Storage that does not answer (down, hung past its deadline): worth waiting out, not a verdict. */
export function isStorageUnavailable(error: unknown): boolean {
  return error instanceof StorageError && error.kind === "unavailable";
}

export function isUniqueViolation(error: unknown): boolean {
  return error instanceof StorageError && error.kind === "unique_violation";
}

/**
 * A transaction the database aborted for a conflict with another (deadlock, serialization
 * failure): nothing of it was committed, and running it again may succeed. Looked for along the
 * causes too, since a domain error (the audit trail's `service_unavailable`) wraps the storage one.
 */
export function isTransactionConflict(error: unknown): boolean {
  return alongCauses(error, (at) => at instanceof StorageError && at.kind === "serialization");
}

/** Whether `error` or one of its causes (up to five deep: domain errors wrap storage errors, which wrap the driver's) passes `test`. */
export function alongCauses(error: unknown, test: (at: unknown) => boolean): boolean {
  for (let at = error, depth = 0; at && depth < 5; at = (at as { cause?: unknown }).cause, depth++) {
    if (test(at)) return true;
  }
  return false;
}
