import { beforeAll, expect, it, vi } from "vitest";
import type { SqlParam } from "../storage/contract.js";
import { describeEachBackend } from "../testing/backends.js";
import { useVault, type ApiClient, type TestVault } from "../testing/harness.js";
import { statementTurns } from "../testing/turns.js";
import { DAY_MS } from "./rollups.js";
import { identityWith, insertEntries, rollupsOf, retentionOf } from "./test-fixtures.js";

// An hour ten days ago, on a whole second: nothing the vault writes itself falls in it.
const FROM = Math.floor(Date.now() / 1000) * 1000 - 10 * 86_400_000;
const TO = FROM + 3_600_000;
// The start of the day before yesterday (UTC): the rollup fixture's days all lie before it.
const LAST_DAY = Math.floor(Date.now() / DAY_MS) * DAY_MS - DAY_MS;
const READER_ALL = "sa:summary-all";
const READER_SOME = "sa:summary-some";

interface Entry {
  timestamp: number;
  tenant_id: string | null;
  action: string;
  identity_type: string | null;
  identity_id: string | null;
  secret_path: string | null;
  success: number;
  status: number;
}

/**
 * A fixture of every kind a summary distinguishes: paths in two subtrees, entries about no path by
 * several identities (the readers among them) and by none, failures and denials, the partner's own
 * chain (tenant_id null) and another tenant's entries. Counts differ per path and identity so that
 * the top-ten lists have one order.
 */
function fixture(count: number, stampOf: (i: number) => number, kindOf: (i: number) => number = (i) => i): Entry[] {
  const entries: Entry[] = [];
  const identities = ["sa:alpha", "sa:beta", "user:carol", READER_ALL, READER_SOME, null];
  const actions = ["read", "write", "delete", "policy_update"];
  const outcomes: [number, number][] = [[1, 200], [1, 200], [1, 201], [0, 403], [0, 401], [0, 500]];
  for (let n = 0; n < count; n++) {
    const i = kindOf(n);
    const identity = identities[(i * 5 + Math.floor(i / 7)) % identities.length];
    const [success, status] = outcomes[i % outcomes.length];
    const path = i % 5 === 0 ? null : i % 3 === 0 ? `sum/b/${i % 4}` : `sum/a/${i % 13}`;
    const tenant = i % 17 === 0 ? null : i % 19 === 0 ? "tnt_other" : "tnt_default";
    entries.push({
      timestamp: stampOf(n), tenant_id: tenant, action: actions[(i * 3) % actions.length], identity_id: identity, secret_path: path, success, status,
      identity_type: identity === null ? null : identity.startsWith("user:") ? "user" : "service_account",
    });
  }
  return entries;
}

/** The summary as the contract defines it, over the entries of [from, to) that `sees` admits. */
function expectedSummary(entries: Entry[], sees: (e: Entry) => boolean, from = FROM, to = TO) {
  const shown = entries.filter((e) => e.timestamp >= from && e.timestamp < to && sees(e));
  const tally = (key: (e: Entry) => string | null) => {
    const out = new Map<string, number>();
    for (const e of shown) {
      const k = key(e);
      if (k !== null) out.set(k, (out.get(k) ?? 0) + 1);
    }
    return out;
  };
  const top = (map: Map<string, number>, name: string) =>
    [...map.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, 10).map(([k, events]) => ({ [name]: k, events }));
  const identities = tally((e) => e.identity_id);
  const paths = tally((e) => e.secret_path);
  return {
    from: new Date(from).toISOString(),
    to: new Date(to).toISOString(),
    total_events: shown.length,
    successful_events: shown.filter((e) => e.success === 1).length,
    failed_events: shown.filter((e) => e.success !== 1).length,
    denied_events: shown.filter((e) => e.status === 401 || e.status === 403).length,
    unique_identities: identities.size,
    unique_paths: paths.size,
    by_action: Object.fromEntries(tally((e) => e.action)),
    by_identity_type: Object.fromEntries(tally((e) => e.identity_type ?? "anonymous")),
    top_identities: top(identities, "identity_id"),
    top_paths: top(paths, "path"),
  };
}

/** Puts `entries` straight into the trail (test-fixtures insertEntries), ids numbered under `name`. */
function insert(t: TestVault, entries: Entry[], name: string): Promise<void> {
  return insertEntries(t.vault.db, name, entries.map((e, i) => ({ ...e, id: `log_${name}${String(i).padStart(9, "0")}` })));
}

