import type { Database } from "../storage/contract.js";
import { AUDIT_COLUMNS, chainIdOf, GENESIS_HASH, laneChainIds, laneCount, parseChainId, type AuditRow, type ChainHasher } from "./chain.js";
import { claimOf, type CheckpointRow, type Checkpoints } from "./checkpoints.js";
import type { Visibility } from "./visibility.js";
import { SharedRuns } from "../shared/shared-runs.js";
import type { SharedSlices, SliceWalk } from "../shared/turn.js";
import { walkStretches } from "../storage/stretches.js";

export interface VerifyResult {
  ok: boolean;
  /** Entries checked, over every chain walked. */
  entries: number;
  /** Tenant and partner chains walked (each with all its lanes). */
  chains: number;
  /** Lanes walked, over all those chains (a lane is an ordinary chain with its own id; see chain.ts). */
  lanes: number;
  /** The lane (its chain id, as in checkpoints) where verification stopped. */
  first_bad_entry?: string | null;
  chain?: string;
  reason?: "hash_mismatch" | "prev_hash_mismatch" | "sequence_gap" | "truncated" | "head_mismatch" | "head_missing" | "unchained_entry" | "checkpoint_mismatch";
  message?: string;
}

type Break = Required<Pick<VerifyResult, "first_bad_entry" | "reason" | "message">>;

/**
 * Entries per statement: what a statement's rows cost the loop in one piece (SQLite reads on it,
 * 1,000 rows 3–4 ms; node-postgres parses a page's rows when they arrive).
 */
const PAGE = 250;

/** Entries per statement of the check for entries outside the lanes: about 0.2 ms of SQLite's loop. */
const STRAY_STRETCH = 1000;

/**
 * Walks hash chains from their first entry: every entry's sequence number must follow its
 * predecessor's, its prev_hash must equal its predecessor's hash and its hash must recompute, and
 * the last entry must be the chain head. An edited entry fails its own hash; a deleted one leaves a
 * gap (or, at the end, a head that points past the last entry); swapped entries fail their hashes,
 * which cover the sequence number. Signed checkpoints catch what the chain alone cannot: newest
 * entries deleted with the head rolled back, or a whole chain removed (`checkpoint_mismatch`);
 * after retention pruning the walk starts at the newest signed cut.
 */
export class ChainVerifier {
  /**
   * Verifications asked for while one of the same chains is under way share the next: any number
   * of `audit:read` callers cost at most two walks of a trail at a time (one per visibility).
   */
  private readonly runs = new SharedRuns<VerifyResult>();

  /** `slices`: the node's one share of the loop for long walks (its walks and any other's take turns). */
  constructor(private readonly db: Database, private readonly hasher: ChainHasher, private readonly checkpoints: Checkpoints, private readonly slices: SharedSlices) {}

  /**
   * The chain ids (lanes) a caller may see: every lane of its tenant's chain, and for partner
   * admins every lane of every chain of the partner — the dialect's lanes of each chain, plus any
   * chain id that has a head row or a checkpoint (lanes written elsewhere or beyond the count).
   */
  async chainsFor(visibility: Visibility): Promise<string[]> {
    const bases = new Set([chainIdOf(visibility.partnerId, visibility.tenantId)]);
    const found: string[] = [];
    if (visibility.includePartnerChain) {
      bases.add(chainIdOf(visibility.partnerId, null));
      const tenants = await this.db.all<{ id: string }>("SELECT id FROM tenants WHERE partner_id = ?", [visibility.partnerId]);
      for (const t of tenants) bases.add(chainIdOf(visibility.partnerId, t.id));
      const heads = await this.db.all<{ chain_id: string }>("SELECT chain_id FROM audit_chain_heads WHERE partner_id = ?", [visibility.partnerId]);
      found.push(...heads.map((h) => h.chain_id), ...(await this.checkpoints.chainsWithCheckpoints({ partnerId: visibility.partnerId })));
    } else {
      const own = [...bases][0];
      const heads = await this.db.all<{ chain_id: string }>("SELECT chain_id FROM audit_chain_heads WHERE tenant_id = ?", [visibility.tenantId]);
      const checkpointed = await this.checkpoints.chainsWithCheckpoints({ tenantId: visibility.tenantId });
      found.push(...[...heads.map((r) => r.chain_id), ...checkpointed].filter((id) => parseChainId(id)?.base === own));
    }
    const chains = new Set<string>(found);
    const lanes = laneCount(this.db.dialect);
    for (const base of bases) for (const lane of laneChainIds(base, lanes)) chains.add(lane);
    return [...chains].sort();
  }

