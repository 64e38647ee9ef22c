import type { Caller } from "../http/context.js";
import { validationError } from "../http/errors.js";
import { isoMicros } from "../shared/time.js";
import type { Database, Queryable } from "../storage/contract.js";
import type { Checkpoints } from "./checkpoints.js";
import { claimJob } from "./jobs.js";
import { forgetMentions } from "./mentions.js";
import type { AuditRecorder } from "./recorder.js";
import type { AuditRollups } from "./rollups.js";
import { nextTurn, restAfter } from "../shared/turn.js";

/** SPEC §5: audit entries are kept 7 years unless a tenant says otherwise. */
export const DEFAULT_RETENTION_DAYS = 7 * 365;
const DAY_MS = 86_400_000;
/** Sequence numbers one statement looks through for the first entry not yet due. */
const CUT_WINDOW = 10_000;

export interface RetentionSettings {
  minRetentionDays: number;
  retentionReductionDelayMs: number;
  pruneIntervalMs: number;
  pruneBatch: number;
}

interface RetentionRow {
  tenant_id: string;
  partner_id: string;
  days: number;
  pending_days: number | null;
  pending_effective_at: number | null;
  updated_by: string;
  updated_at: number;
}

/** The days in force at `now`: a pending reduction counts once its time has come. */
function effectiveDays(row: RetentionRow | undefined, now: number): number {
  if (!row) return DEFAULT_RETENTION_DAYS;
  if (row.pending_days !== null && row.pending_effective_at !== null && Number(row.pending_effective_at) <= now) return Number(row.pending_days);
  return Number(row.days);
}

/**
 * Per-tenant audit retention (SPEC §5) and the pruning that applies it. A reduction is recorded
 * at once but waits `retentionReductionDelayMs` before pruning uses it, so a stolen admin token
 * cannot erase the trail of what it just did. Pruning signs a `cut` checkpoint first and then
 * deletes up to it in small batches; verification starts at the newest cut.
 */
export class AuditRetention {
  constructor(
    private readonly deps: { db: Database; audit: AuditRecorder; checkpoints: Checkpoints; rollups: AuditRollups },
    private readonly settings: RetentionSettings,
  ) {}

  private row(tenantId: string): Promise<RetentionRow | undefined> {
    return this.deps.db.get<RetentionRow>("SELECT * FROM audit_retention WHERE tenant_id = ?", [tenantId]);
  }

  private view(tenantId: string, row: RetentionRow | undefined, now: number) {
    const pendingDue = row?.pending_days != null && row.pending_effective_at != null && Number(row.pending_effective_at) <= now;
    return {
      tenant_id: tenantId,
      days: effectiveDays(row, now),
      default_days: DEFAULT_RETENTION_DAYS,
      minimum_days: this.settings.minRetentionDays,
      pending: row && row.pending_days !== null && !pendingDue ? { days: Number(row.pending_days), effective_at: isoMicros(Number(row.pending_effective_at)) } : null,
      updated_at: row ? isoMicros(Number(row.updated_at)) : null,
      updated_by: row?.updated_by ?? null,
    };
  }

  async get(caller: Caller, now = Date.now()) {
    return this.view(caller.tenant.tenantId, await this.row(caller.tenant.tenantId), now);
  }

