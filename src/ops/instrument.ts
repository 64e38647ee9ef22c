import type { Histogram } from "prom-client";
import type { Database, Migration, Queryable, SqlParam } from "../storage/contract.js";

type Observe = (seconds: number) => void;

const seconds = (since: number) => (performance.now() - since) / 1000;

/** Explicit delegation rather than a Proxy: this sits under every statement of every request. */
class TimedQueryable implements Queryable {
  constructor(protected readonly inner: Queryable, protected readonly observe: Observe) {}

  async all<T>(sql: string, params?: readonly SqlParam[]): Promise<T[]> {
    const start = performance.now();
    try {
      return await this.inner.all<T>(sql, params);
    } finally {
      this.observe(seconds(start));
    }
  }
  async get<T>(sql: string, params?: readonly SqlParam[]): Promise<T | undefined> {
    const start = performance.now();
    try {
      return await this.inner.get<T>(sql, params);
    } finally {
      this.observe(seconds(start));
    }
  }
  async run(sql: string, params?: readonly SqlParam[]): Promise<{ changes: number }> {
    const start = performance.now();
    try {
      return await this.inner.run(sql, params);
    } finally {
      this.observe(seconds(start));
    }
  }
}

class TimedDatabase extends TimedQueryable implements Database {
  readonly dialect: Database["dialect"];
  readonly poolStats?: Database["poolStats"];

  constructor(private readonly db: Database, observe: Observe) {
    super(db, observe);
    this.dialect = db.dialect;
    if (db.poolStats) this.poolStats = () => db.poolStats!();
  }

  async getShared<T>(sql: string, params?: readonly SqlParam[]): Promise<T | undefined> {
    const start = performance.now();
    try {
      return await this.db.getShared<T>(sql, params);
    } finally {
      this.observe(seconds(start));
    }
  }
  async transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      return await this.db.transaction((tx) => work(new TimedQueryable(tx, this.observe)));
    } finally {
      this.observe(seconds(start));
    }
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
export function instrumentDatabase(db: Database, histogram: Histogram<string>): Database {
  return new TimedDatabase(db, (value) => histogram.observe(value));
}
