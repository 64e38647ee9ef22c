import { describe, expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault, type TestVault } from "../testing/harness.js";
import { sharedTurns, statementTurns } from "../testing/turns.js";
import { checkpointsOf, identityWith, retentionOf } from "./test-fixtures.js";

const CHAIN = "tenant:tnt_default";

async function seqs(t: TestVault): Promise<number[]> {
  const rows = await t.vault.db.all<{ seq: number | string }>("SELECT seq FROM audit_log WHERE chain_id = ? ORDER BY seq", [CHAIN]);
  return rows.map((r) => Number(r.seq));
}

/** Resolves once the wall clock has passed `ms` (entries written after carry a later time). */
async function after(ms: number): Promise<void> {
  while (Date.now() <= ms) await new Promise((resolve) => setTimeout(resolve, 2));
}

/** How far audit timestamps may stray from Date.now() (shared/time.ts resyncs its clock beyond 2 ms). */
const CLOCK_SLACK_MS = 3;

/** A time that entries written before the call are stamped under and entries written after it over. */
async function boundaryBetweenWrites(): Promise<number> {
  const boundary = Date.now() + CLOCK_SLACK_MS;
  await after(boundary + CLOCK_SLACK_MS);
  return boundary;
}

async function checkpointRows(t: TestVault): Promise<{ kind: string; entries: number }[]> {
  const rows = await t.vault.db.all<{ kind: string; entries: number | string }>("SELECT kind, entries FROM audit_checkpoints WHERE chain_id = ? ORDER BY entries, kind", [CHAIN]);
  return rows.map((row) => ({ kind: row.kind, entries: Number(row.entries) }));
}