  async set(caller: Caller, days: number, now = Date.now()) {
    if (!Number.isSafeInteger(days) || days < this.settings.minRetentionDays) {
      throw validationError({ days: `must be a whole number of days, at least ${this.settings.minRetentionDays}` });
    }
    const { tenantId, partnerId } = caller.tenant;
    return this.deps.db.transaction(async (tx) => {
      const current = await tx.get<RetentionRow>("SELECT * FROM audit_retention WHERE tenant_id = ?", [tenantId]);
      const before = effectiveDays(current, now);
      // Longer retention takes effect at once; shorter waits, and replaces any reduction pending.
      const reduce = days < before;
      const next: RetentionRow = {
        tenant_id: tenantId,
        partner_id: partnerId,
        days: reduce ? before : days,
        pending_days: reduce ? days : null,
        pending_effective_at: reduce ? now + this.settings.retentionReductionDelayMs : null,
        updated_by: caller.principal.identityId,
        updated_at: now,
      };
      await tx.run(
        `INSERT INTO audit_retention (tenant_id, partner_id, days, pending_days, pending_effective_at, updated_by, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (tenant_id) DO UPDATE SET days = excluded.days, pending_days = excluded.pending_days, pending_effective_at = excluded.pending_effective_at,
           updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
        [next.tenant_id, next.partner_id, next.days, next.pending_days, next.pending_effective_at, next.updated_by, next.updated_at],
      );
      caller.ctx.audit.extra = { previous_days: before, days, reduction: reduce, ...(reduce ? { effective_at: isoMicros(next.pending_effective_at!) } : {}) };
      await this.deps.audit.recordInTransaction(tx, caller, 200);
      return this.view(tenantId, next, now);
    });
  }

  /** One pruning pass, claimed once per interval across nodes. Returns the entries deleted. */
  async runPeriodic(now = Date.now()): Promise<number> {
    if (!(await claimJob(this.deps.db, "prune", this.settings.pruneIntervalMs, now))) return 0;
    return this.prune(now);
  }

  /** Applies every chain's retention as of `now` (a parameter so tests can move the clock). */
  async prune(now = Date.now()): Promise<number> {
    const heads = await this.deps.db.all<{ chain_id: string; partner_id: string; tenant_id: string | null; seq: number | string }>(
      "SELECT chain_id, partner_id, tenant_id, seq FROM audit_chain_heads ORDER BY chain_id",
    );
    const retention = new Map((await this.deps.db.all<RetentionRow>("SELECT * FROM audit_retention")).map((r) => [r.tenant_id, r]));
    let deleted = 0;
    for (const head of heads) {
      // Partner chains (failed authentication) keep the default.
      const days = head.tenant_id === null ? DEFAULT_RETENTION_DAYS : effectiveDays(retention.get(head.tenant_id), now);
      await this.cut(head, now - days * DAY_MS, now);
      deleted += await this.deleteUpToCut(head);
    }
    return deleted;
  }

  /** Signs a cut before the first entry not yet due (entries after it are kept even if older). */
  private async cut(head: { chain_id: string; partner_id: string; tenant_id: string | null; seq: number | string }, cutoff: number, now: number): Promise<void> {
    const previous = await this.deps.checkpoints.newest(head.chain_id, "cut");
    const young = await this.firstYoung(head.chain_id, cutoff, Number(previous?.entries ?? 0) + 1, Number(head.seq));
    const cutSeq = young === null ? Number(head.seq) : young - 1;
    if (cutSeq <= Number(previous?.entries ?? 0)) return;
    const last = await this.deps.db.get<{ hash: string }>("SELECT hash FROM audit_log WHERE chain_id = ? AND seq = ?", [head.chain_id, cutSeq]);
    if (!last) return; // not there to sign: verification reports the gap, pruning does not paper over it
    await this.deps.db.transaction((tx) => this.deps.checkpoints.write(tx, "cut", head, cutSeq, last.hash, now));
  }

  /**
   * The chain's first entry from `from` on that is not yet due, looked for a window of sequence
   * numbers at a time (no index orders a chain by time; appends must stay cheap): one statement
   * over every due entry held a SQLite node 100–130 ms for a chain's first million (round 25).
   */
  private async firstYoung(chainId: string, cutoff: number, from: number, headSeq: number): Promise<number | null> {
    for (let low = from; low <= headSeq; low += CUT_WINDOW) {
      if (low > from) await nextTurn();
      const young = await this.deps.db.get<{ s: number | string | null }>(
        "SELECT MIN(seq) AS s FROM audit_log WHERE chain_id = ? AND seq >= ? AND seq < ? AND timestamp >= ?",
        [chainId, low, low + CUT_WINDOW, cutoff],
      );
      if (young?.s !== null && young?.s !== undefined) return Number(young.s);
    }
    return null;
  }

  /**
   * Deletes in batches; each batch's transaction also drops the summaries' counts of the days it
   * emptied (rollups.ts). Then the checkpoints below the cut go too: they sign entries that are
   * gone, and verification starts at the cut, which stays (with every checkpoint after it).
   */
  private async deleteUpToCut(head: { chain_id: string; partner_id: string; tenant_id: string | null }): Promise<number> {
    const cut = await this.deps.checkpoints.newest(head.chain_id, "cut");
    if (!cut) return 0;
    const cutEntries = Number(cut.entries);
    const deleted = await this.inBatches(async (tx) => {
      const rows = await tx.all<{ id: string; timestamp: number | string; batch_read: number | boolean }>(
        "DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE chain_id = ? AND seq <= ? ORDER BY seq LIMIT ?) RETURNING id, timestamp, (secret_path IS NULL AND action = 'read') AS batch_read",
        [head.chain_id, cutEntries, this.settings.pruneBatch],
      );
      if (rows.length > 0) await this.deps.rollups.forget(tx, head, rows.reduce((newest, row) => Math.max(newest, Number(row.timestamp)), 0));
      // The paths batch reads named go with them (mentions.ts).
      await forgetMentions(tx, this.deps.db.dialect, rows.filter((row) => Boolean(Number(row.batch_read))).map((row) => row.id));
      return rows.length;
    });
    // The oldest batch at a time, along (chain_id, entries); a kind's two checkpoints at one count go together.
    await this.inBatches(async (tx) => (await tx.run(
      `DELETE FROM audit_checkpoints WHERE chain_id = ? AND entries < ? AND entries <= (
         SELECT MAX(entries) FROM (SELECT entries FROM audit_checkpoints WHERE chain_id = ? AND entries < ? ORDER BY entries LIMIT ?) oldest)`,
      [head.chain_id, cutEntries, head.chain_id, cutEntries, this.settings.pruneBatch],
    )).changes);
    return deleted;
  }

  /** Runs `batch` in transactions of its own until one changes fewer rows than a batch holds. */
  private async inBatches(batch: (tx: Queryable) => Promise<number>): Promise<number> {
    let total = 0;
    for (;;) {
      const started = performance.now();
      const changes = await this.deps.db.transaction(batch);
      total += changes;
      if (changes < this.settings.pruneBatch) return total;
      // Requests keep at least half of the node (and of SQLite's writer) while a long trail is pruned.
      await restAfter(started);
    }
  }
}
