import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postgresAvailable, scratchDatabase, type ScratchDatabase } from "../testing/backends.js";
import { PostgresDatabase } from "./postgres.js";

/**
 * PostgreSQL keeps the statements a connection sends again and again as named prepared statements
 * (parsed and planned once per connection): they answer exactly as unnamed ones do, a `*` select
 * survives another node's migration, and the setting turns it off.
 */
describe.skipIf(!postgresAvailable())("postgres: recurring statements are prepared once per connection", () => {
  let scratch: ScratchDatabase;
  const opened: PostgresDatabase[] = [];
  // One connection, so every statement of a test goes through the session it then inspects.
  const open = (preparedStatements?: boolean) => {
    const db = new PostgresDatabase(scratch.url, { max: 1, preparedStatements });
    opened.push(db);
    return db;
  };
  /** A migration as another node runs it: its own session, not the pool under test. */
  const fromAnotherSession = async (sql: string) => {
    const other = new pg.Client({ connectionString: scratch.url });
    await other.connect();
    try {
      await other.query(sql);
    } finally {
      await other.end();
    }
  };
  const preparedHere = (db: PostgresDatabase) =>
    db.all<{ statement: string }>("SELECT statement FROM pg_prepared_statements WHERE NOT from_sql").then((rows) => rows.map((r) => r.statement));

  beforeAll(async () => {
    scratch = await scratchDatabase("postgres");
    const setup = new PostgresDatabase(scratch.url, { max: 1 });
    await setup.run("CREATE TABLE items (id TEXT PRIMARY KEY, n INTEGER NOT NULL)");
    await setup.run("INSERT INTO items (id, n) VALUES ('a', 1), ('b', 2)");
    await setup.close();
  });
  afterAll(async () => {
    for (const db of opened) await db.close();
    await scratch?.drop();
  });

  it("a statement sent a second time is prepared on the connection and answers as before, inside transactions too", async () => {
    const db = open();
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await db.all("SELECT n FROM items WHERE id = ?", ["b"]));
    expect(answers).toEqual(Array(4).fill([{ n: 2 }]));
    const inTransaction = await db.transaction(async (tx) => {
      const rows = [];
      // The first statement goes out with BEGIN (inlined); the rest use the prepared statement.
      for (let i = 0; i < 3; i++) rows.push(await tx.all("SELECT n FROM items WHERE id = ?", [i === 2 ? "a" : "b"]));
      await tx.run("UPDATE items SET n = n + ? WHERE id = ?", [0, "a"]);
      await tx.run("UPDATE items SET n = n + ? WHERE id = ?", [0, "a"]);
      return rows;
    });
    expect(inTransaction).toEqual([[{ n: 2 }], [{ n: 2 }], [{ n: 1 }]]);
    const prepared = await preparedHere(db);
    expect(prepared).toContain("SELECT n FROM items WHERE id = $1");
    expect(prepared).toContain("UPDATE items SET n = n + $1 WHERE id = $2");
  });

  it("statements sent inline (a transaction's first, with BEGIN; those sent with COMMIT) are PREPAREd between transactions, then EXECUTEd, and answer as before", async () => {
    const db = open();
    await db.run("CREATE TABLE IF NOT EXISTS log (id TEXT PRIMARY KEY, at BIGINT NOT NULL, note TEXT)");
    const nasty = ["'", "\\'", "$$", "$1", "?", "-- x", "';DROP TABLE items;--", "日本語 😀", "a\nb"];
    const seen: unknown[] = [];
    for (let i = 0; i < 5; i++) {
      seen.push(
        await db.transaction(async (tx) => {
          const first = await tx.all<{ n: number }>("SELECT n FROM items WHERE id = ? AND n > ?", ["b", -5]);
          expect(tx.deferWrite?.("INSERT INTO log (id, at, note) VALUES (?, ?, ?)", [`d${i}`, 3_000_000_000 + i, nasty[i]])).toBe(true);
          expect(tx.runAtCommit?.("UPDATE items SET n = n + ? WHERE id = ?", [0, "a"], (error) => error as Error)).toBe(true);
          return first;
        }),
      );
    }
    expect(seen).toEqual(Array(5).fill([{ n: 2 }]));
    const logged = await db.all<{ id: string; at: number; note: string }>("SELECT id, at, note FROM log ORDER BY id");
    expect(logged).toEqual(nasty.slice(0, 5).map((note, i) => ({ id: `d${i}`, at: 3_000_000_000 + i, note })));
    const fromSql = (await db.all<{ statement: string }>("SELECT statement FROM pg_prepared_statements WHERE from_sql")).map((r) => r.statement);
    expect(fromSql.every((statement) => /^PREPARE qsv_\d+ AS /.test(statement))).toBe(true);
    expect(fromSql.map((statement) => statement.replace(/^PREPARE qsv_\d+ AS /, "")).sort()).toEqual([
      "INSERT INTO log (id, at, note) VALUES ($1, $2, $3)",
      "SELECT n FROM items WHERE id = $1 AND n > $2",
      "UPDATE items SET n = n + $1 WHERE id = $2",
    ]);
    // A failing statement sent with COMMIT rolls back; the next transactions still run on the connection.
    const failed = db.transaction(async (tx) => {
      await tx.all("SELECT n FROM items WHERE id = ? AND n > ?", ["b", -5]);
      tx.deferWrite?.("INSERT INTO log (id, at, note) VALUES (?, ?, ?)", ["d0", 1, "again"]);
    });
    await expect(failed).rejects.toMatchObject({ kind: "unique_violation" });
    expect(await db.transaction((tx) => tx.all("SELECT n FROM items WHERE id = ? AND n > ?", ["a", -5]))).toEqual([{ n: 1 }]);
  });

  it("a statement PostgreSQL refuses to PREPARE (a parameter it cannot type) stays inline and keeps answering", async () => {
    const db = open();
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await db.transaction((tx) => tx.all("SELECT ? IS NULL AS empty", [i % 2 ? null : "x"])));
    expect(answers).toEqual([[{ empty: false }], [{ empty: true }], [{ empty: false }], [{ empty: true }]]);
    const fromSql = await db.all<{ statement: string }>("SELECT statement FROM pg_prepared_statements WHERE from_sql AND statement LIKE '%IS NULL AS empty%'");
    expect(fromSql).toEqual([]);
  });

  it("a `SELECT *` stays unprepared, so it still answers after another session adds a column", async () => {
    const db = open();
    for (let i = 0; i < 3; i++) expect(await db.all("SELECT * FROM items WHERE id = ?", ["a"])).toEqual([{ id: "a", n: 1 }]);
    await fromAnotherSession("ALTER TABLE items ADD COLUMN note TEXT");
    // Prepared, PostgreSQL would refuse this: "cached plan must not change result type" (0A000).
    expect(await db.all("SELECT * FROM items WHERE id = ?", ["a"])).toEqual([{ id: "a", n: 1, note: null }]);
    expect(await preparedHere(db)).not.toContain("SELECT * FROM items WHERE id = $1");
  });

  it("after another session retypes a column a prepared statement returns, one transaction fails (0A000) and the next runs on a new connection", async () => {
    const db = open();
    await db.run("CREATE TABLE retyped (id TEXT PRIMARY KEY, n INTEGER NOT NULL)");
    await db.run("INSERT INTO retyped (id, n) VALUES ('a', 1)");
    const read = () => db.transaction(async (tx) => {
      await tx.run("UPDATE retyped SET n = n WHERE id = ?", ["a"]);
      return tx.all<{ n: unknown }>("SELECT n FROM retyped WHERE id = ?", ["a"]);
    });
    for (let i = 0; i < 3; i++) expect(await read()).toEqual([{ n: 1 }]);
    await fromAnotherSession("ALTER TABLE retyped ALTER COLUMN n TYPE BIGINT");
    await expect(read()).rejects.toMatchObject({ kind: "other", cause: { code: "0A000" } });
    // BIGINT columns come back as numbers (the adapter's type parser).
    expect(await read()).toEqual([{ n: 1 }]);
    // Outside a transaction: pg-pool drops the connection whose statement failed.
    const direct = () => db.all<{ n: unknown }>("SELECT n FROM retyped WHERE id = ?", ["a"]);
    for (let i = 0; i < 3; i++) expect(await direct()).toEqual([{ n: 1 }]);
    await fromAnotherSession("ALTER TABLE retyped ALTER COLUMN n TYPE INTEGER");
    await expect(direct()).rejects.toMatchObject({ cause: { code: "0A000" } });
    expect(await direct()).toEqual([{ n: 1 }]);
  });

  it("with prepared statements off (DATABASE_PREPARED_STATEMENTS=false), nothing is prepared", async () => {
    const db = open(false);
    for (let i = 0; i < 4; i++) expect(await db.all("SELECT n FROM items WHERE id = ?", ["a"])).toEqual([{ n: 1 }]);
    expect(await preparedHere(db)).toEqual([]);
  });
});