describeEachBackend("audit: retention", (backend) => {
  describe("settings", () => {
    const vault = useVault(backend);

    it("defaults to 7 years; an increase applies at once, a reduction is audited and waits 7 days", async () => {
      const t = vault();
      const initial = await t.admin.get("/v1/audit/retention");
      expect(initial.status).toBe(200);
      expect(initial.body).toMatchObject({ tenant_id: "tnt_default", days: 2555, default_days: 2555, minimum_days: 90, pending: null });
      const tooShort = await t.admin.put("/v1/audit/retention", { days: 89 });
      expect(tooShort.status).toBe(422);
      expect(tooShort.body.error).toMatchObject({ code: "validation_error", details: { fields: { days: expect.stringContaining("90") } } });
      const longer = await t.admin.put("/v1/audit/retention", { days: 4000 });
      expect(longer.body).toMatchObject({ days: 4000, pending: null });
      const before = Date.now();
      const shorter = await t.admin.put("/v1/audit/retention", { days: 120 });
      expect(shorter.status).toBe(200);
      expect(shorter.body).toMatchObject({ days: 4000, pending: { days: 120 } });
      const effective = Date.parse(shorter.body.pending.effective_at);
      expect(effective).toBeGreaterThanOrEqual(before + 7 * 86_400_000);
      expect(effective).toBeLessThanOrEqual(Date.now() + 7 * 86_400_000);
      expect((await t.admin.get("/v1/audit/retention")).body).toMatchObject({ days: 4000, pending: { days: 120 } });
      const logs = await t.admin.get("/v1/audit/logs?action=audit_retention_update");
      expect(logs.body.logs[0].extra_data).toMatchObject({ previous_days: 4000, days: 120, reduction: true, effective_at: shorter.body.pending.effective_at });
      expect(logs.body.logs[1].extra_data).toMatchObject({ previous_days: 2555, days: 4000, reduction: false });
    });

    it("needs the admin scope", async () => {
      const t = vault();
      const auditor = await identityWith(t, { id: "sa:ret-auditor", type: "service_account", scopes: ["audit:read", "audit:export"] });
      expect((await auditor.get("/v1/audit/retention")).body.error.code).toBe("insufficient_scope");
      expect((await auditor.put("/v1/audit/retention", { days: 100 })).body.error.code).toBe("insufficient_scope");
    });
  });

  describe("pruning", () => {
    const vault = useVault(backend);

    it("deletes entries past retention in batches behind a signed cut, and verification still passes", async () => {
      const t = vault();
      for (let i = 0; i < 5; i++) await t.admin.put(`/v1/secrets/old/s${i}`, { data: { i } });
      // Batch reads on both sides: the paths they named go with their entries, and only with them.
      expect((await t.admin.post("/v1/secrets/batch", { paths: ["old/s0", "old/absent"] })).status).toBe(200);
      const boundary = await boundaryBetweenWrites();
      for (let i = 0; i < 3; i++) await t.admin.put(`/v1/secrets/new/s${i}`, { data: { i } });
      expect((await t.admin.post("/v1/secrets/batch", { paths: ["new/s0"] })).status).toBe(200);
      const mentioned = async () => (await t.vault.db.all<{ path: string }>("SELECT path FROM audit_path_mentions ORDER BY path")).map((row) => row.path);
      expect(await mentioned()).toEqual(["new/s0", "old/absent", "old/s0"]);
      const firstNew = (await t.admin.get("/v1/audit/logs?path_prefix=new/&limit=1000")).body.logs.at(-1);
      const oldest = (await t.admin.get("/v1/audit/logs?path_prefix=old/&limit=1000")).body.logs;
      expect(oldest).toHaveLength(5);
      // A clock one day past the boundary with one day of retention: everything before the boundary is due.
      const retention = await retentionOf(t, { pruneBatch: 2 });
      await t.vault.db.run("INSERT INTO audit_retention (tenant_id, partner_id, days, pending_days, pending_effective_at, updated_by, updated_at) VALUES ('tnt_default', 'ptn_default', 1, NULL, NULL, 'test', 0)");
      const deleted = await retention.prune(boundary + 86_400_000);
      expect(deleted).toBeGreaterThanOrEqual(5);
      const left = await seqs(t);
      const cut = await t.vault.db.get<{ entries: number | string; head_hash: string }>("SELECT entries, head_hash FROM audit_checkpoints WHERE chain_id = ? AND kind = 'cut'", [CHAIN]);
      expect(left[0]).toBe(Number(cut!.entries) + 1);
      expect(await mentioned()).toEqual(["new/s0"]);
      expect((await t.admin.get("/v1/audit/logs?path_prefix=old/&limit=1000")).body.logs).toEqual([]);
      expect((await t.admin.get("/v1/audit/logs?path_prefix=new/&limit=1000")).body.logs.at(-1).id).toBe(firstNew.id);
      const verify = await t.admin.get("/v1/audit/verify");
      expect(verify.body).toMatchObject({ ok: true });
      // The cut is listed like any checkpoint, and new entries keep chaining after pruning.
      const listed = await t.admin.get(`/v1/audit/checkpoints?chain=${CHAIN}`);
      expect(listed.body.checkpoints.some((c: { kind: string; entries: number }) => c.kind === "cut" && c.entries === Number(cut!.entries))).toBe(true);
      await t.admin.put("/v1/secrets/new/after", { data: { v: 1 } });
      expect((await t.admin.get("/v1/audit/verify")).body).toMatchObject({ ok: true });
      // Pruning again changes nothing; deleting the cut checkpoint is noticed.
      expect(await retention.prune(boundary + 86_400_000)).toBe(0);
      // A cut whose claim was edited (someone pruning more and moving the cut) fails its signature.
      await t.vault.db.run("UPDATE audit_checkpoints SET head_hash = ? WHERE chain_id = ? AND kind = 'cut'", ["0".repeat(cut!.head_hash.length), CHAIN]);
      expect((await t.admin.get("/v1/audit/verify")).body).toMatchObject({ ok: false, reason: "checkpoint_mismatch" });
      await t.vault.db.run("UPDATE audit_checkpoints SET head_hash = ? WHERE chain_id = ? AND kind = 'cut'", [cut!.head_hash, CHAIN]);
      expect((await t.admin.get("/v1/audit/verify")).body).toMatchObject({ ok: true });
      await t.vault.db.run("DELETE FROM audit_checkpoints WHERE chain_id = ? AND kind = 'cut'", [CHAIN]);
      expect((await t.admin.get("/v1/audit/verify")).body).toMatchObject({ ok: false, reason: "sequence_gap" });
    });
  });

  describe("pruning the checkpoints of what it pruned", () => {
    const vault = useVault(backend);

    it("deletes the checkpoints below the cut in batches, keeping the cut and every later one, and verification still passes", async () => {
      const t = vault();
      const checkpoints = await checkpointsOf(t);
      // Three periodic checkpoints over entries that will be pruned, one over an entry that stays.
      for (let i = 0; i < 3; i++) {
        await t.admin.put(`/v1/secrets/ckpt-old/s${i}`, { data: { i } });
        await checkpoints.checkpointMovedChains();
      }
      // One more due entry: the cut comes after all three.
      await t.admin.put("/v1/secrets/ckpt-old/last", { data: { v: 1 } });
      const boundary = await boundaryBetweenWrites();
      await t.admin.put("/v1/secrets/ckpt-new/s", { data: { v: 1 } });
      await checkpoints.checkpointMovedChains();
      const before = await checkpointRows(t);
      expect(before.length).toBeGreaterThanOrEqual(4);

      const retention = await retentionOf(t, { pruneBatch: 2 });
      await t.vault.db.run("INSERT INTO audit_retention (tenant_id, partner_id, days, pending_days, pending_effective_at, updated_by, updated_at) VALUES ('tnt_default', 'ptn_default', 1, NULL, NULL, 'test', 0)");
      expect(await retention.prune(boundary + 86_400_000)).toBeGreaterThanOrEqual(3);
      const cut = Number((await t.vault.db.get<{ entries: number | string }>("SELECT entries FROM audit_checkpoints WHERE chain_id = ? AND kind = 'cut'", [CHAIN]))!.entries);
      const after = await checkpointRows(t);
      expect(after).toEqual([{ kind: "cut", entries: cut }, ...before.filter((row) => row.entries >= cut)].sort((a, b) => a.entries - b.entries || a.kind.localeCompare(b.kind)));
      expect(after.filter((row) => row.entries < cut)).toEqual([]);
      expect(before.filter((row) => row.entries < cut).length).toBeGreaterThanOrEqual(3);
      expect((await t.admin.get("/v1/audit/verify")).body).toMatchObject({ ok: true });
      // The listing starts at the cut.
      const listed = (await t.admin.get(`/v1/audit/checkpoints?chain=${CHAIN}&limit=1000`)).body.checkpoints as { entries: number }[];
      expect(Math.min(...listed.map((c) => c.entries))).toBe(cut);
    });
  });

  describe("pruning concurrent writers' entries (PostgreSQL spreads them over chain lanes)", () => {
    const vault = useVault(backend);

    it("cuts every lane that had entries past retention, and verification passes", async () => {
      const t = vault();
      const puts = await Promise.all(Array.from({ length: 48 }, (_, i) => t.admin.put(`/v1/secrets/lanes/s${i}`, { data: { i } })));
      expect(puts.filter((p) => p.status !== 201).map((p) => p.text)).toEqual([]);
      const boundary = await boundaryBetweenWrites();
      const lanes = await t.vault.db.all<{ chain_id: string }>("SELECT DISTINCT chain_id FROM audit_log WHERE timestamp <= ? ORDER BY chain_id", [boundary]);
      expect(lanes.length).toBeGreaterThanOrEqual(1);
      await t.vault.db.run("INSERT INTO audit_retention (tenant_id, partner_id, days, pending_days, pending_effective_at, updated_by, updated_at) VALUES ('tnt_default', 'ptn_default', 1, NULL, NULL, 'test', 0)");
      const retention = await retentionOf(t, { pruneBatch: 7 });
      expect(await retention.prune(boundary + 86_400_000)).toBeGreaterThanOrEqual(48);
      for (const { chain_id } of lanes) {
        const cut = await t.vault.db.get<{ entries: number | string }>("SELECT entries FROM audit_checkpoints WHERE chain_id = ? AND kind = 'cut'", [chain_id]);
        expect(cut, chain_id).toBeDefined();
        const first = await t.vault.db.get<{ s: number | string | null }>("SELECT MIN(seq) AS s FROM audit_log WHERE chain_id = ?", [chain_id]);
        // What is left of the lane starts right after its cut (or nothing is left of it).
        if (first?.s !== null && first?.s !== undefined) expect(Number(first.s), chain_id).toBe(Number(cut!.entries) + 1);
      }
      expect((await t.admin.get("/v1/audit/logs?path_prefix=lanes/&limit=1000")).body.logs).toEqual([]);
      expect((await t.admin.get("/v1/audit/verify")).body).toMatchObject({ ok: true });
      await Promise.all(Array.from({ length: 8 }, (_, i) => t.admin.put(`/v1/secrets/lanes/after${i}`, { data: { i } })));
      expect((await t.admin.get("/v1/audit/verify")).body).toMatchObject({ ok: true });
    }, 60_000);
  });

  describe("a long chain that is due (the first pass after years, or after a reduction)", () => {
    const vault = useVault(backend);

    it("finds the first entry not yet due a window at a time, one statement per turn of the event loop, and cuts just before it", async () => {
      const t = vault();
      const total = 25_000;
      const firstYoung = 23_457;
      const now = Date.now();
      const cutoff = now - 86_400_000;
      // A chain of its own, written straight into the table: entries before firstYoung are past one day of retention.
      const series = backend === "sqlite" ? `(WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < ${total}) SELECT g FROM s) AS s` : `generate_series(1, ${total}) AS s(g)`;
      await t.vault.db.run(
        `INSERT INTO audit_log (id, chain_id, seq, partner_id, tenant_id, timestamp, action, identity_type, identity_id, secret_path, source_ip, user_agent, success, status, duration_ms, request_id, extra_data, prev_hash, hash)
         SELECT 'log_long_' || g, 'tenant:long', g, 'ptn_default', 'tnt_long', CASE WHEN g < ${firstYoung} THEN ${cutoff - 1_000_000} + g ELSE ${now} + g END,
                'read', 'service_account', 'sa:long', 'long/x', '10.0.0.1', 'test', 1, 200, 1, 'req_long_' || g, '{}', 'p' || g, 'h' || g FROM ${series}`,
      );
      await t.vault.db.run("INSERT INTO audit_chain_heads (chain_id, partner_id, tenant_id, seq, hash, updated_at) VALUES ('tenant:long', 'ptn_default', 'tnt_long', ?, ?, ?)", [total, `h${total}`, now]);
      await t.vault.db.run("INSERT INTO audit_retention (tenant_id, partner_id, days, pending_days, pending_effective_at, updated_by, updated_at) VALUES ('tnt_long', 'ptn_default', 1, NULL, NULL, 'test', 0)");
      const retention = await retentionOf(t, { pruneBatch: 5_000 });
      const turns = await statementTurns(t.vault.db, /MIN\(seq\) AS s FROM audit_log/, async () => void (await retention.prune(now)));
      // The chain's 25,000 in windows of 10,000: the first young entry is in the third.
      expect(turns).toHaveLength(3);
      expect(sharedTurns(turns)).toEqual([]);
      const cut = await t.vault.db.get<{ entries: number | string; head_hash: string }>("SELECT entries, head_hash FROM audit_checkpoints WHERE chain_id = 'tenant:long' AND kind = 'cut'");
      expect([Number(cut?.entries), cut?.head_hash]).toEqual([firstYoung - 1, `h${firstYoung - 1}`]);
      const left = await t.vault.db.get<{ first: number | string; n: number | string }>("SELECT MIN(seq) AS first, COUNT(*) AS n FROM audit_log WHERE chain_id = 'tenant:long'");
      expect([Number(left?.first), Number(left?.n)]).toEqual([firstYoung, total - firstYoung + 1]);
    }, 120_000);
  });

  describe("a reduction before it takes effect", () => {
    const vault = useVault(backend);

    it("prunes nothing until the delay has passed", async () => {
      const t = vault();
      await t.admin.put("/v1/secrets/keep/a", { data: { v: 1 } });
      expect((await t.admin.put("/v1/audit/retention", { days: 90 })).body.pending).toMatchObject({ days: 90 });
      const retention = await retentionOf(t);
      // Day 6: the 7 years still apply. Day 100: the reduction (in force from day 7) makes every entry due.
      expect(await retention.prune(Date.now() + 6 * 86_400_000)).toBe(0);
      expect((await seqs(t)).length).toBeGreaterThan(0);
      const later = await retention.prune(Date.now() + 100 * 86_400_000);
      expect(later).toBeGreaterThan(0);
      expect((await t.admin.get("/v1/audit/verify")).body).toMatchObject({ ok: true });
    });
  });

  describe("in the background (the prune pass is claimed like the checkpoint pass: audit.checkpoints.test.ts)", () => {
    const vault = useVault(backend, { env: { SCAIVAULT_AUDIT_MIN_RETENTION_DAYS: "0", SCAIVAULT_AUDIT_RETENTION_REDUCTION_DELAY: "0s", SCAIVAULT_AUDIT_PRUNE_INTERVAL: "100ms" } });

    it("the server's own job prunes, leaving a cut that verification starts from", async () => {
      const t = vault();
      for (let i = 0; i < 3; i++) await t.admin.put(`/v1/secrets/bg/s${i}`, { data: { i } });
      expect((await t.admin.put("/v1/audit/retention", { days: 0 })).body).toMatchObject({ days: 0, pending: null });
      let cut: { entries: number } | undefined;
      for (let i = 0; i < 600 && !cut; i++) {
        const list = await t.admin.get(`/v1/audit/checkpoints?chain=${CHAIN}&limit=1000`);
        cut = list.body.checkpoints.find((c: { kind: string }) => c.kind === "cut");
        if (!cut) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(cut).toBeDefined();
      expect((await t.admin.get("/v1/audit/logs?path_prefix=bg/")).body.logs).toEqual([]);
      expect((await t.admin.get("/v1/audit/verify")).body).toMatchObject({ ok: true });
    });
  });
});
