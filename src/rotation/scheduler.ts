import type { FastifyBaseLogger } from "fastify";
import type { Database } from "../storage/contract.js";
import { failureReason, type RotationEngine } from "./engine.js";
import type { ExpiryMonitor } from "./expiry.js";
import type { ScheduleStore, SweepKey } from "./schedule-store.js";

export interface SchedulerOptions {
  /** Longest sleep between passes: changes made by other nodes are seen within this. */
  pollMs: number;
  /** How often the next stretch of secrets is checked for a schedule or expiry watch out of step. */
  reconcileMs: number;
}

const BATCH = 100;
/**
 * Secrets one reconciliation pass looks at. Writes and metadata PATCHes keep schedules and watches
 * in their own transaction, so this is a safety net: it sweeps the key order a stretch per pass
 * instead of anti-joining every secret every few seconds (100,000 secrets: ~165 ms of synchronous
 * SQLite work per pass, docs/benchmarks.md round 26).
 */
const SWEEP_STRETCH = 1000;
const MIN_SLEEP_MS = 20;
const PENDING_RETRY_MS = 250;

/**
 * The one background loop of rotation and expiry. Each pass acts on every moment that has come;
 * the state lives in the database, so a restart resumes (catching up missed moments) and several
 * nodes can run it at once: each moment is claimed under the secret's row lock and re-checked.
 */
export class RotationScheduler {
  private running = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private lastReconcile = 0;
  /** Where the reconciliation sweep goes on (null: from the start). */
  private sweepAfter: SweepKey | null = null;

  constructor(
    private readonly deps: { db: Database; schedules: ScheduleStore; engine: RotationEngine; expiry: ExpiryMonitor; log: FastifyBaseLogger },
    private readonly options: SchedulerOptions,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Finishes the pass in progress, then stops; called before the database closes. */
  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    this.loop = null;
  }

  /** Runs one pass now (a local change made something due sooner). */
  poke(): void {
    this.wake?.();
  }

  private async run(): Promise<void> {
    while (this.running) {
      let sleep = this.options.pollMs;
      try {
        await this.pass();
        const next = await this.deps.schedules.nextMoment();
        // A moment still pending after a pass was skipped (locked by another node, or failing):
        // look again soon, but not in a tight loop.
        if (next !== null) sleep = Math.min(sleep, next <= Date.now() ? PENDING_RETRY_MS : Math.max(MIN_SLEEP_MS, next - Date.now()));
      } catch (error) {
        this.deps.log.error({ err: { name: (error as Error).name, code: failureReason(error).code } }, "rotation scheduler pass failed");
      }
      if (!this.running) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, sleep);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
    }
  }

  async pass(): Promise<void> {
    const now = Date.now();
    if (now - this.lastReconcile >= this.options.reconcileMs) {
      this.lastReconcile = now;
      await this.reconcile();
    }
    for (const due of await this.deps.schedules.firing(now, BATCH)) {
      if (!this.running) return;
      await this.guard(() => this.deps.engine.fire(due.tenant_id, due.partner_id, due.path));
    }
    for (const watch of await this.deps.schedules.watchesFiring(now, BATCH)) {
      if (!this.running) return;
      await this.guard(() => this.deps.expiry.fire(watch.tenant_id, watch.path));
    }
  }

  private async reconcile(): Promise<void> {
    const stretch = await this.deps.schedules.sweepStretch(this.sweepAfter, SWEEP_STRETCH);
    const unsynced = await this.deps.schedules.unsynced(stretch, BATCH);
    const unwatched = await this.deps.schedules.unwatched(stretch, BATCH);
    for (const item of unsynced) await this.guard(() => this.deps.engine.resync(item.tenant_id, item.path));
    for (const item of unwatched) await this.guard(() => this.deps.expiry.syncPath(item.tenant_id, item.path));
    // A full batch may leave more in this stretch: the next pass looks at it again.
    if (unsynced.length < BATCH && unwatched.length < BATCH) this.sweepAfter = stretch.to;
  }

  /** One secret's failure must not stop the others; it is logged without any value. */
  private async guard(work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (error) {
      this.deps.log.warn({ err: { name: (error as Error).name, code: failureReason(error).code } }, "rotation scheduler: one item failed");
    }
  }
}
