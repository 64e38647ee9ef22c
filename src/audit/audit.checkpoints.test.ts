import { createPublicKey, verify as verifySignature } from "node:crypto";
import { describe, expect, it } from "vitest";
import { openDatabase } from "../storage/open.js";
import { describeEachBackend } from "../testing/backends.js";
import { useVault, type ApiClient, type TestVault } from "../testing/harness.js";
import { planOf, statementsDuring } from "../testing/plans.js";
import { claimJob } from "./jobs.js";
import { checkpointsOf, identityWith } from "./test-fixtures.js";

const CHAIN = "tenant:tnt_default";
const FAST = { env: { SCAIVAULT_AUDIT_CHECKPOINT_INTERVAL: "150ms" } };

interface Checkpoint {
  chain: string;
  entries: number;
  head_hash: string;
  timestamp: string;
  kind: string;
  key_id: string;
  signature: string;
}

async function headSeq(t: TestVault, chain = CHAIN): Promise<number> {
  const head = await t.vault.db.get<{ seq: number | string }>("SELECT seq FROM audit_chain_heads WHERE chain_id = ?", [chain]);
  return Number(head?.seq ?? 0);
}

/** Waits (bounded, generously) until a checkpoint of `chain` covers at least `entries` entries. */
async function checkpointCovering(client: ApiClient, chain: string, entries: number, headers: Record<string, string> = {}): Promise<Checkpoint> {
  for (let i = 0; i < 600; i++) {
    const list = await client.get(`/v1/audit/checkpoints?chain=${encodeURIComponent(chain)}&limit=1000`, { headers });
    const found = (list.body.checkpoints as Checkpoint[]).filter((c) => c.entries >= entries);
    if (found.length > 0) return found[found.length - 1];
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`no checkpoint of ${chain} reached ${entries} entries`);
}

/** A new tenant with one secret written, once a checkpoint of its chain covers the write; its auditor. */
async function checkpointedTenant(t: TestVault, id: string): Promise<ApiClient> {
  expect((await t.admin.post("/v1/identity/tenants", { id, name: id })).status).toBe(201);
  await t.admin.put("/v1/secrets/x/y", { data: { v: 1 } }, { headers: { "x-tenant-id": id } });
  await checkpointCovering(t.admin, `tenant:${id}`, await headSeq(t, `tenant:${id}`));
  return identityWith(t, { id: `sa:${id}-auditor`, type: "service_account", scopes: ["audit:read"], tenantId: id });
}

async function allCheckpoints(client: ApiClient): Promise<{ checkpoints: Checkpoint[]; public_key: { pem: string; key_id: string; algorithm: string } }> {
  const response = await client.get("/v1/audit/checkpoints?limit=1000");
  expect(response.status).toBe(200);
  return response.body;
}

/** Rolls a chain back to entry `keep`: deletes the newer entries and points the head at entry `keep`. */
async function rollBack(t: TestVault, keep: number, chain = CHAIN): Promise<void> {
  const row = await t.vault.db.get<{ hash: string }>("SELECT hash FROM audit_log WHERE chain_id = ? AND seq = ?", [chain, keep]);
  await t.vault.db.run("DELETE FROM audit_log WHERE chain_id = ? AND seq > ?", [chain, keep]);
  await t.vault.db.run("UPDATE audit_chain_heads SET seq = ?, hash = ? WHERE chain_id = ?", [keep, row!.hash, chain]);
}

function signedBy(pem: string, c: Checkpoint): boolean {
  const message = Buffer.from(JSON.stringify({ chain: c.chain, entries: c.entries, head_hash: c.head_hash, timestamp: c.timestamp }), "utf8");
  return verifySignature(null, message, createPublicKey(pem), Buffer.from(c.signature, "base64"));
}

