import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeAll, expect, it, vi } from "vitest";
import type { SqlParam } from "../storage/contract.js";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { exportSettled, insertEntries } from "./test-fixtures.js";

const BASE = Date.parse("2026-11-30T12:00:00Z");
const exportRoot = mkdtempSync(join(tmpdir(), "scaivault-audit-keyset-"));

interface Entry {
  id: string;
  tenant_id: string | null;
  timestamp: number;
  secret_path: string | null;
  extra_data: string;
}

/**
 * Pages of the trail for a partner admin (the bootstrap admin): its tenant's entries and its
 * partner's own chain (tenant_id null), merged in (timestamp, id) order, ties across pages and
 * arms included; another tenant of the same partner never shows. Each arm is read along its own
 * time index from the cursor on, not as one OR over the whole trail (1M entries: 875 ms a page on
 * SQLite, 545–623 ms on PostgreSQL).
 */
describeEachBackend("audit: keyset pages over the tenant and the partner chain", (backend) => {
  const vault = useVault(backend, { env: { SCAIVAULT_AUDIT_EXPORT_DIR: join(exportRoot, backend) } });
  const entries: Entry[] = [];

  beforeAll(async () => {
    // Two entries per millisecond (ties), the arms interleaved, a few batch reads that name keyset/a.
    for (let i = 0; i < 3_000; i++) {
      const arm = i % 10 === 0 ? "partner" : i % 10 === 1 ? "other" : "tenant";
      const batch = arm === "tenant" && i % 50 === 2;
      entries.push({
        id: `log_keyset${String(i).padStart(12, "0")}`,
        tenant_id: arm === "partner" ? null : arm === "other" ? "tnt_keyset_other" : "tnt_default",
        timestamp: BASE - Math.floor(i / 2),
        secret_path: batch ? null : `keyset/${"abc"[i % 3]}`,
        extra_data: batch ? JSON.stringify({ paths: ["keyset/z", "keyset/a"] }) : "{}",
      });
    }
    await insertEntries(vault().vault.db, "keyset", entries.map((e) => ({ ...e, identity_id: "sa:keyset" })));
  });

  afterEach(() => vi.restoreAllMocks());

  const newestFirst = (list: Entry[]) => [...list].sort((a, b) => b.timestamp - a.timestamp || (a.id < b.id ? 1 : -1)).map((e) => e.id);
  const entriesWhere = (pick: (e: Entry) => boolean) => entries.filter(pick);

  async function pages(url: string, limit: number): Promise<string[]> {
    const ids: string[] = [];
    let cursor: string | null = null;
    for (let count = 0; count < 200; count++) {
      const page: { status: number; body: { logs: Array<{ id: string }>; cursor: string | null } } = await vault().admin.get(`${url}${url.includes("?") ? "&" : "?"}limit=${limit}${cursor ? `&cursor=${cursor}` : ""}`);
      expect(page.status).toBe(200);
      ids.push(...page.body.logs.map((l) => l.id));
      cursor = page.body.cursor;
      if (!cursor) break;
    }
    return ids;
  }

  it("pages the tenant and the partner chain in (timestamp, id) order, never another tenant", async () => {
    const mine = entriesWhere((e) => e.tenant_id !== "tnt_keyset_other");
    expect(mine.filter((e) => e.tenant_id === null).length).toBe(300);
    expect(await pages("/v1/audit/logs?identity_id=sa:keyset", 97)).toEqual(newestFirst(mine));
  });

  it("pages one secret's trail: its entries and the batch reads that name it", async () => {
    const aboutA = entriesWhere((e) => e.tenant_id !== "tnt_keyset_other" && (e.secret_path === "keyset/a" || e.extra_data.includes("keyset/a")));
    expect(aboutA.some((e) => e.secret_path === null)).toBe(true);
    expect((await pages("/v1/audit/secrets/keyset/a", 41)).filter((id) => id.startsWith("log_keyset"))).toEqual(newestFirst(aboutA));
  });

  it("exports oldest first, both arms merged", async () => {
    const t = vault();
    const created = await t.admin.post("/v1/audit/export", { format: "jsonl", filters: { identity_id: "sa:keyset" }, destination: { type: "file", path: "keyset" } });
    expect(created.status).toBe(202);
    const state = await exportSettled(t.admin, created.body.export_id);
    expect(state.status).toBe("completed");
    const lines = readFileSync(join(exportRoot, backend, state.manifest.files[0].path), "utf8").trim().split("\n").map((line) => (JSON.parse(line) as { id: string }).id);
    expect(lines).toEqual(newestFirst(entriesWhere((e) => e.tenant_id !== "tnt_keyset_other")).reverse());
  });

  /**
   * SQLite's plans (without statistics its planner is deterministic; PostgreSQL's follow its
   * statistics, so only its answers are checked above): each arm a search of its own index, never
   * an OR of two index reads sorted whole, and a later page starts at the cursor's timestamp.
   */
  it.runIf(backend === "sqlite")("reads each arm along its index, from the cursor on", async () => {
    const db = vault().vault.db;
    const plans: { sql: string; plan: string[] }[] = [];
    const all = db.all.bind(db);
    vi.spyOn(db, "all").mockImplementation(async <T,>(sql: string, params?: readonly SqlParam[]) => {
      if (/FROM audit_log\b/.test(sql) && sql.includes("ORDER BY timestamp DESC, id DESC LIMIT")) {
        plans.push({ sql, plan: (await all<{ detail: string }>(`EXPLAIN QUERY PLAN ${sql}`, params)).map((row) => row.detail) });
      }
      return all<T>(sql, params);
    });
    await pages("/v1/audit/logs?identity_id=sa:keyset", 500);
    await pages("/v1/audit/secrets/keyset/a", 100);
    expect(plans.length).toBeGreaterThanOrEqual(6);
    for (const { sql, plan } of plans) {
      expect(plan.filter((step) => /MULTI-INDEX OR|SCAN audit_log/.test(step)), sql).toEqual([]);
      // A batch read's arm searches the path's mentions by time, then reads each entry by its id.
      const searches = plan.filter((step) => /^SEARCH (audit_log|audit_path_mentions) /.test(step) && !step.endsWith("(id=?)"));
      expect(searches.length, sql).toBeGreaterThanOrEqual(2);
      if (sql.includes("timestamp <= ?")) expect(searches.filter((step) => !step.includes("timestamp<?")), sql).toEqual([]);
    }
    expect(plans.filter(({ sql }) => sql.includes("timestamp <= ?")).length).toBeGreaterThanOrEqual(3);
  });
});
