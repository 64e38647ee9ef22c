import BetterSqlite3 from "better-sqlite3";
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";
import type { Database, Migration, ObserveStatement, Queryable, SqlParam } from "./contract.js";
import { secondsSince, StorageError, unobserved } from "./contract.js";
import { runMigrations } from "./migrate.js";
import { sharedReadKey, TurnMemo } from "./coalesce.js";
import { SqliteCheckpointer, WAL_LIMIT_FRAMES } from "./sqlite-checkpointer.js";
import { TransactionGuards } from "./sqlite-guards.js";

type Statement = BetterSqlite3.Statement<unknown[], unknown>;

function classify(error: unknown): StorageError {
  const code = (error as { code?: string }).code ?? "";
  if (code === "SQLITE_CONSTRAINT_UNIQUE" || code === "SQLITE_CONSTRAINT_PRIMARYKEY") {
    return new StorageError("unique_violation", "unique constraint violated", { cause: error });
  }
  if (code === "SQLITE_BUSY" || code === "SQLITE_FULL" || code === "SQLITE_READONLY" || code.startsWith("SQLITE_IOERR") || code === "SQLITE_CANTOPEN") {
    return new StorageError("unavailable", `sqlite storage unavailable (${code})`, { cause: error });
  }
  return new StorageError("other", `sqlite error (${code || "unknown"})`, { cause: error });
}

function bind(params: readonly SqlParam[]): unknown[] {
  return params.map((p) => (typeof p === "boolean" ? (p ? 1 : 0) : p));
}

/**
 * Statements are prepared once per connection and reused: preparing is the costly part. The
 * `Queryable` methods are what stores call and are observed; the `…Sync` ones, also used for the
 * group commit's own BEGIN, SAVEPOINT and COMMIT, are not (the transaction is observed whole).
 */
class Connection implements Queryable {
  private readonly cache = new Map<string, Statement>();
  constructor(readonly handle: BetterSqlite3.Database, readonly observe: ObserveStatement) {}

  private prepare(sql: string): Statement {
    let statement = this.cache.get(sql);
    if (!statement) {
      statement = this.handle.prepare(sql);
      if (this.cache.size > 500) this.cache.clear();
      this.cache.set(sql, statement);
    }
    return statement;
  }

  allSync<T>(sql: string, params: readonly SqlParam[] = []): T[] {
    try {
      return this.prepare(sql).all(...bind(params)) as T[];
    } catch (error) {
      throw classify(error);
    }
  }

  runSync(sql: string, params: readonly SqlParam[] = []): { changes: number } {
    try {
      const statement = this.prepare(sql);
      if (!statement.reader) return { changes: statement.run(...bind(params)).changes };
      statement.all(...bind(params));
      return { changes: 0 };
    } catch (error) {
      throw classify(error);
    }
  }

  async all<T>(sql: string, params?: readonly SqlParam[]): Promise<T[]> {
    const start = performance.now();
    try {
      return this.allSync<T>(sql, params);
    } finally {
      this.observe(secondsSince(start));
    }
  }
  async get<T>(sql: string, params?: readonly SqlParam[]): Promise<T | undefined> {
    const start = performance.now();
    try {
      return this.allSync<T>(sql, params)[0];
    } finally {
      this.observe(secondsSince(start));
    }
  }
  async run(sql: string, params?: readonly SqlParam[]): Promise<{ changes: number }> {
    const start = performance.now();
    try {
      return this.runSync(sql, params);
    } finally {
      this.observe(secondsSince(start));
    }
  }
}

/**
 * The database file is created owner-only (0600) before SQLite opens it — SQLite would create it
 * under the process umask, typically world-readable — and an existing one is narrowed to 0600.
 */
function ownerOnly(file: string): void {
  try {
    closeSync(openSync(file, "a", 0o600));
    chmodSync(file, 0o600);
  } catch {
    // SQLite reports a file it cannot open in its own words, naming DATABASE_URL.
  }
}

interface QueuedTransaction {
  work: (tx: Queryable) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** Transactions committed together at most; bounds how long the first of them waits. */
const MAX_GROUP = 64;

/**
 * Page cache per connection, in SQLite's negative-KiB form: 64 MiB (better-sqlite3's build default
 * is 16 MiB). With a 10,000,000-entry audit trail the eight audit B-trees are a level deeper, and an
 * audited read's p99 at 64 connections was 43 ms with 16 MiB against 33 with 64 MiB in two of
 * three alternated pairs (docs/benchmarks.md round 20). Memory grows only as the database does.
 */
const PAGE_CACHE_KIB = -64 * 1024;

/**
 * better-sqlite3 is synchronous and has one writer. Transactions take an async lock on the
 * writer connection so that another request's statements never land inside them; reads outside
 * a transaction go to a second connection, which WAL lets run beside the writer.
 */
export class SqliteDatabase implements Database {
  readonly dialect = "sqlite" as const;
  private readonly writer: Connection;
  private readonly reader: Connection;
  private lock: Promise<void> = Promise.resolve();
  /** Development assertions (SCAIVAULT_STORAGE_GUARDS), null in production: sqlite-guards.ts. */
  private readonly guards: TransactionGuards | null;
  private readonly queue: QueuedTransaction[] = [];
  private groupScheduled = false;
  private groupRunning = false;
  /** Moves after every commit this process makes: shared reads are never reused across one. */
  private commits = 0;
  private readonly shared = new TurnMemo<unknown>(() => this.commits);
  private checkpointer: SqliteCheckpointer | null = null;

