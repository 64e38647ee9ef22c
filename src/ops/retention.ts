import { randomUUID } from "node:crypto";
import type { Database } from "../storage/contract.js";
import { nextTurn } from "../shared/turn.js";

const BATCH = 500;
const LEASE_MS = 10 * 60_000;
const JOB = "events_retention";

export interface RetentionOptions {
  /** Rows older than this are pruned (SCAIVAULT_EVENTS_RETENTION). */
  retentionMs: number;
  /** How often a node looks whether a pass is due (SCAIVAULT_RETENTION_INTERVAL). */
  intervalMs: number;
  log: (message: string, extra?: Record<string, unknown>) => void;
}

export interface PruneCounts {
  deliveries: number;
  inbox: number;
  events: number;
}

/**
 * Retention of delivery state (SPEC §5): settled deliveries, inbox rows and events older than
 * the window are deleted in small batches, off the request path (the background database, with
 * its long deadline), by one node per pass: a lease row in `maintenance_leases` decides which,
 * and its `last_run_at` keeps a pass from running twice in one interval across nodes. An event
 * goes only once nothing refers to it any more (no pending delivery, no inbox row) and once the
 * fan-out pass has handled it.
 */
export class EventRetention {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> = Promise.resolve();
  private stopped = false;
  private readonly owner = randomUUID();

  constructor(private readonly db: Database, private readonly options: RetentionOptions) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.running = this.runIfDue().catch((error: unknown) => this.options.log("event retention pass failed", { err: { name: (error as Error).name, kind: (error as { kind?: string }).kind } }));
    }, this.options.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  /** Takes the lease when a pass is due on no other node, prunes, and records the pass. */
  async runIfDue(now = Date.now()): Promise<PruneCounts | null> {
    const db = this.db.background?.() ?? this.db;
    await db.run("INSERT INTO maintenance_leases (name, owner, lease_until, last_run_at) VALUES (?, NULL, 0, 0) ON CONFLICT (name) DO NOTHING", [JOB]);
    const taken = await db.run(
      "UPDATE maintenance_leases SET owner = ?, lease_until = ? WHERE name = ? AND lease_until < ? AND last_run_at <= ?",
      [this.owner, now + LEASE_MS, JOB, now, now - this.options.intervalMs],
    );
    if (taken.changes !== 1) return null;
    try {
      const counts = await this.prune(db, now - this.options.retentionMs);
      if (counts.deliveries + counts.inbox + counts.events > 0) this.options.log("event retention pass", { ...counts });
      return counts;
    } finally {
      await db.run("UPDATE maintenance_leases SET owner = NULL, lease_until = 0, last_run_at = ? WHERE name = ? AND owner = ?", [Date.now(), JOB, this.owner]);
    }
  }

  private async prune(db: Database, cutoff: number): Promise<PruneCounts> {
    const counts: PruneCounts = { deliveries: 0, inbox: 0, events: 0 };
    counts.deliveries = await this.inBatches(db,
      `DELETE FROM event_deliveries WHERE id IN (
         SELECT id FROM event_deliveries WHERE status IN ('success', 'failed') AND updated_at < ? LIMIT ${BATCH})`, [cutoff]);
    counts.inbox = await this.inBatches(db,
      `DELETE FROM subscription_inbox WHERE (subscription_id, event_id) IN (
         SELECT subscription_id, event_id FROM subscription_inbox WHERE created_at < ? LIMIT ${BATCH})`, [cutoff]);
    counts.events = await this.inBatches(db,
      `DELETE FROM events WHERE id IN (
         SELECT e.id FROM events e
          WHERE e.created_at < ? AND e.dispatch_seq IS NOT NULL AND e.fanout_pending IS NULL
            AND NOT EXISTS (SELECT 1 FROM event_deliveries d WHERE d.event_id = e.id)
            AND NOT EXISTS (SELECT 1 FROM subscription_inbox i WHERE i.event_id = e.id)
          LIMIT ${BATCH})`, [cutoff]);
    return counts;
  }

  /** One short transaction per batch, yielding between them, so requests interleave. */
  private async inBatches(db: Database, sql: string, params: (string | number)[]): Promise<number> {
    let total = 0;
    for (;;) {
      const { changes } = await db.transaction((tx) => tx.run(sql, params));
      total += changes;
      if (changes < BATCH || this.stopped) return total;
      await nextTurn();
    }
  }
}