  /**
   * Walks every lane of every chain the caller may see; then, per tenant or partner chain, looks
   * for entries of that tenant (partner) that lie in none of the lanes walked (`unchained_entry`).
   * The answer counts tenant and partner chains in `chains` and their lanes in `lanes`; a break
   * names the lane in `chain`.
   */
  async verify(visibility: Visibility): Promise<VerifyResult> {
    const key = `${visibility.partnerId}\n${visibility.tenantId}\n${visibility.includePartnerChain}`;
    return { ...(await this.runs.run(key, () => this.verifyNow(visibility))) };
  }

  private async verifyNow(visibility: Visibility): Promise<VerifyResult> {
    const walk = await this.slices.walk();
    try {
      return await this.verifyChains(visibility, walk);
    } finally {
      walk.end();
    }
  }

  private async verifyChains(visibility: Visibility, walk: SliceWalk): Promise<VerifyResult> {
    const ids = await this.chainsFor(visibility);
    const byBase = new Map<string, string[]>();
    for (const id of ids) {
      const base = parseChainId(id)?.base ?? id;
      const lanes = byBase.get(base);
      if (lanes) lanes.push(id);
      else byBase.set(base, [id]);
    }
    const counts = { chains: byBase.size, lanes: ids.length };
    let entries = 0;
    for (const [base, lanes] of byBase) {
      for (const chain of lanes) {
        const result = await this.verifyChain(chain, walk);
        entries += result.entries;
        if (result.broken) return { ok: false, entries, ...counts, chain, ...result.broken };
      }
      const stray = await this.strayEntry(base, lanes, walk);
      if (stray) return { ok: false, entries, ...counts, chain: base, first_bad_entry: stray, reason: "unchained_entry", message: "an entry of this tenant is not part of any lane of its chain" };
    }
    return { ok: true, entries, ...counts };
  }

  private async verifyChain(chainId: string, slice: SliceWalk): Promise<{ entries: number; broken: Break | null }> {
    // Pruning may move the cut while this walk runs: a gap behind a newer cut is retried from it.
    for (let attempt = 0; ; attempt++) {
      const cut = await this.checkpoints.newest(chainId, "cut");
      const result = await this.walk(chainId, cut, slice);
      const reason = result.broken?.reason;
      if ((reason !== "sequence_gap" && reason !== "truncated") || attempt >= 3) return result;
      const now = await this.checkpoints.newest(chainId, "cut");
      if (Number(now?.entries ?? 0) === Number(cut?.entries ?? 0)) return result;
    }
  }