  constructor(
    readonly file: string,
    options: { synchronous?: "NORMAL" | "FULL"; guardTransactions?: boolean; observeStatement?: ObserveStatement; checkpoints?: { intervalMs?: number; limitFrames?: number } } = {},
  ) {
    const observe = options.observeStatement ?? unobserved;
    this.guards = options.guardTransactions ? new TransactionGuards() : null;
    // The directory holds the database (and, by default, the root key file): owner only.
    if (file !== ":memory:") {
      mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
      ownerOnly(file);
    }
    try {
      const writer = new BetterSqlite3(file);
      // First: switching to WAL needs a lock another process may hold for a moment.
      writer.pragma("busy_timeout = 5000");
      writer.pragma("journal_mode = WAL");
      writer.pragma(`synchronous = ${options.synchronous ?? "NORMAL"}`);
      writer.pragma("foreign_keys = ON");
      writer.pragma(`cache_size = ${PAGE_CACHE_KIB}`);
      this.writer = new Connection(writer, observe);
      const reader = file === ":memory:" ? writer : new BetterSqlite3(file);
      reader.pragma("busy_timeout = 5000");
      reader.pragma(`cache_size = ${PAGE_CACHE_KIB}`);
      this.reader = new Connection(reader, observe);
      if (file !== ":memory:") {
        // SQLite gives -wal and -shm the database file's mode; files left by an older version are fixed here.
        for (const suffix of ["-wal", "-shm"]) if (existsSync(file + suffix)) chmodSync(file + suffix, 0o600);
        writer.pragma("wal_autocheckpoint = 0");
        // The worker restarts the WAL near its limit, so the file stays about that size. A larger
        // one (left by an older version, or grown while the worker lagged) is cut back to twice the
        // limit at a restart, and three times the limit counts as oversized without the worker.
        const limitFrames = options.checkpoints?.limitFrames ?? WAL_LIMIT_FRAMES;
        const limitBytes = limitFrames * Number(writer.pragma("page_size", { simple: true }));
        writer.pragma(`journal_size_limit = ${2 * limitBytes}`);
        const onFailure = () => {
          // Without the worker the WAL would grow without end: back to SQLite's own checkpoints.
          if (writer.open) writer.pragma("wal_autocheckpoint = 1000");
        };
        this.checkpointer = new SqliteCheckpointer(file, onFailure, { ...options.checkpoints, limitFrames, fileLimitBytes: 3 * limitBytes });
      }
    } catch (error) {
      throw classify(error);
    }
  }

  private async withLock<T>(work: () => Promise<T>): Promise<T> {
    // Waiting for the lock we hold would hang forever: fail loudly instead.
    this.outsideTransaction();
    const previous = this.lock;
    let release!: () => void;
    this.lock = new Promise((resolve) => (release = resolve));
    await previous;
    try {
      return await work();
    } finally {
      release();
    }
  }

  private outsideTransaction(): void {
    this.guards?.requireOutside();
  }

  async all<T>(sql: string, params?: readonly SqlParam[]): Promise<T[]> {
    this.outsideTransaction();
    return this.readConnection().all<T>(sql, params);
  }
  async get<T>(sql: string, params?: readonly SqlParam[]): Promise<T | undefined> {
    this.outsideTransaction();
    return this.readConnection().get<T>(sql, params);
  }

  /**
   * Each commit by the writer makes the reader connection reload the pages it reads; the writer's
   * own cache stays warm. So reads go through the writer whenever it has no transaction open (its
   * uncommitted writes must never be seen), and through the reader otherwise.
   */
  private readConnection(): Connection {
    return this.writer.handle.inTransaction ? this.reader : this.writer;
  }
  run(sql: string, params?: readonly SqlParam[]): Promise<{ changes: number }> {
    return this.withLock(async () => {
      try {
        return await this.writer.run(sql, params);
      } finally {
        this.commits += 1;
      }
    });
  }

  async getShared<T>(sql: string, params?: readonly SqlParam[]): Promise<T | undefined> {
    this.outsideTransaction();
    return this.shared.get(sharedReadKey(sql, params), () => {
      const connection = this.readConnection();
      const start = performance.now();
      try {
        return connection.allSync<T>(sql, params)[0];
      } finally {
        connection.observe(secondsSince(start));
      }
    }) as T | undefined;
  }

