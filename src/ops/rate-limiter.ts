import type { FastifyBaseLogger } from "fastify";
import { MemoryBuckets, type BucketStore, type TakeResult } from "./buckets.js";
import { limitFor } from "./categories.js";
import type { OpsMetrics } from "./metrics.js";

/**
 * Token buckets per (identity, category). With Redis the buckets are shared by every node; when
 * Redis cannot answer, this node falls back to its own buckets (limits stay enforced, per node)
 * rather than refusing traffic or letting it through unlimited. Readiness reports the outage.
 */
export class RateLimiter {
  private readonly local = new MemoryBuckets();
  private degraded = false;

  constructor(
    private readonly shared: BucketStore | null,
    private readonly overrides: Readonly<Record<string, number>>,
    private readonly metrics: OpsMetrics,
    private readonly log: FastifyBaseLogger,
  ) {}

  async take(subject: string, category: string): Promise<TakeResult> {
    const capacity = limitFor(category, this.overrides);
    const key = `${category}:${subject}`;
    const outcome = await this.takeFrom(key, capacity);
    this.metrics.recordBucketFill(category, subject, outcome.remaining / capacity);
    if (!outcome.allowed) this.metrics.rateLimitHits.inc({ category });
    return outcome;
  }

  private async takeFrom(key: string, capacity: number): Promise<TakeResult> {
    if (!this.shared) return this.local.takeSync(key, capacity);
    const stop = this.metrics.redisLatency.startTimer();
    try {
      const outcome = await this.shared.take(key, capacity);
      if (this.degraded) this.log.warn("redis is back: rate limits are shared across nodes again");
      this.degraded = false;
      return outcome;
    } catch (error) {
      if (!this.degraded) this.log.warn({ err: { name: (error as Error).name } }, "redis unavailable: rate limits fall back to this node's buckets");
      this.degraded = true;
      return this.local.takeSync(key, capacity);
    } finally {
      stop();
    }
  }

  async close(): Promise<void> {
    await this.shared?.close();
  }
}