describeEachBackend("audit: signed checkpoints", (backend) => {
  describe("listing", () => {
    const vault = useVault(backend, FAST);

    it("lists checkpoints of visible chains with the public key; each signature checks with it", async () => {
      const t = vault();
      for (let i = 0; i < 3; i++) await t.admin.put(`/v1/secrets/ckp/s${i}`, { data: { i } });
      const covering = await checkpointCovering(t.admin, CHAIN, await headSeq(t));
      expect(covering).toMatchObject({ chain: CHAIN, kind: "periodic" });
      expect(covering.timestamp).toMatch(/\.\d{6}Z$/);
      const { checkpoints, public_key } = await allCheckpoints(t.admin);
      expect(public_key).toMatchObject({ algorithm: "Ed25519" });
      expect(public_key.pem).toContain("BEGIN PUBLIC KEY");
      expect(checkpoints.length).toBeGreaterThan(0);
      for (const c of checkpoints) {
        expect(c.key_id).toBe(public_key.key_id);
        expect(signedBy(public_key.pem, c)).toBe(true);
        expect(signedBy(public_key.pem, { ...c, entries: c.entries + 1 })).toBe(false);
      }
      // The hash at the signed position is the chain's.
      const row = await t.vault.db.get<{ hash: string }>("SELECT hash FROM audit_log WHERE chain_id = ? AND seq = ?", [CHAIN, covering.entries]);
      expect(row!.hash).toBe(covering.head_hash);
      expect((await t.admin.get("/v1/audit/verify")).body).toMatchObject({ ok: true });
    });

    it("shows a tenant's auditor its own chain only, and needs audit:read", async () => {
      const t = vault();
      const auditor = await checkpointedTenant(t, "tnt_ckp");
      const own = await auditor.get("/v1/audit/checkpoints?limit=1000");
      expect(own.status).toBe(200);
      expect(own.body.checkpoints.length).toBeGreaterThan(0);
      expect(new Set(own.body.checkpoints.map((c: Checkpoint) => c.chain))).toEqual(new Set(["tenant:tnt_ckp"]));
      expect((await auditor.get(`/v1/audit/checkpoints?chain=${CHAIN}`)).body.checkpoints).toEqual([]);
      const noScope = await identityWith(t, { id: "sa:ckp-none", type: "service_account", scopes: ["secrets:read"], tenantId: "tnt_ckp" });
      expect((await noScope.get("/v1/audit/checkpoints")).body.error.code).toBe("insufficient_scope");
      // Oldest first, pages continue by cursor, and the last page keeps a cursor to follow from.
      const first = await t.admin.get("/v1/audit/checkpoints?limit=1");
      const second = await t.admin.get(`/v1/audit/checkpoints?limit=1&cursor=${first.body.cursor}`);
      expect(second.body.checkpoints[0].timestamp >= first.body.checkpoints[0].timestamp).toBe(true);
      expect(second.body.checkpoints[0]).not.toEqual(first.body.checkpoints[0]);
    });
  });

  describe("a tenant's checkpoint list over a long history", () => {
    const vault = useVault(backend, FAST);

    it("walks the tenant's checkpoints by time along (tenant, time), and finds its chains along (tenant, chain)", async () => {
      const t = vault();
      const auditor = await checkpointedTenant(t, "tnt_ckplan");
      const first = await auditor.get("/v1/audit/checkpoints?limit=1");
      const { statements, value: next } = await statementsDuring(t.vault.db, () => auditor.get(`/v1/audit/checkpoints?limit=1&cursor=${first.body.cursor}`));
      expect(next.status).toBe(200);
      const list = statements.find((s) => /FROM audit_checkpoints( INDEXED BY \w+)? WHERE/.test(s.sql) && /ORDER BY timestamp/.test(s.sql))!;
      const listPlan = await planOf(t.vault.db, list.sql, list.params);
      expect(listPlan, list.sql).toMatch(/audit_checkpoints_tenant_time/);
      // The cursor's bound narrows the index (SQLite: in the search; PostgreSQL: in the Index Cond).
      expect(listPlan, list.sql).toMatch(backend === "sqlite" ? /tenant_id=\? AND timestamp>\?/ : /Index Cond: .*timestamp"? >=/);
      // In the index's order: at most ties sorted (SQLite's "FOR LAST TERM"), never the whole list.
      expect(listPlan, list.sql).not.toMatch(/TEMP B-TREE FOR ORDER BY|Sort/);
      const chains = statements.find((s) => /WITH RECURSIVE chains/.test(s.sql))!;
      expect(await planOf(t.vault.db, chains.sql, chains.params), chains.sql).toMatch(/audit_checkpoints_tenant_chain/);
      // One chain asked for, by the tenant or its partner's admin: on SQLite along that chain's own
      // (chain, time) index, in order (PostgreSQL's planner picks by its statistics).
      for (const caller of [auditor, t.admin]) {
        const { statements: one, value } = await statementsDuring(t.vault.db, () => caller.get(`/v1/audit/checkpoints?chain=${encodeURIComponent("tenant:tnt_ckplan")}&limit=1`));
        expect(value.status, value.text).toBe(200);
        const chainList = one.find((s) => /FROM audit_checkpoints( INDEXED BY \w+)? WHERE/.test(s.sql) && /ORDER BY timestamp/.test(s.sql))!;
        if (backend === "sqlite") {
          const chainPlan = await planOf(t.vault.db, chainList.sql, chainList.params);
          expect(chainPlan, chainList.sql).toMatch(/audit_checkpoints_chain_time/);
          expect(chainPlan, chainList.sql).not.toMatch(/TEMP B-TREE FOR ORDER BY/);
        }
      }
    });

    it("verification finds a tenant's and a partner's chain heads and checkpointed chains along their own indexes, not every tenant's", async () => {
      const t = vault();
      const auditor = await checkpointedTenant(t, "tnt_ckheads");
      for (const [caller, owner] of [[auditor, "tenant_id"], [t.admin, "partner_id"]] as const) {
        const { statements, value } = await statementsDuring(t.vault.db, () => caller.get("/v1/audit/verify"));
        expect(value.status, value.text).toBe(200);
        const heads = statements.find((s) => new RegExp(`FROM audit_chain_heads WHERE ${owner} = \\?`).test(s.sql));
        expect(heads, owner).toBeDefined();
        expect(await planOf(t.vault.db, heads!.sql, heads!.params), heads!.sql).toMatch(`audit_chain_heads_${owner.replace("_id", "")}`);
        // Its checkpointed chains, chain by chain along (owner, chain), not a DISTINCT over every checkpoint.
        const checkpointed = statements.find((s) => s.sql.includes("WITH RECURSIVE chains") && s.sql.includes(`${owner} = ?`));
        expect(checkpointed, owner).toBeDefined();
        expect(await planOf(t.vault.db, checkpointed!.sql, checkpointed!.params), checkpointed!.sql).toMatch(`audit_checkpoints_${owner.replace("_id", "")}_chain`);
      }
    });
  });

  describe("truncation with the head rolled back", () => {
    const vault = useVault(backend, FAST);

    it("fails with checkpoint_mismatch (this verified ok before checkpoints)", async () => {
      const t = vault();
      for (let i = 0; i < 4; i++) await t.admin.put(`/v1/secrets/trunc/s${i}`, { data: { i } });
      const signed = await checkpointCovering(t.admin, CHAIN, await headSeq(t));
      await rollBack(t, signed.entries - 3);
      const result = await t.admin.get("/v1/audit/verify");
      expect(result.body).toMatchObject({ ok: false, chain: CHAIN, reason: "checkpoint_mismatch" });
    });
  });

  describe("a tenant's whole chain deleted", () => {
    const vault = useVault(backend, FAST);

    it("fails with checkpoint_mismatch for that chain", async () => {
      const t = vault();
      await checkpointedTenant(t, "tnt_gone");
      await t.vault.db.run("DELETE FROM audit_log WHERE chain_id = ?", ["tenant:tnt_gone"]);
      await t.vault.db.run("DELETE FROM audit_chain_heads WHERE chain_id = ?", ["tenant:tnt_gone"]);
      expect((await t.admin.get("/v1/audit/verify")).body).toMatchObject({ ok: false, chain: "tenant:tnt_gone", reason: "checkpoint_mismatch" });
      expect((await t.admin.get("/v1/audit/verify", { headers: { "x-tenant-id": "tnt_gone" } })).body).toMatchObject({ ok: false, reason: "checkpoint_mismatch" });
    });
  });

  describe("an edited checkpoint", () => {
    const vault = useVault(backend, FAST);

    it("fails verification: its signature no longer checks", async () => {
      const t = vault();
      await t.admin.put("/v1/secrets/edit/a", { data: { v: 1 } });
      const signed = await checkpointCovering(t.admin, CHAIN, await headSeq(t));
      await t.vault.db.run("UPDATE audit_checkpoints SET timestamp = timestamp + 1 WHERE chain_id = ? AND entries = ?", [CHAIN, signed.entries]);
      expect((await t.admin.get("/v1/audit/verify")).body).toMatchObject({ ok: false, reason: "checkpoint_mismatch" });
    });
  });

  describe("an attacker who also deletes the newest checkpoints", () => {
    // No periodic job during the test (its first pass is a minute away): checkpoints are made
    // here, so none is written between the tampering steps.
    const vault = useVault(backend);

    it("passes verify, but a copy kept elsewhere shows what is missing", async () => {
      const t = vault();
      const checkpoints = await checkpointsOf(t);
      for (let i = 0; i < 4; i++) {
        await t.admin.put(`/v1/secrets/ext/s${i}`, { data: { i } });
        await checkpoints.checkpointMovedChains();
      }
      const signed = await checkpointCovering(t.admin, CHAIN, await headSeq(t));
      // What `scaivault audit checkpoints --follow` keeps off the node: the list and the key.
      const kept = await allCheckpoints(t.admin);
      const keep = signed.entries - 3;
      await rollBack(t, keep);
      await t.vault.db.run("DELETE FROM audit_checkpoints WHERE chain_id = ? AND entries > ?", [CHAIN, keep]);
      // The node alone cannot tell (documented in docs/security.md) …
      expect((await t.admin.get("/v1/audit/verify")).body).toMatchObject({ ok: true });
      // … the kept copy can: checkpoints it holds, validly signed, that the vault no longer has,
      // and a head that the chain's current entries do not reach.
      const now = await allCheckpoints(t.admin);
      expect(now.public_key.pem).toBe(kept.public_key.pem);
      const present = new Set(now.checkpoints.map((c) => `${c.chain}|${c.entries}|${c.head_hash}`));
      const missing = kept.checkpoints.filter((c) => c.chain === CHAIN && !present.has(`${c.chain}|${c.entries}|${c.head_hash}`));
      expect(missing.length).toBeGreaterThan(0);
      for (const c of missing) expect(signedBy(kept.public_key.pem, c)).toBe(true);
      const newestKept = Math.max(...kept.checkpoints.filter((c) => c.chain === CHAIN).map((c) => c.entries));
      const stored = await t.vault.db.get<{ hash: string }>("SELECT hash FROM audit_log WHERE chain_id = ? AND seq = ?", [CHAIN, newestKept]);
      const keptHead = kept.checkpoints.find((c) => c.chain === CHAIN && c.entries === newestKept)!;
      expect(stored?.hash).not.toBe(keptHead.head_hash);
    });
  });

  describe("once across nodes", () => {
    const vault = useVault(backend);

    it("a checkpoint pass is claimed by exactly one of several nodes per interval", async () => {
      const t = vault();
      const others = [openDatabase(t.database.url), openDatabase(t.database.url)];
      try {
        const now = Date.now();
        const claims = await Promise.all([t.vault.db, ...others, t.vault.db, ...others].map((db) => claimJob(db, "test-once", 60_000, now)));
        expect(claims.filter(Boolean)).toHaveLength(1);
        // The next interval is claimed once again.
        const later = await Promise.all([t.vault.db, ...others].map((db) => claimJob(db, "test-once", 60_000, now + 60_000)));
        expect(later.filter(Boolean)).toHaveLength(1);
      } finally {
        for (const db of others) await db.close();
      }
    });
  });
});
