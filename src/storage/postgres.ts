import pg from "pg";
import type { Database, Migration, ObserveStatement, Queryable, SqlParam } from "./contract.js";
import { alongCauses, secondsSince, StorageError, unobserved } from "./contract.js";
import { runMigrations } from "./migrate.js";
import { sharedReadKey, TurnCoalescer } from "./coalesce.js";
import { StatementNames } from "./statement-names.js";
import { InlinePrepared } from "./inline-prepared.js";
import { inlined, literal, literalsOf, numbered, parameterLike, values } from "./pg-sql-text.js";

// BIGINT columns hold epoch milliseconds, well inside the safe-integer range.
pg.types.setTypeParser(20, (value) => Number(value));

const UNAVAILABLE_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "ENOTFOUND", "EPIPE", "57P01", "57P02", "57P03", "08000", "08001", "08003", "08006", "53300"]);

function classify(error: unknown): StorageError {
  if (error instanceof StorageError) return error;
  const code = (error as { code?: string }).code ?? "";
  if (code === "23505") return new StorageError("unique_violation", "unique constraint violated", { cause: error });
  if (code === "22021" || code === "22P05") return new StorageError("invalid_input", `postgres refused a value (${code})`, { cause: error });
  if (code === "40001" || code === "40P01") return new StorageError("serialization", "transaction conflict", { cause: error });
  if (UNAVAILABLE_CODES.has(code) || !code) return new StorageError("unavailable", `postgres unavailable (${code || "connection"})`, { cause: error });
  return new StorageError("other", `postgres error (${code})`, { cause: error });
}

/** Whether PostgreSQL's error `code` is on `error` or along its causes (domain errors wrap storage errors). */
function carriesCode(error: unknown, code: string): boolean {
  return alongCauses(error, (at) => (at as { code?: unknown }).code === code);
}

class PgQueryable implements Queryable {
  /** Set by `runAtCommit` (transaction connections only): sent with the COMMIT. */
  tail: { sql: string; failure: (error: unknown) => Error } | null = null;
  /** Queued by `deferWrite`: sent ahead of the transaction's next message (a statement or the COMMIT). */
  private deferred: string[] = [];
  /**
   * A transaction's BEGIN is not sent on its own: it goes out in one message with the first
   * statement (or the COMMIT), which saves a round trip per transaction. Until then nothing of the
   * transaction exists on the server, and a transaction that ran nothing sends nothing at all.
   */
  private beginPending: boolean;
  /** Queued by `alongFirst`: sent after the first statement, in its message. */
  private along: { text: string; settle: (rows: unknown[] | null) => void; fail: (error: unknown) => void }[] = [];

  /** `timeoutMs`: the client-side deadline per statement (a stopped server never answers at all). */
  constructor(
    private readonly client: pg.Pool | pg.PoolClient,
    private readonly timeoutMs: number,
    private readonly names: StatementNames | null,
    private readonly observe: ObserveStatement,
    private readonly inTransaction = false,
    private readonly inlinePrepared: InlinePrepared | null = null,
  ) {
    this.beginPending = inTransaction;
  }

  /** Whether BEGIN has gone out: only then is there anything to roll back. */
  get begun(): boolean {
    return this.inTransaction && !this.beginPending;
  }

