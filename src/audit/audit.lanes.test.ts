/**
 * Chain lanes (PostgreSQL): concurrent writes of one tenant take different lanes of its audit
 * chain instead of queueing on one head row. Each lane must stay an ordinary, unforked chain —
 * contiguous seq from 1, its head at its last entry — every entry verifies, and tampering with a
 * lane other than lane 0 is found like tampering with lane 0. Two nodes write at once.
 */
import { describe, expect, it } from "vitest";
import { postgresAvailable } from "../testing/backends.js";
import { useSecondNode, useVault, type TestVault } from "../testing/harness.js";
import { laneChainIds, parseChainId, PG_CHAIN_LANES } from "./chain.js";

const TENANT = "tnt_default";
const CHAIN = `tenant:${TENANT}`;
const LANES = laneChainIds(CHAIN, PG_CHAIN_LANES);

interface Entry {
  id: string;
  chain_id: string;
  seq: number;
  hash: string;
  prev_hash: string;
  request_id: string;
}

async function tenantEntries(t: TestVault): Promise<Entry[]> {
  const rows = await t.vault.db.all<Entry>("SELECT id, chain_id, seq, hash, prev_hash, request_id FROM audit_log WHERE tenant_id = ? ORDER BY chain_id, seq", [TENANT]);
  return rows.map((r) => ({ ...r, seq: Number(r.seq) }));
}

function byLane(entries: readonly Entry[]): Map<string, Entry[]> {
  const lanes = new Map<string, Entry[]>();
  for (const e of entries) lanes.set(e.chain_id, [...(lanes.get(e.chain_id) ?? []), e]);
  return lanes;
}

async function verify(t: TestVault) {
  const response = await t.admin.get("/v1/audit/verify");
  expect(response.status).toBe(200);
  return response.body;
}

/** Waits (bounded) until the periodic job has checkpointed `lane` at its head; returns the entries signed. */
async function checkpointed(t: TestVault, lane: string): Promise<number> {
  const head = await t.vault.db.get<{ seq: number }>("SELECT seq FROM audit_chain_heads WHERE chain_id = ?", [lane]);
  let newest = 0;
  for (let i = 0; i < 400 && newest < Number(head!.seq); i++) {
    if (i > 0) await new Promise((resolve) => setTimeout(resolve, 50));
    const list = await t.admin.get(`/v1/audit/checkpoints?chain=${encodeURIComponent(lane)}&limit=1000`);
    expect(list.status).toBe(200);
    newest = Math.max(0, ...(list.body.checkpoints as Array<{ entries: number }>).map((c) => c.entries));
  }
  return newest;
}

