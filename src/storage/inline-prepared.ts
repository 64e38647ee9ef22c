import type { StatementNames } from "./statement-names.js";

/**
 * SQL-level prepared statements (`PREPARE` once per connection, then `EXECUTE name(literals)`) for
 * the statements that travel inside a simple-query message: a transaction's first statement (with
 * BEGIN) and the statements sent with COMMIT. The extended protocol's named statements cannot go
 * there, so without this they are parsed and planned on every execution (measured on PUT: the
 * secret-row lock, the audit insert and the outbox insert, 0.14 ms of PostgreSQL planning per
 * write; docs/benchmarks.md, round 7).
 *
 * A statement is prepared on a connection only outside any transaction, just before that
 * connection's next BEGIN, so a PREPARE that fails can never abort a transaction: the statement
 * then stays inline for good. PREPARE is not transactional (a rollback keeps it), so what succeeded
 * stays prepared for the connection's life.
 */
export class InlinePrepared {
  /** Per connection: the names it has PREPAREd. */
  private readonly prepared = new WeakMap<object, Set<string>>();
  /** Per connection: statements to PREPARE before its next transaction (name → text with $n). */
  private readonly wanted = new WeakMap<object, Map<string, string>>();
  /** Statements whose PREPARE failed: always inline. */
  private readonly refused = new Set<string>();

  constructor(private readonly names: StatementNames) {}

  /**
   * `EXECUTE` of the statement when `connection` has it prepared, else null (the caller inlines
   * the text); `numberedText` uses `$n`, `literals` gives the values as untyped SQL literals (null
   * when one cannot be inlined).
   */
  execute(connection: object, numberedText: string, literals: () => readonly string[] | null): string | null {
    const name = this.names.nameOf(numberedText);
    if (name === undefined) return null;
    const sqlName = `q${name}`;
    if (this.refused.has(sqlName)) return null;
    if (this.prepared.get(connection)?.has(sqlName)) {
      const values = literals();
      if (values === null) return null;
      return values.length ? `EXECUTE ${sqlName}(${values.join(", ")})` : `EXECUTE ${sqlName}`;
    }
    let wanted = this.wanted.get(connection);
    if (!wanted) this.wanted.set(connection, (wanted = new Map()));
    wanted.set(sqlName, numberedText);
    return null;
  }

  /**
   * Before `connection` begins a transaction: PREPAREs what it was asked for. `send` runs one
   * simple-query statement; a refusal by PostgreSQL leaves that statement inline, and a lost
   * connection is thrown as `send` threw it.
   */
  async prepareWanted(connection: object, send: (sql: string) => Promise<void>, isStatementError: (error: unknown) => boolean): Promise<void> {
    const wanted = this.wanted.get(connection);
    if (!wanted || wanted.size === 0) return;
    this.wanted.delete(connection);
    let prepared = this.prepared.get(connection);
    if (!prepared) this.prepared.set(connection, (prepared = new Set()));
    for (const [sqlName, text] of wanted) {
      if (prepared.has(sqlName) || this.refused.has(sqlName)) continue;
      try {
        await send(`PREPARE ${sqlName} AS ${text}`);
        prepared.add(sqlName);
      } catch (error) {
        if (!isStatementError(error)) throw error;
        this.refused.add(sqlName);
      }
    }
  }
}