  private async query(sql: string, params: readonly SqlParam[]): Promise<pg.QueryResult> {
    if (this.tail) throw new Error("a statement after runAtCommit: the transaction's last statement was already given");
    if (this.beginPending || this.deferred.length > 0) {
      const opening = this.beginPending;
      if (opening) {
        await this.prepareWanted();
        this.beginPending = false;
      }
      // One simple-query message: BEGIN (for the first statement), the writes deferred so far, then
      // the statement with its values as untyped literals (typed from context as bound parameters
      // are). A statement that cannot go inline (a NUL, a large binary) goes alone after them.
      const ahead = opening ? ["BEGIN", ...this.takeDeferred()] : this.takeDeferred();
      const text = this.inline(sql, params, parameterLike);
      const along = opening ? this.takeAlong() : [];
      if (text !== null) {
        const message = [...ahead, text, ...along.map((a) => a.text)].join(";\n");
        let results: pg.QueryResult[];
        try {
          results = (await this.client.query({ text: message, query_timeout: this.timeoutMs } as pg.QueryConfig)) as unknown as pg.QueryResult[];
        } catch (error) {
          for (const a of along) a.fail(classify(error));
          throw error;
        }
        along.forEach((a, i) => a.settle(results[ahead.length + 1 + i].rows));
        return results[ahead.length];
      }
      for (const a of along) a.settle(null);
      await this.client.query({ text: ahead.join(";\n"), query_timeout: this.timeoutMs } as pg.QueryConfig);
    }
    const text = numbered(sql);
    return this.client.query({ name: this.names?.nameOf(text), text, values: values(params), query_timeout: this.timeoutMs } as pg.QueryConfig);
  }

  /**
   * The statement with its values inline for a simple-query message: `EXECUTE` of the statement
   * prepared on this connection when it is (values as untyped literals), else its text.
   */
  private inline(sql: string, params: readonly SqlParam[], as: (value: SqlParam) => string | null): string | null {
    const executed = this.inlinePrepared?.execute(this.client, numbered(sql), () => literalsOf(params, parameterLike));
    return executed ?? inlined(sql, params, as);
  }

  /** Before this connection's BEGIN: the statements it sent inline and should PREPARE (outside any transaction). */
  private async prepareWanted(): Promise<void> {
    await this.inlinePrepared?.prepareWanted(
      this.client,
      async (sql) => void (await this.client.query({ text: sql, query_timeout: this.timeoutMs } as pg.QueryConfig)),
      (error) => classify(error).kind !== "unavailable",
    );
  }

  alongFirst<T>(sql: string, params: readonly SqlParam[]): (() => Promise<T[] | null>) | null {
    if (!this.beginPending) return null;
    const text = this.inline(sql, params, parameterLike);
    if (text === null) return null;
    let entry!: (typeof this.along)[number];
    const rows = new Promise<T[] | null>((resolve, reject) => {
      entry = { text, settle: (r) => resolve(r as T[] | null), fail: reject };
    });
    // Asked for only by a later step: when the transaction fails first, nobody asks, and that is fine.
    rows.catch(() => {});
    this.along.push(entry);
    return () => {
      // Asked for before the first statement went out: it will not travel, and must not be waited for.
      const waiting = this.along.indexOf(entry);
      if (waiting >= 0) {
        this.along.splice(waiting, 1);
        entry.settle(null);
      }
      return rows;
    };
  }

  /** The queued `alongFirst` statements, handed over once. */
  private takeAlong(): typeof this.along {
    const along = this.along;
    this.along = [];
    return along;
  }

  runAtCommit(sql: string, params: readonly SqlParam[], failure: (error: unknown) => Error): boolean {
    if (!this.inTransaction || this.tail) return false;
    const text = this.inline(sql, params, literal);
    if (text === null) return false;
    this.tail = { sql: text, failure };
    return true;
  }

  deferWrite(sql: string, params: readonly SqlParam[]): boolean {
    if (!this.inTransaction || this.tail) return false;
    const text = this.inline(sql, params, literal);
    if (text === null) return false;
    this.deferred.push(text);
    return true;
  }

  /** The deferred writes, handed over once. */
  private takeDeferred(): string[] {
    const deferred = this.deferred;
    this.deferred = [];
    return deferred;
  }

  /** Ends a begun transaction: writes still deferred are dropped, not sent ahead of the ROLLBACK. */
  async rollback(): Promise<void> {
    this.deferred = [];
    this.tail = null;
    await this.run("ROLLBACK");
  }