  /**
   * Group commit: transactions that arrive while the writer is busy run back to back inside one
   * physical transaction, each in its own savepoint, and all settle after the one COMMIT. Each
   * keeps its atomicity (a failure rolls back to its savepoint only) and its isolation (they run
   * one after another), and none is answered before it is durable — but a commit writes the WAL
   * once for many of them, which is what limited writes per second.
   */
  transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
    this.outsideTransaction();
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work: work as (tx: Queryable) => Promise<unknown>, resolve: resolve as (value: unknown) => void, reject });
      this.scheduleGroup();
    });
  }

  private scheduleGroup(): void {
    if (this.groupScheduled || this.queue.length === 0) return;
    this.groupScheduled = true;
    void this.withLock(async () => {
      this.groupScheduled = false;
      // Writes wait (in the queue, not on the event loop) while the worker starts an oversized WAL over.
      if (this.checkpointer?.walOversized()) await this.checkpointer.restart();
      await this.runGroup(this.queue.splice(0, MAX_GROUP));
    }).finally(() => this.scheduleGroup());
  }

  /** The writer (busy while a group runs) and the reader: the docs' pool figures, for SQLite. */
  poolStats(): { size: number; available: number; waiting: number } {
    const size = this.reader === this.writer ? 1 : 2;
    return { size, available: size - (this.groupRunning ? 1 : 0), waiting: this.queue.length };
  }

  private async runGroup(group: QueuedTransaction[]): Promise<void> {
    this.groupRunning = true;
    try {
      await this.runGroupOn(group);
    } finally {
      this.groupRunning = false;
    }
  }

  private async runGroupOn(group: QueuedTransaction[]): Promise<void> {
    // Reset before any caller learns the outcome: settling only queues their continuations, and
    // this finally runs before them (their reads may go to the writer, outside the transaction).
    try {
      const writer = this.writer;
      const alone = group.length === 1;
      const outcomes: (() => void)[] = [];
      try {
        // Each grouped write runs in a savepoint, whose original pages SQLite keeps in a sub-journal:
        // past 64 KiB a temporary file under /var/tmp, written a page at a time. That was ~45 of a
        // PUT's 55 write syscalls (issue 14), and page images on disk. SQLite decides where at BEGIN,
        // so memory holds them for the group's transaction only; sorts and GROUP BYs of reads outside
        // it still spill to disk (a summary over millions of entries must not sit in RAM). Crash
        // recovery never reads a sub-journal: WAL mode recovers from the WAL alone.
        writer.runSync("PRAGMA temp_store = MEMORY");
        writer.runSync("BEGIN IMMEDIATE");
      } catch (error) {
        for (const item of group) item.reject(error);
        return;
      }
      for (const [index, item] of group.entries()) {
        if (!alone) writer.runSync("SAVEPOINT grouped");
        try {
          const guards = this.guards;
          const result = await (guards ? guards.run(() => item.work(writer)) : item.work(writer));
          if (!alone) writer.runSync("RELEASE grouped");
          outcomes.push(() => item.resolve(result));
        } catch (error) {
          if (!writer.handle.inTransaction) {
            // SQLite rolled back the whole transaction (e.g. disk full): nothing before it in the
            // group was committed either, and the rest have not run; they all fail the same way.
            item.reject(error);
            for (const earlier of group.slice(0, index)) earlier.reject(error);
            for (const later of group.slice(index + 1)) later.reject(error);
            return;
          }
          if (alone) writer.runSync("ROLLBACK");
          else {
            writer.runSync("ROLLBACK TO grouped");
            writer.runSync("RELEASE grouped");
          }
          outcomes.push(() => item.reject(error));
        }
      }
      if (alone && !writer.handle.inTransaction) {
        for (const settle of outcomes) settle();
        return;
      }
      try {
        writer.runSync("COMMIT");
      } catch (error) {
        if (writer.handle.inTransaction) writer.runSync("ROLLBACK");
        for (const item of group) item.reject(error);
        return;
      } finally {
        this.commits += 1;
      }
      for (const settle of outcomes) settle();
    } finally {
      this.fileTempStore();
    }
  }

  /** Temporary structures of statements outside write transactions go to files again. */
  private fileTempStore(): void {
    try {
      this.writer.runSync("PRAGMA temp_store = DEFAULT");
    } catch {
      // Only inside a transaction can this fail, and every path here has ended it.
    }
  }

  migrate(migrations: readonly Migration[]): Promise<string[]> {
    return runMigrations(this, migrations, { dialect: "sqlite", blob: "BLOB", byteText: "TEXT" });
  }

  async ping(): Promise<void> {
    this.reader.allSync("SELECT 1");
  }

  async close(): Promise<void> {
    await this.checkpointer?.close();
    await this.withLock(async () => {
      if (this.reader.handle !== this.writer.handle) this.reader.handle.close();
      this.writer.handle.close();
    });
  }
}
