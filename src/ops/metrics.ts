import { Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";
import type { Database } from "../storage/contract.js";
import { PlainHistogram, RequestSeries } from "./request-series.js";
import { countInStretches } from "../storage/stretch-count.js";

/**
 * Where a domain registers its series: `live` for what this node counts as it goes, `stored` for
 * gauges read from storage when scraped. `/v1/metrics` is public and never limited (SPEC §8), and a
 * storage count grows with the data (1M secrets: 145–280 ms a scrape, the SQLite node frozen), so
 * the stored gauges are read at most once per SCAIVAULT_METRICS_STORAGE_INTERVAL per node, and the
 * count of secrets goes in stretches on SQLite (storage/stretch-count.ts).
 */
export interface MetricRegistries {
  live: Registry;
  stored: Registry;
}

/**
 * The `scaivault_*` series we can measure honestly (the docs' health-and-monitoring list). One
 * registry per vault, so several vaults in one test process never share counters.
 */
export class OpsMetrics {
  readonly registry = new Registry();
  readonly stored = new Registry();
  readonly registries: MetricRegistries = { live: this.registry, stored: this.stored };
  // The stored gauges' last rendering: shared by the scrapes that arrive while it is read, and reused
  // until the interval has passed since it was read.
  private storedText: { text: Promise<string>; readAt: number | null } | null = null;
  /** Requests answered, their durations and those in flight (request-series.ts: the hot path's metrics). */
  readonly requests: RequestSeries;
  readonly rateLimitHits: Counter<"category">;
  /** Lowest bucket fill per category since the last scrape (no identity label: SPEC §8). */
  private readonly lowestFill = new Map<string, number>();
  readonly secretReads: Counter<"secret_type">;
  readonly secretWrites: Counter<string>;
  /** Per statement and per transaction (the storage adapters observe statements: OpenOptions.observeStatement). */
  readonly dbLatency: PlainHistogram;
  readonly redisLatency: PlainHistogram;
  readonly shed: Counter<"reason">;
  readonly eventLoopDelay: Gauge<string>;

  constructor(private readonly storedIntervalMs = 0) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: "scaivault_" });
    this.requests = new RequestSeries(this.registry, [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);
    this.rateLimitHits = new Counter({ name: "scaivault_rate_limit_hits_total", help: "Requests refused with 429 rate_limited", labelNames: ["category"], registers });
    const lowestFill = this.lowestFill;
    new Gauge({
      name: "scaivault_rate_limit_bucket_fill",
      help: "Lowest fill of any caller's bucket, as a fraction of its size, since the last scrape",
      labelNames: ["category"],
      registers,
      collect() {
        this.reset();
        for (const [category, fill] of lowestFill) this.set({ category }, fill);
        lowestFill.clear();
      },
    });
    // Metrics carry no identity or tenant ids as labels (SPEC §8): anyone who can scrape would learn them.
    this.secretReads = new Counter({ name: "scaivault_secret_reads_total", help: "Secret values returned", labelNames: ["secret_type"], registers });
    this.secretWrites = new Counter({ name: "scaivault_secret_writes_total", help: "Secret versions written through PUT", registers });
    this.dbLatency = new PlainHistogram(this.registry, "scaivault_db_latency_seconds", "Time per database statement or transaction", [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]);
    this.redisLatency = new PlainHistogram(this.registry, "scaivault_redis_latency_seconds", "Time per Redis rate-limit call", [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25]);
    this.shed = new Counter({ name: "scaivault_load_shed_total", help: "Requests refused with 503 to protect the node", labelNames: ["reason"], registers });
    this.eventLoopDelay = new Gauge({ name: "scaivault_event_loop_delay_seconds", help: "Median event-loop delay over the last sample window", registers });
  }

  /** The series read from the database when scraped; apart from the constructor because the database is opened with `dbLatency`. */
  watchDatabase(db: Database): void {
    const registers = [this.registry];

    new Gauge({
      name: "scaivault_secrets_total",
      help: "Live (not deleted) secrets",
      registers: [this.stored],
      async collect() {
        this.set(await countInStretches(db, "secrets", "deleted_at IS NULL"));
      },
    });
    const pooled = db as Database & { poolStats?: () => { size: number; available: number } };
    if (typeof pooled.poolStats === "function") {
      const stats = () => pooled.poolStats!();
      new Gauge({ name: "scaivault_db_pool_size", help: "Open database connections", registers, collect() { this.set(stats().size); } });
      new Gauge({ name: "scaivault_db_pool_available", help: "Idle database connections", registers, collect() { this.set(stats().available); } });
    }
  }

  recordBucketFill(category: string, _identity: string, fill: number): void {
    const lowest = this.lowestFill.get(category);
    if (lowest === undefined || fill < lowest) this.lowestFill.set(category, fill);
  }

  async render(): Promise<{ contentType: string; body: string }> {
    const [live, stored] = await Promise.all([this.registry.metrics(), this.storedMetrics()]);
    return { contentType: this.registry.contentType, body: stored ? `${live.trimEnd()}\n\n${stored}` : live };
  }

  private storedMetrics(): Promise<string> {
    const last = this.storedText;
    if (last && (last.readAt === null || Date.now() - last.readAt < this.storedIntervalMs)) return last.text;
    const entry: { text: Promise<string>; readAt: number | null } = { text: this.stored.metrics(), readAt: null };
    this.storedText = entry;
    entry.text.then(
      () => void (entry.readAt = Date.now()),
      // A failed read (storage down) is not kept: the next scrape reads again.
      () => void (this.storedText === entry && (this.storedText = null)),
    );
    return entry.text;
  }
}