  /**
   * COMMIT, with the deferred statements and the one given to `runAtCommit` in the same round trip
   * (simple-query protocol, one message: the statements run in order and the first error aborts
   * the transaction, so nothing of it commits).
   */
  async commit(): Promise<void> {
    const tail = this.tail;
    const statements = this.takeDeferred();
    this.tail = null;
    if (tail) statements.push(tail.sql);
    if (this.beginPending) {
      for (const a of this.takeAlong()) a.settle(null);
      // Nothing ran: no transaction exists on the server unless a deferred statement needs one.
      if (statements.length === 0) {
        this.beginPending = false;
        return;
      }
      try {
        await this.prepareWanted();
      } catch (error) {
        throw classify(error);
      }
      this.beginPending = false;
      statements.unshift("BEGIN");
    }
    // A simple-query message, unobserved: the transaction is observed whole (ops/instrument.ts).
    statements.push("COMMIT");
    try {
      await this.client.query({ text: statements.join(";\n"), query_timeout: this.timeoutMs } as pg.QueryConfig);
    } catch (error) {
      const classified = classify(error);
      // Lost or timed out: the transaction's fate is unknown to us and it is reported as such.
      throw classified.kind === "unavailable" || !tail ? classified : tail.failure(classified);
    }
  }

  async all<T>(sql: string, params: readonly SqlParam[] = []): Promise<T[]> {
    const start = performance.now();
    try {
      return (await this.query(sql, params)).rows as T[];
    } catch (error) {
      throw classify(error);
    } finally {
      this.observe(secondsSince(start));
    }
  }
  async get<T>(sql: string, params?: readonly SqlParam[]): Promise<T | undefined> {
    return (await this.all<T>(sql, params))[0];
  }
  async run(sql: string, params: readonly SqlParam[] = []): Promise<{ changes: number }> {
    const start = performance.now();
    try {
      return { changes: (await this.query(sql, params)).rowCount ?? 0 };
    } catch (error) {
      throw classify(error);
    } finally {
      this.observe(secondsSince(start));
    }
  }
}

/** Pool size, deadlines (see the constructor) and whether recurring statements are prepared. */
export interface PostgresOptions {
  max?: number;
  acquireTimeoutMs?: number;
  queryTimeoutMs?: number;
  longQueryTimeoutMs?: number;
  /** DATABASE_PREPARED_STATEMENTS (default on): off behind a pooler that cannot keep them (PgBouncer before 1.21 in transaction mode). */
  preparedStatements?: boolean;
  observeStatement?: ObserveStatement;
}

export class PostgresDatabase implements Database {
  readonly dialect = "postgres" as const;
  private readonly pool: pg.Pool;
  private readonly direct: PgQueryable;
  private readonly shared = new TurnCoalescer<{ sql: string; params?: readonly SqlParam[] }, unknown>((read) => this.direct.get(read.sql, read.params));

  private readonly queryTimeoutMs: number;
  private readonly observe: ObserveStatement;
  private readonly names: StatementNames | null;
  private readonly inlinePrepared: InlinePrepared | null;
  private backgroundDb: PostgresDatabase | null = null;

  /**
   * Deadlines (resilience): `acquireTimeoutMs` bounds the wait for a pooled connection (and for a
   * new one to connect), `queryTimeoutMs` each statement — on the server (`statement_timeout`) and
   * on the client, since a stopped or unreachable server never answers at all; a connection whose
   * statement timed out is discarded, not reused. TCP keepalive finds dead peers on idle
   * connections. Background work (exports, pruning, migrations) uses `background()`: its own
   * small pool with the long deadline, so it neither times out nor holds request connections.
   */
  constructor(
    private readonly connectionString: string,
    private readonly options: PostgresOptions = {},
  ) {
    this.queryTimeoutMs = options.queryTimeoutMs ?? 5000;
    this.observe = options.observeStatement ?? unobserved;
    this.pool = new pg.Pool({
      connectionString,
      max: options.max ?? 10,
      connectionTimeoutMillis: options.acquireTimeoutMs ?? 2000,
      idleTimeoutMillis: 10_000,
      statement_timeout: this.queryTimeoutMs,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    });
    // An idle client losing its server must not crash the process; the next query reports it.
    this.pool.on("error", () => {});
    this.names = options.preparedStatements === false ? null : new StatementNames();
    this.inlinePrepared = this.names ? new InlinePrepared(this.names) : null;
    this.direct = new PgQueryable(this.pool, this.queryTimeoutMs, this.names, this.observe);
  }

