import type { Histogram } from "prom-client";
import type { Database, Migration, Queryable, SqlParam } from "../storage/contract.js";

type Observe = (seconds: number) => void;
/** Told every write's outcome (null: it committed), for readiness (write-health.ts). */
type NoteWrite = (error: unknown) => void;

/** Explicit delegation rather than a Proxy: this sits under every statement of every request. */
class TimedQueryable implements Queryable {
  constructor(protected readonly inner: Queryable, protected readonly observe: Observe) {}

  protected async timed<T>(work: () => Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      return await work();
    } finally {
      this.observe((performance.now() - start) / 1000);
    }
  }

  all<T>(sql: string, params?: readonly SqlParam[]): Promise<T[]> {
    return this.timed(() => this.inner.all<T>(sql, params));
  }
  get<T>(sql: string, params?: readonly SqlParam[]): Promise<T | undefined> {
    return this.timed(() => this.inner.get<T>(sql, params));
  }
  run(sql: string, params?: readonly SqlParam[]): Promise<{ changes: number }> {
    return this.timed(() => this.inner.run(sql, params));
  }
  /** Timed as part of the COMMIT that carries it. */
  runAtCommit(sql: string, params: readonly SqlParam[], failure: (error: unknown) => Error): boolean {
    return this.inner.runAtCommit?.(sql, params, failure) ?? false;
  }
  deferToCommit(sql: string, params: readonly SqlParam[]): boolean {
    return this.inner.deferToCommit?.(sql, params) ?? false;
  }
  /** Timed as part of the first statement that carries it. */
  alongFirst<T>(sql: string, params: readonly SqlParam[]): (() => Promise<T[] | null>) | null {
    return this.inner.alongFirst?.<T>(sql, params) ?? null;
  }
}

class TimedDatabase extends TimedQueryable implements Database {
  readonly dialect: Database["dialect"];
  readonly poolStats?: Database["poolStats"];

  constructor(private readonly db: Database, observe: Observe, private readonly noteWrite: NoteWrite) {
    super(db, observe);
    this.dialect = db.dialect;
    if (db.poolStats) this.poolStats = () => db.poolStats!();
  }

  getShared<T>(sql: string, params?: readonly SqlParam[]): Promise<T | undefined> {
    return this.timed(() => this.db.getShared<T>(sql, params));
  }
  // The adapter's transaction() must be called synchronously: the SQLite group commit relies on
  // transactions of one turn being queued in that turn.
  transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.noted(this.timed(() => this.db.transaction((tx) => work(new TimedQueryable(tx, this.observe)))));
  }
  override run(sql: string, params?: readonly SqlParam[]): Promise<{ changes: number }> {
    return this.noted(super.run(sql, params));
  }
  private noted<T>(work: Promise<T>): Promise<T> {
    return work.then(
      (value) => {
        this.noteWrite(null);
        return value;
      },
      (error: unknown) => {
        this.noteWrite(error);
        throw error;
      },
    );
  }
  /** Background work is timed too, through its own (long-deadline) database. */
  background(): Database {
    const inner = this.db.background?.() ?? this.db;
    return inner === this.db ? this : new TimedDatabase(inner, this.observe, () => {});
  }
  migrate(migrations: readonly Migration[]): Promise<string[]> {
    return this.db.migrate(migrations);
  }
  ping(): Promise<void> {
    return this.db.ping();
  }
  close(): Promise<void> {
    return this.db.close();
  }
}

/**
 * The database as every component sees it, with statement and transaction times recorded in
 * `scaivault_db_latency_seconds`.
 */
export function instrumentDatabase(db: Database, histogram: Histogram<string>, noteWrite: NoteWrite = () => {}): Database {
  return new TimedDatabase(db, (value) => histogram.observe(value), noteWrite);
}
