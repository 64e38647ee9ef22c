import type { Database, Migration, ObserveStatement, Queryable, SqlParam } from "../storage/contract.js";
import { secondsSince } from "../storage/contract.js";

/** Told every write's outcome (null: it committed), for readiness (write-health.ts). */
type NoteWrite = (error: unknown) => void;

/**
 * The database as every component sees it: each transaction's time (from the call until it
 * settled, group-commit wait included) recorded in `scaivault_db_latency_seconds`, and every
 * write's outcome told to readiness. Statements pass straight through: the adapters time them
 * (`OpenOptions.observeStatement`), which costs no promise of its own per statement.
 */
class InstrumentedDatabase implements Database {
  readonly dialect: Database["dialect"];
  readonly poolStats?: Database["poolStats"];

  constructor(private readonly db: Database, private readonly observe: ObserveStatement, private readonly noteWrite: NoteWrite) {
    this.dialect = db.dialect;
    if (db.poolStats) this.poolStats = () => db.poolStats!();
  }

  all<T>(sql: string, params?: readonly SqlParam[]): Promise<T[]> {
    return this.db.all<T>(sql, params);
  }
  get<T>(sql: string, params?: readonly SqlParam[]): Promise<T | undefined> {
    return this.db.get<T>(sql, params);
  }
  getShared<T>(sql: string, params?: readonly SqlParam[]): Promise<T | undefined> {
    return this.db.getShared<T>(sql, params);
  }
  run(sql: string, params?: readonly SqlParam[]): Promise<{ changes: number }> {
    return this.noted(this.db.run(sql, params), null);
  }
  // The adapter's transaction() must be called synchronously: the SQLite group commit relies on
  // transactions of one turn being queued in that turn.
  transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.noted(this.db.transaction(work), performance.now());
  }
  /** `start`: when given, the time until `work` settles is observed. */
  private noted<T>(work: Promise<T>, start: number | null): Promise<T> {
    return work.then(
      (value) => {
        if (start !== null) this.observe(secondsSince(start));
        this.noteWrite(null);
        return value;
      },
      (error: unknown) => {
        if (start !== null) this.observe(secondsSince(start));
        this.noteWrite(error);
        throw error;
      },
    );
  }
  /** Background work is timed too, through its own (long-deadline) database. */
  background(): Database {
    const inner = this.db.background?.() ?? this.db;
    return inner === this.db ? this : new InstrumentedDatabase(inner, this.observe, () => {});
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

/** `observe`: told each transaction's duration in seconds; `noteWrite`: each write's outcome. */
export function instrumentDatabase(db: Database, observe: ObserveStatement, noteWrite: NoteWrite = () => {}): Database {
  return new InstrumentedDatabase(db, observe, noteWrite);
}
