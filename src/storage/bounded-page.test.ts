import { beforeAll, expect, it } from "vitest";
import { describeEachBackend, useScratchDatabase } from "../testing/backends.js";
import { statementsDuring } from "../testing/plans.js";
import { boundedPage, PAGE_SCAN_LIMIT, type Condition, type PageSpec } from "./bounded-page.js";
import type { Database, SqlParam } from "./contract.js";

/**
 * The bounded walk against both adapters directly: paging through it yields exactly what one
 * unbounded query yields, in order, across window edges that fall inside runs of equal leading
 * values; a filter that matches little gets short pages, each looking at a bounded number of rows.
 */
const SCOPE_ROWS = 45_000;
const RARE = [5, 21_500, 44_000];

interface Item {
  id: string;
  at: number;
  kind: string;
}

describeEachBackend("bounded pages", (backend) => {
  const database = useScratchDatabase(backend, [
    {
      id: "9101_walk_items",
      up: () => ["CREATE TABLE walk_items (scope TEXT NOT NULL, id TEXT NOT NULL PRIMARY KEY, at BIGINT NOT NULL, kind TEXT NOT NULL)", "CREATE INDEX walk_items_by_id ON walk_items (scope, id)", "CREATE INDEX walk_items_by_at ON walk_items (scope, at, id)"],
    },
  ], 3);
  let db: Database;

  beforeAll(async () => {
    db = database();
    const pad = backend === "sqlite" ? "printf('%06d', g)" : "lpad(g::text, 6, '0')";
    // `at` repeats in runs of 300 (window edges fall inside runs); every 10th row is `tenth`; three `rare`.
    const kind = `CASE WHEN g IN (${RARE.join(", ")}) THEN 'rare' WHEN g % 10 = 0 THEN 'tenth' ELSE 'common' END`;
    await db.run(
      `INSERT INTO walk_items (scope, id, at, kind) WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < ${SCOPE_ROWS})
       SELECT 'a', 'i' || ${pad}, (g * 7919 % ${SCOPE_ROWS}) / 300, ${kind} FROM s`,
    );
    await db.run(`INSERT INTO walk_items (scope, id, at, kind) WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < 50) SELECT 'b', 'j' || ${pad}, g, 'rare' FROM s`);
  }, 120_000);

  const spec = (filters: Condition[], order: PageSpec["order"], descending: boolean, limit: number, after: SqlParam[] | null): PageSpec => ({
    table: "walk_items", index: order.length === 1 ? "walk_items_by_id" : "walk_items_by_at", columns: "id, at, kind", scope: [{ sql: "scope = ?", params: ["a"] }], filters, order, descending, after, limit,
  });

  async function everyPage(filters: Condition[], order: PageSpec["order"], descending: boolean, limit: number) {
    const pages: Item[][] = [];
    let after: SqlParam[] | null = null;
    do {
      const page: Awaited<ReturnType<typeof boundedPage<Item>>> = await boundedPage<Item>(db, spec(filters, order, descending, limit, after));
      expect(page.rows.length).toBeLessThanOrEqual(limit);
      pages.push(page.rows.map((row) => ({ ...row, at: Number(row.at) })));
      after = page.next;
    } while (after !== null);
    return pages;
  }

  async function unbounded(filter: string, orderBy: string): Promise<Item[]> {
    return (await db.all<Item>(`SELECT id, at, kind FROM walk_items WHERE scope = 'a'${filter} ORDER BY ${orderBy}`)).map((row) => ({ ...row, at: Number(row.at) }));
  }

  it("a filter that matches three rows in 45,000: short pages, each looking at a bounded number of rows, together exactly those three", async () => {
    const rare = [{ sql: "kind = ?", params: ["rare"] }];
    const { statements, value: first } = await statementsDuring(db, () => boundedPage<Item>(db, spec(rare, ["id"], false, 100, null)));
    // The first page stops after PAGE_SCAN_LIMIT rows with the one match among them, and says where to go on.
    expect(first.rows.map((row) => row.id)).toEqual(["i000005"]);
    expect(first.next).not.toBeNull();
    // Windows of 202, 404, 808, 1,616, then 2,000 rows: 13 of them reach 20,000, two statements each.
    expect(statements.length).toBe(26);
    const pages = await everyPage(rare, ["id"], false, 100);
    expect(pages.flat().map((row) => row.id)).toEqual(RARE.map((n) => `i${String(n).padStart(6, "0")}`));
    expect(pages.length).toBe(Math.ceil(SCOPE_ROWS / PAGE_SCAN_LIMIT));
  }, 60_000);

  it("pages of a dense filter, by two columns with long runs of equal values, either direction: the unbounded query's rows, in order", async () => {
    const tenth = [{ sql: "kind = ?", params: ["tenth"] }];
    for (const descending of [true, false]) {
      const direction = descending ? "DESC" : "ASC";
      const pages = await everyPage(tenth, ["at", "id"], descending, 450);
      expect(pages.flat()).toEqual(await unbounded(" AND kind = 'tenth'", `at ${direction}, id ${direction}`));
      expect(pages.slice(0, -1).every((page) => page.length === 450)).toBe(true);
    }
  }, 60_000);

  it("without filters the index serves the page in one statement, and paging yields every row of the scope once", async () => {
    const { statements } = await statementsDuring(db, () => boundedPage<Item>(db, spec([], ["id"], false, 1000, null)));
    expect(statements.length).toBe(1);
    const pages = await everyPage([], ["at", "id"], true, 5_000);
    expect(pages.flat()).toEqual(await unbounded("", "at DESC, id DESC"));
  }, 60_000);
});