  private async walk(chainId: string, cut: CheckpointRow | undefined, slice: SliceWalk): Promise<{ entries: number; broken: Break | null }> {
    const mismatch = (message: string, entry: string | null = null) => ({ first_bad_entry: entry, reason: "checkpoint_mismatch" as const, message });
    if (cut && !this.checkpoints.signer.verify(claimOf(cut), cut.signature)) return { entries: 0, broken: mismatch(`the retention cut checkpoint at entry ${cut.entries} has an invalid signature`) };
    // Read before the head: every checkpoint was made from a committed head, so the head read
    // next is at least as far along, and a checkpoint made meanwhile cannot look like a truncation.
    const latest = await this.checkpoints.newest(chainId);
    if (latest && !this.checkpoints.signer.verify(claimOf(latest), latest.signature)) {
      return { entries: 0, broken: mismatch(`the checkpoint at entry ${latest.entries} has an invalid signature`) };
    }
    const head = await this.db.get<{ seq: number | string; hash: string }>("SELECT seq, hash FROM audit_chain_heads WHERE chain_id = ?", [chainId]);
    // Entries appended after the head was read are not this walk's business.
    const headSeq = head ? Number(head.seq) : Number.MAX_SAFE_INTEGER;
    let expected = cut ? Number(cut.entries) + 1 : 1;
    let prev = cut ? cut.head_hash : GENESIS_HASH;
    let entries = 0;
    let lastId: string | null = null;
    for (;;) {
      // In slices of the loop shared with every other long walk, a page at most per slice: on
      // SQLite nothing else would let the node answer anyone until every chain (millions of
      // entries) is walked.
      const rows = await slice.read(() => this.db.all<AuditRow>(
        `SELECT ${AUDIT_COLUMNS} FROM audit_log WHERE chain_id = ? AND seq >= ? AND seq <= ? ORDER BY seq LIMIT ?`,
        [chainId, expected, headSeq, PAGE],
      ));
      const hashes = new Map<number, { id: string; hash: string }>();
      for (const row of rows) {
        if (slice.due()) await slice.pause();
        const seq = Number(row.seq);
        if (seq !== expected) {
          return { entries, broken: { first_bad_entry: row.id, reason: "sequence_gap", message: `entries ${expected}..${seq - 1} of the chain are missing before this one` } };
        }
        const { hash, ...unsigned } = row;
        if (this.hasher.hash({ ...unsigned, seq, timestamp: Number(row.timestamp) }) !== hash) {
          return { entries, broken: { first_bad_entry: row.id, reason: "hash_mismatch", message: "this entry's content does not match its hash (edited or moved)" } };
        }
        if (row.prev_hash !== prev) {
          return { entries, broken: { first_bad_entry: row.id, reason: "prev_hash_mismatch", message: "this entry does not follow the entry stored before it" } };
        }
        entries++;
        expected = seq + 1;
        prev = hash;
        lastId = row.id;
        hashes.set(seq, { id: row.id, hash });
      }
      if (rows.length > 0) {
        // Every checkpoint over this stretch must name the hash the chain has there (no rewritten history).
        for (const checkpoint of await this.checkpoints.between(chainId, Number(rows[0].seq), expected - 1)) {
          const at = hashes.get(Number(checkpoint.entries))!;
          if (at.hash !== checkpoint.head_hash) return { entries, broken: mismatch(`entry ${checkpoint.entries} differs from the one signed at ${checkpoint.kind} checkpoint ${checkpoint.entries}`, at.id) };
          if (!this.checkpoints.signer.verify(claimOf(checkpoint), checkpoint.signature)) return { entries, broken: mismatch(`the checkpoint at entry ${checkpoint.entries} has an invalid signature`, at.id) };
        }
      }
      if (rows.length < PAGE) break;
    }
    const reached = expected - 1;
    if (!head) {
      if (latest) return { entries, broken: mismatch(`the chain and its head are gone, but a signed checkpoint records ${latest.entries} entries`) };
      return entries === 0 ? { entries, broken: null } : { entries, broken: { first_bad_entry: null, reason: "head_missing", message: "the chain head record is missing" } };
    }
    if (reached !== headSeq) {
      return { entries, broken: { first_bad_entry: null, reason: "truncated", message: `the chain ends at entry ${reached}${lastId ? ` (${lastId})` : ""} but its head records ${headSeq}: later entries were deleted` } };
    }
    if (prev !== head.hash) {
      return { entries, broken: { first_bad_entry: lastId, reason: "head_mismatch", message: "the last entry's hash differs from the chain head" } };
    }
    if (latest && Number(latest.entries) > reached) {
      return { entries, broken: mismatch(`the chain ends at entry ${reached}${lastId ? ` (${lastId})` : ""} but a signed checkpoint records ${latest.entries} entries: newer entries were deleted and the head rolled back`, lastId) };
    }
    return { entries, broken: null };
  }

  /**
   * An entry that claims the chain's tenant (partner) but lies in none of the lanes walked
   * (inserted by hand, or moved). Read along the owner's time index a stretch of `STRAY_STRETCH`
   * entries at a time, each in the walk's slices: one statement over the whole trail held a SQLite
   * node's loop (and three PostgreSQL cores in a parallel scan) ~190 ms per million entries.
   */
  private async strayEntry(base: string, lanes: readonly string[], walk: SliceWalk): Promise<string | null> {
    const chain = parseChainId(base);
    if (!chain || chain.lane !== 0) return null;
    const owner = chain.kind === "tenant" ? "tenant_id = ?" : "tenant_id IS NULL AND partner_id = ?";
    const outside = `(chain_id IS NULL OR seq IS NULL OR hash IS NULL OR chain_id NOT IN (${lanes.map(() => "?").join(", ")}))`;
    let stray: string | null = null;
    // Along the owner's time index (a key of one column: entries sharing the stretch's last timestamp stay in it).
    await walkStretches(this.db, { from: `FROM audit_log WHERE ${owner}`, params: [chain.owner], key: ["timestamp"], size: STRAY_STRETCH, read: (statement) => walk.read(statement) }, async (bounds) => {
      const row = await walk.read(() => this.db.get<{ id: string }>(`SELECT id FROM audit_log WHERE ${owner}${bounds.sql} AND ${outside} LIMIT 1`, [chain.owner, ...bounds.params, ...lanes]));
      stray = row?.id ?? null;
      return stray !== null;
    });
    return stray;
  }
}
