import { afterEach, beforeAll, expect, it, vi } from "vitest";
import type { Queryable, SqlParam } from "../storage/contract.js";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { countTurns, sharedTurns, statementTurns } from "../testing/turns.js";
import { AuditQueries } from "./query.js";
import { insertEntries } from "./test-fixtures.js";
import type { Visibility } from "./visibility.js";

/**
 * 6,000 under dense/ and 14,000 under other/: both past the walk's threshold of 5,000, and dense/
 * sparse enough in time (3 in 10) that a page of 1,000 spans several of the walk's windows.
 */
const TOTAL = 20_000;
// Yesterday, on a whole second: within the 30 days the summaries count.
const BASE = Math.floor(Date.now() / 1000) * 1000 - 86_400_000;

interface Entry {
  id: string;
  timestamp: number;
  action: string;
  secret_path: string;
}

/**
 * A prefix that thousands of entries match takes SQLite's walk along the time index (query.ts
 * densePrefix/walkPage) instead of one sort of every match; whichever way a query runs, the pages
 * must be exactly the plain order (timestamp, then id, newest first), ties across windows included.
 */
describeEachBackend("audit: a path_prefix that thousands of entries match", (backend) => {
  const vault = useVault(backend);
  const entries: Entry[] = [];

  beforeAll(async () => {
    // Three entries per millisecond (ties the walk's windows must split exactly), interleaved prefixes.
    for (let i = 0; i < TOTAL; i++) {
      entries.push({
        id: `log_dense${String(i).padStart(11, "0")}`,
        timestamp: BASE - Math.floor(i / 3),
        action: i % 5 === 0 ? "write" : "read",
        secret_path: i % 10 < 3 ? `dense/s${i % 40}` : `other/s${i % 40}`,
      });
    }
    await insertEntries(vault().vault.db, "dense", entries.map((e) => ({ ...e, identity_id: "sa:dense" })));
  });

  const expected = (filter: (e: Entry) => boolean) =>
    entries.filter(filter).sort((a, b) => b.timestamp - a.timestamp || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0)).map((e) => e.id);

  async function pages(query: string, limit: number): Promise<{ ids: string[]; pages: number }> {
    const ids: string[] = [];
    let cursor: string | null = null;
    let count = 0;
    do {
      const page: { status: number; body: { logs: Array<{ id: string }>; cursor: string | null } } = await vault().admin.get(`/v1/audit/logs?${query}&limit=${limit}${cursor ? `&cursor=${cursor}` : ""}`);
      expect(page.status).toBe(200);
      ids.push(...page.body.logs.map((l) => l.id));
      cursor = page.body.cursor;
      count++;
    } while (cursor && count < 100);
    return { ids, pages: count };
  }

  it("pages through every match of the dense prefix in (timestamp, id) order, ties split exactly", async () => {
    const dense = expected((e) => e.secret_path.startsWith("dense/"));
    expect(dense.length).toBe(6_000);
    expect((await pages("path_prefix=dense/", 1000)).ids).toEqual(dense);
    // Small pages end inside windows and inside runs of equal timestamps.
    const first = await pages("path_prefix=dense/", 97);
    expect(first.ids).toEqual(dense);
  });

  it("combines the prefix with other filters, and with a time range", async () => {
    expect((await pages("path_prefix=dense/&action=write", 500)).ids).toEqual(expected((e) => e.secret_path.startsWith("dense/") && e.action === "write"));
    const from = new Date(BASE - 1500).toISOString();
    const to = new Date(BASE - 200).toISOString();
    expect((await pages(`path_prefix=dense/&from=${from}&to=${to}`, 250)).ids).toEqual(
      expected((e) => e.secret_path.startsWith("dense/") && e.timestamp >= BASE - 1500 && e.timestamp < BASE - 200),
    );
    expect((await pages("path_prefix=other/", 1000)).ids).toEqual(expected((e) => e.secret_path.startsWith("other/")));
    // A prefix few entries match runs on its index, as before.
    expect((await pages("path_prefix=dense/s1", 1000)).ids).toEqual(expected((e) => e.secret_path.startsWith("dense/s1")));
  });

  afterEach(() => vi.restoreAllMocks());

  /**
   * The walk is there for its plan: each statement reads along the tenant's time index and stops at
   * its LIMIT. On PostgreSQL nothing but the walk's own settings pins that plan (round 18: without
   * them, 180–280 ms sorting every match), so the plans themselves are checked: every statement the
   * walk runs is explained on the same connection, with the same values, in the same transaction
   * (the walk only reads: `get` and `all` are all the wrapper needs).
   */
  it("walks along the time index: no scan of the table, no sort beyond a window", async () => {
    const db = vault().vault.db;
    const plans: { sql: string; plan: string[] }[] = [];
    // `all` and `get` of `q` that explain each audit_log read (not the dense count) before running it.
    const explained = (q: Pick<Queryable, "all">) => {
      const original = q.all.bind(q);
      const all = async <T,>(sql: string, params?: readonly SqlParam[]): Promise<T[]> => {
        if (/FROM audit_log\b/.test(sql) && !sql.includes("COUNT(*)")) plans.push({ sql, plan: await planOf(original, sql, params) });
        return original<T>(sql, params);
      };
      return { all, get: async <T,>(sql: string, params?: readonly SqlParam[]) => (await all<T>(sql, params))[0] };
    };
    if (backend === "postgres") {
      const transaction = db.transaction.bind(db);
      vi.spyOn(db, "transaction").mockImplementation((work) => transaction((tx) => work(Object.assign(Object.create(tx) as Queryable, explained(tx)))));
    } else {
      const { all, get } = explained(db);
      vi.spyOn(db, "all").mockImplementation(all);
      vi.spyOn(db, "get").mockImplementation(get);
    }
    const dense = expected((e) => e.secret_path.startsWith("dense/"));
    expect((await pages("path_prefix=dense/", 1000)).ids).toEqual(dense);
    // PostgreSQL records only inside the walk's transaction; SQLite's walk names its index.
    const walked = plans.filter((p) => backend === "postgres" || p.sql.includes("INDEXED BY"));
    // The walk serves the first two pages (then fewer than 5,000 matches lie behind the cursor),
    // each over two windows of 2,000 entries (3 in 10 match): a window edge and its rows, twice.
    expect(walked.length).toBeGreaterThanOrEqual(8);
    for (const { plan } of walked) {
      // Only along a time index: never the table, a bitmap of it, or the path index (every match).
      expect(plan.filter((step) => /Seq Scan|Bitmap|SCAN audit_log(?! USING)/.test(step))).toEqual([]);
      expect(plan.filter((step) => /Index/.test(step) && !/audit_log_(tenant|partner)_time/.test(step))).toEqual([]);
      // Ties on timestamp are put in id order within their run only (the index ends at timestamp):
      // PostgreSQL's Incremental Sort, SQLite's temp tree "for last term". A whole sort is allowed
      // only over a window, i.e. when every index read under it stops at the window's oldest entry.
      expect(plan.filter((step) => step.includes("TEMP B-TREE FOR ORDER BY"))).toEqual([]);
      if (plan.includes("Sort")) expect(plan.filter((step) => /^Index/.test(step) && !/"timestamp" >= /.test(step))).toEqual([]);
    }
  });

  /**
   * better-sqlite3 answers on the event loop, so every `await` of a SQLite read resolves at once:
   * without a yield between statements, a walk or scan of up to 20,000 entries is one turn of the
   * loop, during which the node reads no socket (8 auditors at once: 200 ms+ turns, and the load
   * guard refuses everyone). A callback queued for the next turn must get to run while they go on.
   */
  it("lets the event loop turn between the walk's windows and between the scan's batches", async () => {
    const queries = new AuditQueries(vault().vault.db, undefined as never, undefined as never); // page() asks no authorizer nor rollups
    const everything: Visibility = {
      partnerId: "ptn_default", tenantId: "tnt_default", includePartnerChain: false, isAdmin: true, identityId: "sa:auditor",
      canReadPath: () => true, canSee: () => true,
      scopeSql: () => ({ sql: "tenant_id = ?", params: ["tnt_default"] }), scopeArms: () => [{ sql: "tenant_id = ?", params: ["tnt_default"] }],
      owners: () => [{ tenant_id: "tnt_default", partner_id: "ptn_default" }],
    };
    // 1 in 10 matches: a page of 1,000 spans 10,000 entries, i.e. five windows of the walk...
    const walked = await turnsDuring(() => queries.page(everything, { path_prefix: "dense/", action: "write" }, 1000));
    expect(walked.result.logs.map((l) => l.id)).toEqual(expected((e) => e.secret_path.startsWith("dense/") && e.action === "write").slice(0, 1000));
    expect(walked.turns).toBeGreaterThanOrEqual(4);
    // ...and, for a caller who may see 1 in 10 entries, ten batches of the plain scan.
    const narrow: Visibility = { ...everything, isAdmin: false, canReadPath: (path) => /^dense\/s1\d?$/.test(path), canSee: (row) => row.secret_path !== null && /^dense\/s1\d?$/.test(row.secret_path) };
    const scanned = await turnsDuring(() => queries.page(narrow, {}, 1000));
    expect(scanned.result.logs.map((l) => l.id)).toEqual(expected((e) => /^dense\/s1\d?$/.test(e.secret_path)).slice(0, 1000));
    expect(scanned.turns).toBeGreaterThanOrEqual(8);
  });

  /**
   * SQLite's summaries count window by window (5,000 entries each) with a turn of the event loop
   * between them; the windows' groups must add up to exactly what one count over everything gives.
   * PostgreSQL counts in one statement (its node is not held meanwhile).
   */
  it("counts summaries window by window, a turn of the event loop each, merged exactly", async () => {
    const db = vault().vault.db;
    let trail: { status: number; body: { summary: Record<string, unknown> } } | undefined;
    const trailTurns = await statementTurns(db, /GROUP BY secret_path, identity_id/, async () => {
      trail = await vault().admin.get(`/v1/audit/identities/${encodeURIComponent("sa:dense")}`);
    });
    expect(trail!.status, JSON.stringify(trail!.body)).toBe(200);
    expect(trail!.body.summary).toMatchObject({
      total_events: TOTAL, successful_events: TOTAL, failed_events: 0, by_action: { read: 16_000, write: 4_000 }, paths_accessed: 40,
      first_seen: new Date(BASE - Math.floor((TOTAL - 1) / 3)).toISOString(), last_seen: new Date(BASE).toISOString(),
    });
    expect(trailTurns.length).toBeGreaterThanOrEqual(backend === "sqlite" ? 4 : 1);
    expect(sharedTurns(trailTurns)).toEqual([]);

    let summary: { status: number; body: { total_events: number; top_identities: Array<{ identity_id: string; events: number }>; by_action: Record<string, number> } } | undefined;
    const summaryTurns = await statementTurns(db, /GROUP BY/, async () => {
      summary = await vault().admin.get("/v1/audit/summary");
    });
    expect(summary!.status, JSON.stringify(summary!.body)).toBe(200);
    expect(summary!.body.top_identities).toContainEqual({ identity_id: "sa:dense", events: TOTAL });
    expect(summary!.body.by_action.write).toBeGreaterThanOrEqual(4_000);
    expect(summary!.body.total_events).toBeGreaterThan(TOTAL);
    expect(summaryTurns.length).toBeGreaterThanOrEqual(backend === "sqlite" ? 4 : 1);
    expect(sharedTurns(summaryTurns)).toEqual([]);
  });

  /** How many turns of the event loop passed while `work` ran. */
  async function turnsDuring<T>(work: () => Promise<T>): Promise<{ result: T; turns: number }> {
    const turns = countTurns();
    try {
      return { result: await work(), turns: turns.now() };
    } finally {
      turns.stop();
    }
  }

  /** The plan's steps as text: PostgreSQL's node types and indexes, SQLite's query-plan lines. */
  async function planOf(all: Queryable["all"], sql: string, params?: readonly SqlParam[]): Promise<string[]> {
    if (backend === "sqlite") return (await all<{ detail: string }>(`EXPLAIN QUERY PLAN ${sql}`, params)).map((row) => row.detail);
    const [row] = await all<{ "QUERY PLAN": unknown }>(`EXPLAIN (FORMAT JSON) ${sql}`, params);
    const steps: string[] = [];
    const visit = (node: { "Node Type": string; "Index Name"?: string; "Index Cond"?: string; Plans?: unknown[] }) => {
      steps.push(`${node["Node Type"]}${node["Index Name"] ? ` using ${node["Index Name"]} (${node["Index Cond"] ?? ""})` : ""}`);
      for (const child of node.Plans ?? []) visit(child as typeof node);
    };
    visit((row["QUERY PLAN"] as [{ Plan: Parameters<typeof visit>[0] }])[0].Plan);
    return steps;
  }
});
