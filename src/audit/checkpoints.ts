import { validationError } from "../http/errors.js";
import { decodeCursor, encodeCursor } from "../shared/cursor.js";
import { isoMicros } from "../shared/time.js";
import type { Database, Queryable, SqlParam } from "../storage/contract.js";
import type { CheckpointClaim, CheckpointSigner } from "./checkpoint-signer.js";
import { parseTime } from "./filters.js";
import { claimJob } from "./jobs.js";

export type CheckpointKind = "periodic" | "cut";

export interface CheckpointRow {
  chain_id: string;
  kind: CheckpointKind;
  entries: number;
  partner_id: string;
  tenant_id: string | null;
  head_hash: string;
  timestamp: number;
  key_id: string;
  signature: string;
}

const COLUMNS = "chain_id, kind, entries, partner_id, tenant_id, head_hash, timestamp, key_id, signature";

export function claimOf(row: CheckpointRow): CheckpointClaim {
  return { chain: row.chain_id, entries: Number(row.entries), head_hash: row.head_hash, timestamp: Number(row.timestamp) };
}

export function checkpointView(row: CheckpointRow) {
  return {
    chain: row.chain_id,
    entries: Number(row.entries),
    head_hash: row.head_hash,
    timestamp: isoMicros(Number(row.timestamp)),
    kind: row.kind,
    key_id: row.key_id,
    signature: row.signature,
  };
}

/**
 * Signed checkpoints of the audit chains (SPEC §5 ext): a periodic job signs the head of every
 * chain that moved since its last checkpoint, and retention signs the cut it prunes up to.
 */
export class Checkpoints {
  constructor(private readonly db: Database, readonly signer: CheckpointSigner) {}

  /** Signs and stores one checkpoint; an identical one already stored (same chain, kind, entries) is kept. */
  async write(tx: Queryable, kind: CheckpointKind, chain: { chain_id: string; partner_id: string; tenant_id: string | null }, entries: number, headHash: string, now: number): Promise<void> {
    const claim: CheckpointClaim = { chain: chain.chain_id, entries, head_hash: headHash, timestamp: now };
    await tx.run(
      `INSERT INTO audit_checkpoints (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (chain_id, kind, entries) DO NOTHING`,
      [chain.chain_id, kind, entries, chain.partner_id, chain.tenant_id, headHash, now, this.signer.keyId, this.signer.sign(claim)],
    );
  }

  /**
   * One periodic pass, claimed once across nodes for the interval: every chain whose head is past
   * its newest checkpoint gets one. Returns how many were written (0 when another node had the turn).
   */
  async runPeriodic(intervalMs: number, now = Date.now()): Promise<number> {
    if (!(await claimJob(this.db, "checkpoint", intervalMs, now))) return 0;
    return this.checkpointMovedChains(now);
  }

  async checkpointMovedChains(now = Date.now()): Promise<number> {
    const heads = await this.db.all<{ chain_id: string; partner_id: string; tenant_id: string | null; seq: number | string; hash: string }>(
      `SELECT h.chain_id, h.partner_id, h.tenant_id, h.seq, h.hash FROM audit_chain_heads h
        WHERE h.seq > COALESCE((SELECT MAX(c.entries) FROM audit_checkpoints c WHERE c.chain_id = h.chain_id), 0)`,
    );
    for (let start = 0; start < heads.length; start += 200) {
      await this.db.transaction(async (tx) => {
        for (const head of heads.slice(start, start + 200)) await this.write(tx, "periodic", head, Number(head.seq), head.hash, now);
      });
    }
    return heads.length;
  }

  /** The newest checkpoint of a chain (of any kind, or only cuts). */
  newest(chainId: string, kind?: CheckpointKind): Promise<CheckpointRow | undefined> {
    return this.db.get<CheckpointRow>(
      `SELECT ${COLUMNS} FROM audit_checkpoints WHERE chain_id = ?${kind ? " AND kind = ?" : ""} ORDER BY entries DESC LIMIT 1`,
      kind ? [chainId, kind] : [chainId],
    );
  }

  /** Checkpoints whose entry count lies in [low, high] (the part of the chain a verify page covers). */
  between(chainId: string, low: number, high: number): Promise<CheckpointRow[]> {
    return this.db.all<CheckpointRow>(`SELECT ${COLUMNS} FROM audit_checkpoints WHERE chain_id = ? AND entries >= ? AND entries <= ?`, [chainId, low, high]);
  }

