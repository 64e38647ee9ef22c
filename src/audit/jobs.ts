import type { Database } from "../storage/contract.js";

/**
 * Claims this period's run of a background job for this node. Every node ticks; the first whose
 * compare-and-set moves `last_run_at` forward runs, the others see the row already moved (on
 * PostgreSQL the second UPDATE waits for the first and re-checks its WHERE; SQLite has one
 * writer). So a job fires once per interval across any number of nodes.
 */
export async function claimJob(db: Database, name: string, intervalMs: number, now: number): Promise<boolean> {
  await db.run("INSERT INTO audit_jobs (name, last_run_at) VALUES (?, 0) ON CONFLICT (name) DO NOTHING", [name]);
  const claimed = await db.run("UPDATE audit_jobs SET last_run_at = ? WHERE name = ? AND last_run_at <= ?", [now, name, now - intervalMs]);
  return claimed.changes === 1;
}

export type JobLog = (message: string, error: unknown) => void;

/** A loop that runs `work` every `intervalMs` until stopped; stop waits for the run in progress. */
export class PeriodicJob {
  private timer: NodeJS.Timeout | null = null;
  private current: Promise<void> | null = null;
  private stopped = true;

  constructor(private readonly name: string, private readonly intervalMs: number, private readonly work: () => Promise<void>, private readonly log: JobLog) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.current;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.current = this.work()
        .catch((error) => this.log(`audit job ${this.name} failed`, error))
        .finally(() => {
          this.current = null;
          this.schedule();
        });
    }, this.intervalMs);
    this.timer.unref();
  }
}
