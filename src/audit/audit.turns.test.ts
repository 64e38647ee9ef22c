import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeAll, expect, it, vi } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { sharedTurns, statementTurns } from "../testing/turns.js";
import { exportSettled } from "./test-fixtures.js";

const READS = 2_400;
const exportRoot = mkdtempSync(join(tmpdir(), "scaivault-audit-turns-"));

/**
 * Reads of the whole trail go page by page (1,000 entries). On SQLite every `await` of a statement
 * resolves at once (better-sqlite3 answers on the event loop), so without a yield between pages a
 * verification or an export of millions of entries would be one turn of the loop: no socket read,
 * no timer, no other request on the node until it ends. Each page must come in a turn of its own.
 * (On PostgreSQL every statement waits for the network, so the same holds there by nature.)
 */
describeEachBackend("audit: verifying and exporting the trail leave the node answering", (backend) => {
  const vault = useVault(backend, { env: { SCAIVAULT_AUDIT_EXPORT_DIR: join(exportRoot, backend) } });

  beforeAll(async () => {
    const t = vault();
    expect((await t.admin.put("/v1/secrets/turns/one", { data: { v: 1 } })).status).toBe(201);
    for (let done = 0; done < READS; done += 48) {
      const reads = await Promise.all(Array.from({ length: 48 }, () => t.admin.get("/v1/secrets/turns/one")));
      expect(reads.filter((r) => r.status !== 200)).toEqual([]);
    }
  });

  afterEach(() => vi.restoreAllMocks());

  it("verifies the chain one page per turn of the event loop", async () => {
    const turns = await statementTurns(vault().vault.db, /FROM audit_log WHERE chain_id = \? AND seq >= \?/, async () => {
      const result = await vault().admin.get("/v1/audit/verify");
      expect(result.status).toBe(200);
      expect(result.body).toMatchObject({ ok: true });
      expect(result.body.entries).toBeGreaterThan(READS);
    });
    expect(turns.length).toBeGreaterThanOrEqual(3);
    expect(sharedTurns(turns)).toEqual([]);
  });

  it("walks the trail at most twice for eight verifications asked at once, each answer complete", async () => {
    const heads = /SELECT seq, hash FROM audit_chain_heads WHERE chain_id = \?/;
    const alone = await statementTurns(vault().vault.db, heads, async () => {
      expect((await vault().admin.get("/v1/audit/verify")).body).toMatchObject({ ok: true });
    });
    const together = await statementTurns(vault().vault.db, heads, async () => {
      const answers = await Promise.all(Array.from({ length: 8 }, () => vault().admin.get("/v1/audit/verify")));
      for (const answer of answers) {
        expect(answer.status).toBe(200);
        expect(answer.body).toMatchObject({ ok: true });
        expect(answer.body.entries).toBeGreaterThan(READS);
      }
    });
    // One head read per lane per walk: the first caller's walk, and one shared by the seven who came during it.
    expect(alone.length).toBeGreaterThan(0);
    expect(together.length).toBeLessThanOrEqual(2 * alone.length);
  });

  it("writes an export one page per turn of the event loop", async () => {
    const t = vault();
    const turns = await statementTurns(vault().vault.db, /FROM audit_log WHERE .* ORDER BY timestamp ASC, id ASC LIMIT \?/, async () => {
      const created = await t.admin.post("/v1/audit/export", { format: "jsonl", filters: { path_prefix: "turns/" }, destination: { type: "file", path: "turns" } });
      expect(created.status).toBe(202);
      expect(await exportSettled(t.admin, created.body.export_id)).toMatchObject({ status: "completed", record_count: READS + 1 });
    });
    expect(turns.length).toBeGreaterThanOrEqual(3);
    expect(sharedTurns(turns)).toEqual([]);
  });

  it("looks for entries outside the chain a stretch per turn, and finds one at a stretch's end and in the last stretch", async () => {
    const t = vault();
    const stray = /chain_id NOT IN/;
    const turns = await statementTurns(t.vault.db, stray, async () => {
      expect((await t.admin.get("/v1/audit/verify")).body).toMatchObject({ ok: true });
    });
    expect(turns.length).toBeGreaterThanOrEqual(3);
    expect(sharedTurns(turns)).toEqual([]);

    // Copies outside the chain of the 1,000th entry (the first stretch ends at its timestamp) and of the newest.
    const tenant = "tnt_default";
    const boundary = await t.vault.db.get<Record<string, unknown>>("SELECT * FROM audit_log WHERE tenant_id = ? ORDER BY timestamp LIMIT 1 OFFSET 999", [tenant]);
    const newest = await t.vault.db.get<Record<string, unknown>>("SELECT * FROM audit_log WHERE tenant_id = ? ORDER BY timestamp DESC LIMIT 1", [tenant]);
    for (const [row, id] of [[boundary!, "log_strayedge00000000000"], [newest!, "log_straylast00000000000"]] as const) {
      const forged = { ...row, id, chain_id: null, seq: null };
      const columns = Object.keys(forged);
      await t.vault.db.run(`INSERT INTO audit_log (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`, columns.map((c) => forged[c as keyof typeof forged] as never));
      try {
        expect((await t.admin.get("/v1/audit/verify")).body).toMatchObject({ ok: false, reason: "unchained_entry", first_bad_entry: id });
      } finally {
        await t.vault.db.run("DELETE FROM audit_log WHERE id = ?", [id]);
      }
    }
    expect((await t.admin.get("/v1/audit/verify")).body).toMatchObject({ ok: true });
  });
});