  /**
   * Chains of the tenant or partner that have checkpoints (a chain whose entries and head were
   * deleted still has them), chain by chain along (owner, chain): a DISTINCT read every checkpoint
   * the owner ever had (one a minute per busy chain; round 24 for tenants, round 34 for partners).
   */
  async chainsWithCheckpoints(owner: { tenantId: string } | { partnerId: string }): Promise<string[]> {
    const [column, id] = "tenantId" in owner ? ["tenant_id", owner.tenantId] : ["partner_id", owner.partnerId];
    const rows = await this.db.all<{ chain_id: string }>(
      `WITH RECURSIVE chains(chain_id) AS (
         SELECT MIN(chain_id) FROM audit_checkpoints WHERE ${column} = ?
         UNION ALL SELECT (SELECT MIN(chain_id) FROM audit_checkpoints WHERE ${column} = ? AND chain_id > chains.chain_id) FROM chains WHERE chains.chain_id IS NOT NULL)
       SELECT chain_id FROM chains WHERE chain_id IS NOT NULL`,
      [id, id],
    );
    return rows.map((r) => r.chain_id);
  }

  /**
   * Oldest first, so a follower can page forward with the cursor and see new ones appear.
   * `scope`: the chain ids the caller may see, or for a partner admin the partner's id — every
   * checkpoint of the partner, by its column rather than a list of (with lanes, 8 per tenant) ids.
   */
  async list(scope: { tenantId: string; chains: readonly string[] } | { partnerId: string }, query: { chain?: string; from?: string; to?: string; limit?: number; cursor?: string }) {
    const limit = query.limit ?? 100;
    const publicKey = this.signer.publicKeyView();
    const where: string[] = [];
    const params: SqlParam[] = [];
    if ("partnerId" in scope) {
      where.push("partner_id = ?"), params.push(scope.partnerId);
      if (query.chain !== undefined) where.push("chain_id = ?"), params.push(query.chain);
    } else {
      const visible = query.chain === undefined ? [...scope.chains] : scope.chains.filter((c) => c === query.chain);
      if (visible.length === 0) return { checkpoints: [], public_key: publicKey, cursor: null, has_more: false };
      // The tenant's chains are the tenant's checkpoints: along their (tenant, time) index, in order.
      where.push("tenant_id = ?", `chain_id IN (${visible.map(() => "?").join(", ")})`), params.push(scope.tenantId, ...visible);
    }
    const from = parseTime("from", query.from);
    const to = parseTime("to", query.to);
    if (from !== undefined && to !== undefined && from > to) throw validationError({ from: "must not be after to" });
    const after = decodeCursor<{ t: number; c: string; e: number }>(query.cursor, { t: "number", c: "string", e: "number" });
    if (from !== undefined) where.push("timestamp >= ?"), params.push(from);
    if (to !== undefined) where.push("timestamp < ?"), params.push(to);
    // The keyset's bound also as a plain range: an index is narrowed by that, never by the OR beside it.
    if (after) where.push("timestamp >= ?", "(timestamp > ? OR (timestamp = ? AND (chain_id > ? OR (chain_id = ? AND entries > ?))))"), params.push(after.t, after.t, after.t, after.c, after.c, after.e);
    // One chain asked for: along its own (chain, time) index; by the owner's time index that read
    // every checkpoint of the owner's other chains in between (migration 0529, round 34).
    const index = query.chain !== undefined ? "audit_checkpoints_chain_time" : "partnerId" in scope ? null : "audit_checkpoints_tenant_time";
    const hint = index === null || this.db.dialect !== "sqlite" ? "" : ` INDEXED BY ${index}`;
    const rows = await this.db.all<CheckpointRow>(
      `SELECT ${COLUMNS} FROM audit_checkpoints${hint} WHERE ${where.join(" AND ")} ORDER BY timestamp, chain_id, entries LIMIT ?`,
      [...params, limit + 1],
    );
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    // The cursor is returned even on the last page, so `--follow` can ask for what comes after it.
    return {
      checkpoints: page.map(checkpointView),
      public_key: publicKey,
      cursor: last ? encodeCursor({ t: Number(last.timestamp), c: last.chain_id, e: Number(last.entries) }) : (query.cursor ?? null),
      has_more: rows.length > limit,
    };
  }
}