  /** The same database through a pool of two with the long deadline, for work off the request path. */
  background(): Database {
    const long = this.options.longQueryTimeoutMs ?? 600_000;
    if (this.options.queryTimeoutMs === long) return this;
    this.backgroundDb ??= new PostgresDatabase(this.connectionString, { max: 2, acquireTimeoutMs: long, queryTimeoutMs: long, longQueryTimeoutMs: long, preparedStatements: this.options.preparedStatements, observeStatement: this.options.observeStatement });
    return this.backgroundDb;
  }

  all<T>(sql: string, params?: readonly SqlParam[]): Promise<T[]> {
    return this.direct.all<T>(sql, params);
  }
  get<T>(sql: string, params?: readonly SqlParam[]): Promise<T | undefined> {
    return this.direct.get<T>(sql, params);
  }
  run(sql: string, params?: readonly SqlParam[]): Promise<{ changes: number }> {
    return this.direct.run(sql, params);
  }
  getShared<T>(sql: string, params?: readonly SqlParam[]): Promise<T | undefined> {
    return this.shared.get(sharedReadKey(sql, params), { sql, params }) as Promise<T | undefined>;
  }

  async transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw classify(error);
    }
    let broken = false;
    // A server that goes away while this client is checked out and between statements makes the
    // client emit 'error'; unheard, that would crash the process. The next statement reports it.
    const onError = () => {
      broken = true;
    };
    client.on("error", onError);
    const control = new PgQueryable(client, this.queryTimeoutMs, this.names, this.observe, true, this.inlinePrepared);
    try {
      const result = await work(control);
      await control.commit();
      return result;
    } catch (error) {
      if (error instanceof StorageError && error.kind === "unavailable") {
        // Timed out or lost: a ROLLBACK would wait as long again. Discarding the connection ends
        // the transaction on the server.
        broken = true;
      } else if (control.begun) {
        try {
          await control.rollback();
        } catch {
          broken = true;
        }
      }
      // "Cached plan must not change result type" (0A000): another node's migration retyped a
      // column a prepared statement returns. The connection's prepared statements are stale, and
      // only a new connection prepares them afresh (pg-pool already drops a connection whose
      // statement failed outside a transaction).
      if (carriesCode(error, "0A000")) broken = true;
      // Statement errors were classified where they happened; domain errors pass through as thrown.
      throw error;
    } finally {
      client.off("error", onError);
      client.release(broken);
    }
  }

  migrate(migrations: readonly Migration[]): Promise<string[]> {
    // Migrations may rewrite large tables: the long deadline, not the request path's.
    return runMigrations(this.background(), migrations, { dialect: "postgres", blob: "BYTEA", byteText: 'TEXT COLLATE "C"' });
  }

  /** Connection counts for metrics and /v1/health/detailed. */
  poolStats(): { size: number; available: number; waiting: number } {
    return { size: this.pool.totalCount, available: this.pool.idleCount, waiting: this.pool.waitingCount };
  }

  async ping(): Promise<void> {
    await this.direct.run("SELECT 1");
  }

  private closing: Promise<void> | null = null;

  /** Idempotent: pg rejects a second `end()`, and shutdown paths may close twice. */
  close(): Promise<void> {
    this.closing ??= Promise.all([this.pool.end(), this.backgroundDb?.close()]).then(() => undefined);
    return this.closing;
  }
}