const summaryQuery = (from: number, to: number) => `/v1/audit/summary?from=${encodeURIComponent(new Date(from).toISOString())}&to=${encodeURIComponent(new Date(to).toISOString())}`;

/**
 * `GET /v1/audit/summary` counts exactly what the caller may see, whichever way it counts: a caller
 * who may read every path it meets is counted by path and by kind (two narrow counts), one who may
 * read only some paths entry group by entry group, as before.
 */
describeEachBackend("audit: summaries count what the caller may see", (backend) => {
  const vault = useVault(backend);
  const entries = fixture(600, (i) => FROM + i * 5_000);
  const query = summaryQuery(FROM, TO);

  beforeAll(() => insert(vault(), entries, "summary"));

  it("for a partner admin: its tenant and its partner's chain, by path and by kind", async () => {
    let summary: { status: number; body: unknown } | undefined;
    const crossProduct = await statementTurns(vault().vault.db, /GROUP BY secret_path, identity_id/, async () => {
      summary = await vault().admin.get(query);
    });
    expect(summary!.status).toBe(200);
    expect(summary!.body).toEqual(expectedSummary(entries, (e) => e.tenant_id === "tnt_default" || e.tenant_id === null));
    // One group per (path, identity, action, outcome) is what held a node at a million entries.
    expect(crossProduct).toEqual([]);
  });

  it("for a reader of every path: its tenant, and of the entries about no path only its own", async () => {
    const reader = await identityWith(vault(), { id: READER_ALL, type: "service_account", scopes: ["audit:read"], rules: [{ path_pattern: "**", permissions: ["read"] }] });
    let summary: { status: number; body: unknown } | undefined;
    const crossProduct = await statementTurns(vault().vault.db, /GROUP BY secret_path, identity_id/, async () => {
      summary = await reader.get(query);
    });
    expect(summary!.status).toBe(200);
    expect(summary!.body).toEqual(expectedSummary(entries, (e) => e.tenant_id === "tnt_default" && (e.secret_path !== null || e.identity_id === READER_ALL)));
    expect(crossProduct).toEqual([]);
  });

  // PostgreSQL counts in one statement, without windows.
  it.skipIf(backend !== "sqlite")("reads a summary's windows along the time index (SQLite)", async () => {
    const db = vault().vault.db;
    const plans: string[][] = [];
    const original = db.all.bind(db);
    const spy = vi.spyOn(db, "all").mockImplementation(async <T,>(sql: string, params?: readonly SqlParam[]): Promise<T[]> => {
      if (/FROM audit_log\b[\s\S]*GROUP BY/.test(sql)) plans.push((await original<{ detail: string }>(`EXPLAIN QUERY PLAN ${sql}`, params)).map((row) => row.detail));
      return original<T>(sql, params);
    });
    try {
      expect((await vault().admin.get(query)).status).toBe(200);
    } finally {
      spy.mockRestore();
    }
    expect(plans.length).toBeGreaterThanOrEqual(2);
    // Grouped by path alone, SQLite took the (tenant, path) index and read the tenant's whole trail per window.
    for (const plan of plans) expect(plan.filter((step) => /audit_log_(tenant|partner)_time/.test(step))).toHaveLength(1);
  });

  it("reads entry by entry where the day's counts would not compress (as many groups as entries)", async () => {
    expect(await rollupsOf(vault()).run()).toBeGreaterThan(0);
    let summary: { status: number; body: unknown } | undefined;
    const fromCounts = await statementTurns(vault().vault.db, /FROM audit_rollups/, async () => {
      summary = await vault().admin.get(summaryQuery(FROM - DAY_MS, TO + DAY_MS));
    });
    expect(fromCounts).toEqual([]);
    expect(summary!.body).toEqual(expectedSummary(entries, (e) => e.tenant_id === "tnt_default" || e.tenant_id === null, FROM - DAY_MS, TO + DAY_MS));
  });

  it("starts counting over where the counts would not compress, and drops them a run later", async () => {
    const db = vault().vault.db;
    await db.run("DELETE FROM audit_rollups");
    await db.run("DELETE FROM audit_rollup_state");
    const rollups = rollupsOf(vault(), { trialEntries: 100 });
    expect(await rollups.run()).toBeGreaterThan(0);
    const closed = Math.floor((Date.now() - 3_600_000) / DAY_MS) * DAY_MS;
    const state = await db.get<Record<string, number | string>>("SELECT rolled_from, rolled_to, counted_entries, counted_groups FROM audit_rollup_state WHERE owner = 't:tnt_default'");
    expect(Object.fromEntries(Object.entries(state!).map(([k, v]) => [k, Number(v)]))).toEqual({ rolled_from: closed, rolled_to: closed, counted_entries: 0, counted_groups: 0 });
    await rollups.run();
    const left = await db.get<{ n: number | string }>("SELECT COUNT(*) AS n FROM audit_rollups WHERE owner = 't:tnt_default'");
    expect(Number(left!.n)).toBe(0);
    expect((await vault().admin.get(query)).body).toEqual(expectedSummary(entries, (e) => e.tenant_id === "tnt_default" || e.tenant_id === null));
  });

  it("takes an empty bound as none, as before", async () => {
    const open = await vault().admin.get(`/v1/audit/summary?from=&to=${encodeURIComponent(new Date(TO).toISOString())}`);
    expect(open.status, JSON.stringify(open.body)).toBe(200);
    // Everything before TO, echoed as asked.
    expect(open.body).toEqual({ ...expectedSummary(entries, (e) => e.tenant_id === "tnt_default" || e.tenant_id === null, 0, TO), from: "" });
  });

  it("for a reader of some paths: only the entries about those, and its own", async () => {
    const reader = await identityWith(vault(), { id: READER_SOME, type: "service_account", scopes: ["audit:read"], rules: [{ path_pattern: "sum/a/**", permissions: ["read"] }] });
    const summary = await reader.get(query);
    expect(summary.status).toBe(200);
    expect(summary.body).toEqual(
      expectedSummary(entries, (e) => e.tenant_id === "tnt_default" && (e.secret_path === null ? e.identity_id === READER_SOME : e.secret_path.startsWith("sum/a/"))),
    );
  });
});