describe.skipIf(!postgresAvailable())("audit: chain lanes [postgres]", () => {
  // Pools large enough that writes of one tenant really overlap on each node.
  const vault = useVault("postgres", { env: { DATABASE_POOL_SIZE: "16", SCAIVAULT_AUDIT_CHECKPOINT_INTERVAL: "150ms" } });
  const second = useSecondNode(vault);

  it("spreads concurrent writes of one tenant over lanes, each a contiguous unforked chain that verifies", async () => {
    const t = vault();
    const nodes = [t.admin, second()];
    const responses = await Promise.all(Array.from({ length: 240 }, (_, i) => nodes[i % 2].put(`/v1/secrets/lanes/s${i % 48}`, { data: { i } })));
    expect(responses.filter((r) => r.status >= 300).map((r) => r.text)).toEqual([]);

    const entries = await tenantEntries(t);
    // Every entry of the tenant is in one of its lanes, and every acknowledged write has its entry.
    expect(entries.filter((e) => !LANES.includes(e.chain_id))).toEqual([]);
    const requestIds = new Set(entries.map((e) => e.request_id));
    expect(responses.map((r) => r.headers.get("x-request-id")).filter((id) => !requestIds.has(id!))).toEqual([]);

    const lanes = byLane(entries);
    expect(lanes.size).toBeGreaterThan(1);
    expect([...lanes.keys()].some((id) => parseChainId(id)!.lane > 0)).toBe(true);
    const heads = new Map(
      (await t.vault.db.all<{ chain_id: string; seq: number; hash: string }>("SELECT chain_id, seq, hash FROM audit_chain_heads WHERE tenant_id = ?", [TENANT])).map((h) => [h.chain_id, h]),
    );
    for (const [lane, list] of lanes) {
      // Contiguous from 1, no duplicate, each linked to the one before, the head at the last.
      expect(list.map((e) => e.seq), lane).toEqual(list.map((_, i) => i + 1));
      list.forEach((e, i) => expect(e.prev_hash, `${lane} #${e.seq}`).toBe(i === 0 ? "0".repeat(64) : list[i - 1].hash));
      expect(Number(heads.get(lane)?.seq), lane).toBe(list.length);
      expect(heads.get(lane)?.hash, lane).toBe(list[list.length - 1].hash);
    }
    // Lane heads are created together: all of them exist, unused ones at seq 0.
    expect([...heads.keys()].sort()).toEqual([...LANES].sort());

    const result = await verify(t);
    expect(result).toMatchObject({ ok: true, chains: 2, lanes: 2 * PG_CHAIN_LANES });
    expect(result.entries).toBeGreaterThanOrEqual(entries.length);

    // Every lane that moved gets its own signed checkpoint, listed under the lane's chain id.
    for (const [lane, list] of lanes) expect(await checkpointed(t, lane), lane).toBeGreaterThanOrEqual(list.length);
  });

  it("finds an edited entry, a rolled-back head and a stray entry in a lane other than lane 0", async () => {
    const t = vault();
    const lanes = byLane(await tenantEntries(t));
    const [lane, list] = [...lanes].find(([id, l]) => parseChainId(id)!.lane > 0 && l.length >= 2)!;
    expect(list, "a lane k>0 with two entries").toBeDefined();

    // Edited: that entry's hash no longer recomputes.
    const victim = list[Math.floor(list.length / 2)];
    const original = await t.vault.db.get<{ identity_id: string }>("SELECT identity_id FROM audit_log WHERE id = ?", [victim.id]);
    await t.vault.db.run("UPDATE audit_log SET identity_id = ? WHERE id = ?", ["user:someone-else", victim.id]);
    expect(await verify(t)).toMatchObject({ ok: false, reason: "hash_mismatch", first_bad_entry: victim.id, chain: lane });
    await t.vault.db.run("UPDATE audit_log SET identity_id = ? WHERE id = ?", [original!.identity_id, victim.id]);
    expect((await verify(t)).ok).toBe(true);

    // Newest entry deleted and the lane's head rolled back: its signed checkpoint still names it.
    expect(await checkpointed(t, lane)).toBe(list.length);
    const last = list[list.length - 1];
    const full = await t.vault.db.get<Record<string, unknown>>("SELECT * FROM audit_log WHERE id = ?", [last.id]);
    await t.vault.db.run("DELETE FROM audit_log WHERE id = ?", [last.id]);
    await t.vault.db.run("UPDATE audit_chain_heads SET seq = ?, hash = ? WHERE chain_id = ?", [last.seq - 1, list[list.length - 2].hash, lane]);
    expect(await verify(t)).toMatchObject({ ok: false, reason: "checkpoint_mismatch", chain: lane });
    const columns = Object.keys(full!);
    await t.vault.db.run(`INSERT INTO audit_log (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`, columns.map((c) => full![c] as never));
    await t.vault.db.run("UPDATE audit_chain_heads SET seq = ?, hash = ? WHERE chain_id = ?", [last.seq, last.hash, lane]);
    expect((await verify(t)).ok).toBe(true);

    // An entry of the tenant moved to a lane beyond the lane count is in no lane of the chain.
    const beyond = `${CHAIN}#${PG_CHAIN_LANES}`;
    const copy = columns.map((c) => (c === "id" ? "?" : c === "chain_id" ? "?" : c));
    await t.vault.db.run(`INSERT INTO audit_log (${columns.join(", ")}) SELECT ${copy.join(", ")} FROM audit_log WHERE id = ?`, [...columns.filter((c) => c === "id" || c === "chain_id").map((c) => (c === "id" ? "log_stray0000000000000" : beyond)), last.id]);
    expect(await verify(t)).toMatchObject({ ok: false, reason: "unchained_entry", first_bad_entry: "log_stray0000000000000", chain: CHAIN });
    await t.vault.db.run("DELETE FROM audit_log WHERE id = ?", ["log_stray0000000000000"]);
    expect((await verify(t)).ok).toBe(true);
  });
});

describe("audit: chain lane ids", () => {
  it("spells lane 0 as the chain id itself and lane k as <chain>#k, and parses only those spellings", () => {
    expect(laneChainIds("tenant:tnt_a", 3)).toEqual(["tenant:tnt_a", "tenant:tnt_a#1", "tenant:tnt_a#2"]);
    expect(parseChainId("tenant:tnt_a")).toEqual({ kind: "tenant", owner: "tnt_a", base: "tenant:tnt_a", lane: 0 });
    expect(parseChainId("partner:ptn_x#7")).toEqual({ kind: "partner", owner: "ptn_x", base: "partner:ptn_x", lane: 7 });
    for (const bad of ["tenant:tnt_a#0", "tenant:tnt_a#01", "tenant:tnt_a#", "tenant:", "filler:tnt_a", "tenant:tnt_a#1#2", "tenant:tnt_a#-1"]) expect(parseChainId(bad), bad).toBeNull();
  });
});
