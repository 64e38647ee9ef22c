import pg from "pg";
import type { Database, Migration, Queryable, SqlParam } from "./contract.js";
import { StorageError } from "./contract.js";
import { runMigrations } from "./migrate.js";
import { sharedReadKey, TurnCoalescer } from "./coalesce.js";

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

const placeholderCache = new Map<string, string>();

/** `?` → `$1…$n`. Our SQL never puts a `?` inside a literal, so a plain scan is exact. */
function numbered(sql: string): string {
  let converted = placeholderCache.get(sql);
  if (converted === undefined) {
    let n = 0;
    converted = sql.replace(/\?/g, () => `$${++n}`);
    if (placeholderCache.size > 2000) placeholderCache.clear();
    placeholderCache.set(sql, converted);
  }
  return converted;
}

function values(params: readonly SqlParam[]): unknown[] {
  return params.map((p) => (typeof p === "boolean" ? (p ? 1 : 0) : typeof p === "bigint" ? p.toString() : p));
}

class PgQueryable implements Queryable {
  constructor(private readonly client: pg.Pool | pg.PoolClient) {}

  async all<T>(sql: string, params: readonly SqlParam[] = []): Promise<T[]> {
    try {
      return (await this.client.query(numbered(sql), values(params))).rows as T[];
    } catch (error) {
      throw classify(error);
    }
  }
  async get<T>(sql: string, params?: readonly SqlParam[]): Promise<T | undefined> {
    return (await this.all<T>(sql, params))[0];
  }
  async run(sql: string, params: readonly SqlParam[] = []): Promise<{ changes: number }> {
    try {
      return { changes: (await this.client.query(numbered(sql), values(params))).rowCount ?? 0 };
    } catch (error) {
      throw classify(error);
    }
  }
}

export class PostgresDatabase implements Database {
  readonly dialect = "postgres" as const;
  private readonly pool: pg.Pool;
  private readonly direct: PgQueryable;
  private readonly shared = new TurnCoalescer<{ sql: string; params?: readonly SqlParam[] }, unknown>((read) => this.direct.get(read.sql, read.params));

  constructor(connectionString: string, options: { max?: number } = {}) {
    this.pool = new pg.Pool({
      connectionString,
      max: options.max ?? 10,
      connectionTimeoutMillis: 1000,
      idleTimeoutMillis: 10_000,
    });
    // An idle client losing its server must not crash the process; the next query reports it.
    this.pool.on("error", () => {});
    this.direct = new PgQueryable(this.pool);
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
    const control = new PgQueryable(client);
    try {
      await control.run("BEGIN");
      const result = await work(control);
      await control.run("COMMIT");
      return result;
    } catch (error) {
      try {
        await client.query("ROLLBACK");
      } catch {
        broken = true;
      }
      // Statement errors were classified where they happened; domain errors pass through as thrown.
      throw error;
    } finally {
      client.off("error", onError);
      client.release(broken);
    }
  }

  migrate(migrations: readonly Migration[]): Promise<string[]> {
    return runMigrations(this, migrations, { dialect: "postgres", blob: "BYTEA", byteText: 'TEXT COLLATE "C"' });
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
    this.closing ??= this.pool.end();
    return this.closing;
  }
}