/**
 * Summaries count whole past days from per-day counts (rollups.ts) and the rest entry by entry:
 * the figures must be the same either way, at every stage — nothing counted yet, counted (SQLite
 * in pieces of 200 entries here, one of them a millisecond of 250), counted by two nodes at once,
 * and after pruning emptied days that had been counted.
 */
describeEachBackend("audit: summaries from per-day counts", (backend) => {
  const vault = useVault(backend);
  const FIRST = LAST_DAY - 6 * DAY_MS;
  // Every ~15 minutes over six days, midnights crossed, then 250 entries in one millisecond; of
  // 12 kinds (as a trail of services reading their secrets is), so that the counts compress.
  const entries = fixture(830, (i) => (i < 580 ? FIRST + i * 893_000 : FIRST + 2 * DAY_MS + 7_777), (i) => i % 12);
  const ranges: [string, number, number][] = [
    ["partial days at both ends", FIRST + 5.5 * 3_600_000, LAST_DAY - DAY_MS + 13 * 3_600_000],
    ["whole days", FIRST + DAY_MS, LAST_DAY - DAY_MS],
    ["within one day", FIRST + 2 * DAY_MS + 1_000, FIRST + 2 * DAY_MS + 9_000_000],
  ];
  const callers: [string, () => ApiClient, (e: Entry) => boolean][] = [];

  beforeAll(async () => {
    await insert(vault(), entries, "rollup");
    // A failed authentication gives the partner's own chain a head: its entries are counted too.
    expect((await vault().anonymous.withToken(`skt_${"x".repeat(40)}`).get("/v1/secrets/anything")).status).toBe(401);
    const all = await identityWith(vault(), { id: READER_ALL, type: "service_account", scopes: ["audit:read"], rules: [{ path_pattern: "**", permissions: ["read"] }] });
    const some = await identityWith(vault(), { id: READER_SOME, type: "service_account", scopes: ["audit:read"], rules: [{ path_pattern: "sum/a/**", permissions: ["read"] }] });
    callers.push(
      ["partner admin", () => vault().admin, (e) => e.tenant_id === "tnt_default" || e.tenant_id === null],
      ["reader of every path", () => all, (e) => e.tenant_id === "tnt_default" && (e.secret_path !== null || e.identity_id === READER_ALL)],
      ["reader of some paths", () => some, (e) => e.tenant_id === "tnt_default" && (e.secret_path === null ? e.identity_id === READER_SOME : e.secret_path.startsWith("sum/a/"))],
    );
  });

  async function expectExact(): Promise<void> {
    for (const [caller, client, sees] of callers) {
      for (const [range, from, to] of ranges) {
        const summary = await client().get(summaryQuery(from, to));
        expect(summary.status, `${caller}, ${range}`).toBe(200);
        expect(summary.body, `${caller}, ${range}`).toEqual(expectedSummary(entries, sees, from, to));
      }
    }
  }

  const state = async (owner: string) => {
    const row = await vault().vault.db.get<{ rolled_from: number | string; rolled_to: number | string }>("SELECT rolled_from, rolled_to FROM audit_rollup_state WHERE owner = ?", [owner]);
    return row ? { from: Number(row.rolled_from), to: Number(row.rolled_to) } : null;
  };

  it("counts the same before any day is counted and after, and reads whole days from the counts", async () => {
    const db = vault().vault.db;
    await expectExact();
    expect(await rollupsOf(vault(), { sqlitePiece: 200 }).run()).toBeGreaterThan(0);
    const closed = Math.floor((Date.now() - 3_600_000) / DAY_MS) * DAY_MS;
    expect(await state("t:tnt_default")).toEqual({ from: FIRST, to: closed });
    expect(await state("p:ptn_default")).toEqual({ from: FIRST, to: closed });
    if (backend === "sqlite") {
      // The day of the 250-entry millisecond took more than one piece, that millisecond whole.
      const pieces = await db.get<{ n: number }>("SELECT COUNT(DISTINCT first_at) AS n FROM audit_rollups WHERE owner = 't:tnt_default' AND day = ?", [FIRST + 2 * DAY_MS]);
      expect(Number(pieces!.n)).toBeGreaterThan(1);
    }
    const [, from, to] = ranges[1];
    const rawCounts = await statementTurns(db, /FROM audit_log WHERE[\s\S]*GROUP BY/, async () => void (await vault().admin.get(summaryQuery(from, to))));
    expect(rawCounts).toEqual([]);
    const rolledCounts = await statementTurns(db, /FROM audit_rollups/, async () => void (await vault().admin.get(summaryQuery(from, to))));
    expect(rolledCounts.length).toBeGreaterThan(0);
    await expectExact();
  });

  it("counts each entry once when two nodes count at once", async () => {
    const db = vault().vault.db;
    await db.run("DELETE FROM audit_rollups");
    await db.run("DELETE FROM audit_rollup_state");
    await Promise.all([rollupsOf(vault(), { sqlitePiece: 200 }).run(), rollupsOf(vault(), { sqlitePiece: 200 }).run()]);
    const span = (await state("t:tnt_default"))!;
    const counted = await db.get<{ n: number | string }>("SELECT SUM(n) AS n FROM audit_rollups WHERE owner = 't:tnt_default'");
    const written = await db.get<{ n: number | string }>("SELECT COUNT(*) AS n FROM audit_log WHERE tenant_id = 'tnt_default' AND timestamp >= ? AND timestamp < ?", [span.from, span.to]);
    expect(Number(counted!.n)).toBe(Number(written!.n));
    await expectExact();
  });

  it("drops the counts of the days pruning emptied, in its transaction; summaries stay exact", async () => {
    const db = vault().vault.db;
    const today = Math.floor(Date.now() / DAY_MS) * DAY_MS;
    // With the clock moved on, today's own entries (tokens, the failed login) are counted as well,
    // and tomorrow closed too: a day closes an hour after its end (rollups.ts GRACE_MS), so two
    // days on left tomorrow open in the first hour of a UTC day.
    await rollupsOf(vault()).run(Date.now() + 3 * DAY_MS);
    expect((await state("t:tnt_default"))!.to).toBeGreaterThan(today + DAY_MS);
    // Past the default retention: every entry on a real chain goes (the fixture's chain has no head).
    expect(await (await retentionOf(vault())).prune(Date.now() + 7 * 365 * DAY_MS + 3 * DAY_MS)).toBeGreaterThan(0);
    const after = (await state("t:tnt_default"))!;
    expect(after.from).toBeGreaterThan(today);
    const stale = await db.get<{ n: number | string }>("SELECT COUNT(*) AS n FROM audit_rollups WHERE owner = 't:tnt_default' AND day < ?", [after.from]);
    expect(Number(stale!.n)).toBe(0);
    // Today: what is left of it, not what the counts held before pruning.
    const left = await db.get<{ n: number | string }>("SELECT COUNT(*) AS n FROM audit_log WHERE (tenant_id = 'tnt_default' OR tenant_id IS NULL) AND timestamp >= ? AND timestamp < ?", [today, today + DAY_MS]);
    const summary = await vault().admin.get(summaryQuery(today, today + DAY_MS));
    expect(summary.body.total_events).toBe(Number(left!.n));
    await expectExact();
  });
});
