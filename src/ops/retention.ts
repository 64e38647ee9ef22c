import { randomUUID } from "node:crypto";
import type { Database } from "../storage/contract.js";
import { restAfter } from "../shared/turn.js";

/** Rows one prune statement deletes at most: one short transaction, then a rest as long as it took. */
const PRUNE_BATCH = 500;
const LEASE_MS = 10 * 60_000;

/**
 * One kind of row a retention pass deletes: a `DELETE` of at most {@link PRUNE_BATCH} rows older
 * than the cutoff, repeated until it deletes fewer. Each statement must find its rows along an
 * index, so a pass over a table holding nothing to prune costs one index probe.
 */
export interface PruneStep<Name extends string = string> {
  /** The count's name in the pass's result and its log line. */
  name: Name;
  sql: string;
  /** A statement run once, with the same parameters, before the step's first batch. */
  before?: string;
  /** The statement's parameters for this pass's cutoff (the moment rows must have ended before) and clock. */
  params: (cutoff: number, now: number) => (string | number)[];
}

/** The prune statement of a table keyed by `id`: at most one batch of the rows `where` selects. */
export function pruneById(table: string, where: string): string {
  return pruneByKey(table, "id", where);
}

/** The same for a table whose single-column key has another name. */
export function pruneByKey(table: string, key: string, where: string): string {
  return `DELETE FROM ${table} WHERE ${key} IN (SELECT ${key} FROM ${table} WHERE ${where} LIMIT ${PRUNE_BATCH})`;
}

export interface RetentionJobOptions<Name extends string> {
  /** The pass's row in `maintenance_leases`: one node per pass across the cluster. */
  job: string;
  steps: readonly PruneStep<Name>[];
  /** Rows that ended longer ago than this are pruned. */
  windowMs: number;
  /** How often a node looks whether a pass is due (SCAIVAULT_RETENTION_INTERVAL). */
  intervalMs: number;
  log: (message: string, extra?: Record<string, unknown>) => void;
}

/**
 * A retention pass (SPEC §5): rows past the window are deleted in small batches, off the request
 * path (the background database, with its long deadline), by one node per pass: a lease row in
 * `maintenance_leases` decides which, and its `last_run_at` keeps a pass from running twice in one
 * interval across nodes. Steps run in order, so a step may rely on the ones before it.
 */
export class RetentionJob<Name extends string = string> {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> = Promise.resolve();
  private stopped = false;
  private readonly owner = randomUUID();

  constructor(private readonly db: Database, private readonly options: RetentionJobOptions<Name>) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.running = this.runIfDue().catch((error: unknown) => this.options.log(`${this.options.job} pass failed`, { err: { name: (error as Error).name, kind: (error as { kind?: string }).kind } }));
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
  async runIfDue(now = Date.now()): Promise<Record<Name, number> | null> {
    const { job, intervalMs } = this.options;
    const db = this.db.background?.() ?? this.db;
    await db.run("INSERT INTO maintenance_leases (name, owner, lease_until, last_run_at) VALUES (?, NULL, 0, 0) ON CONFLICT (name) DO NOTHING", [job]);
    const taken = await db.run(
      "UPDATE maintenance_leases SET owner = ?, lease_until = ? WHERE name = ? AND lease_until < ? AND last_run_at <= ?",
      [this.owner, now + LEASE_MS, job, now, now - intervalMs],
    );
    if (taken.changes !== 1) return null;
    try {
      const cutoff = now - this.options.windowMs;
      const counts = {} as Record<Name, number>;
      for (const step of this.options.steps) {
        if (step.before) await db.run(step.before, step.params(cutoff, now));
        counts[step.name] = await this.inBatches(db, step.sql, step.params(cutoff, now));
      }
      if (Object.values<number>(counts).some((n) => n > 0)) this.options.log(`${job} pass`, { ...counts });
      return counts;
    } finally {
      await db.run("UPDATE maintenance_leases SET owner = NULL, lease_until = 0, last_run_at = ? WHERE name = ? AND owner = ?", [Date.now(), job, this.owner]);
    }
  }

  /** One short transaction per batch, resting as long as it took between them, so requests keep most of the node. */
  private async inBatches(db: Database, sql: string, params: (string | number)[]): Promise<number> {
    let total = 0;
    for (;;) {
      const started = performance.now();
      const { changes } = await db.transaction((tx) => tx.run(sql, params));
      total += changes;
      if (changes < PRUNE_BATCH || this.stopped) return total;
      await restAfter(started);
    }
  }
}

/**
 * Delivery state (SPEC §5, SCAIVAULT_EVENTS_RETENTION): settled deliveries, inbox rows, then events
 * nothing refers to any more (no pending delivery, no inbox row) and that the fan-out pass handled.
 */
const DELIVERY_STATE: readonly PruneStep<"deliveries" | "inbox" | "events">[] = [
  {
    name: "deliveries",
    sql: pruneById("event_deliveries", "status IN ('success', 'failed') AND updated_at < ?"),
    params: (cutoff) => [cutoff],
  },
  {
    name: "inbox",
    sql: `DELETE FROM subscription_inbox WHERE (subscription_id, event_id) IN (
            SELECT subscription_id, event_id FROM subscription_inbox WHERE created_at < ? LIMIT ${PRUNE_BATCH})`,
    params: (cutoff) => [cutoff],
  },
  {
    name: "events",
    sql: `DELETE FROM events WHERE id IN (
            SELECT e.id FROM events e
             WHERE e.created_at < ? AND e.dispatch_seq IS NOT NULL AND e.fanout_pending IS NULL
               AND NOT EXISTS (SELECT 1 FROM event_deliveries d WHERE d.event_id = e.id)
               AND NOT EXISTS (SELECT 1 FROM subscription_inbox i WHERE i.event_id = e.id)
             LIMIT ${PRUNE_BATCH})`,
    params: (cutoff) => [cutoff],
  },
];

export interface EventRetentionOptions {
  /** Rows older than this are pruned (SCAIVAULT_EVENTS_RETENTION). */
  retentionMs: number;
  intervalMs: number;
  log: (message: string, extra?: Record<string, unknown>) => void;
}

/** Retention of delivery state, one pass per interval across nodes. */
export class EventRetention extends RetentionJob<"deliveries" | "inbox" | "events"> {
  constructor(db: Database, options: EventRetentionOptions) {
    super(db, { job: "events_retention", steps: DELIVERY_STATE, windowMs: options.retentionMs, intervalMs: options.intervalMs, log: options.log });
  }
}
