import { monitorEventLoopDelay, type IntervalHistogram } from "node:perf_hooks";
import { getHeapStatistics } from "node:v8";

export interface LoadGuardOptions {
  /** Median event-loop delay over a sample window above which requests are shed. */
  maxEventLoopDelayMs: number;
  /** Heap in use above which requests are shed; null = 90% of V8's heap limit. */
  maxHeapBytes: number | null;
  /** Requests in flight beyond which new ones are shed at once. */
  maxConcurrentRequests: number;
  sampleIntervalMs?: number;
}

export type ShedReason = "draining" | "concurrency" | "event_loop_delay" | "memory";

/**
 * Decides whether this node can take one more request. The costly signals (event-loop delay,
 * heap) are sampled on a timer and read as a flag, so the check on each request costs nothing.
 * The delay is the window's median, not its mean or maximum: one long pause (a GC, a start-up
 * migration) must not shed a window of traffic; a loop where most turns wait that long must.
 * Shedding for delay starts after two slow windows in a row and stops after one normal window.
 */
export class LoadGuard {
  draining = false;
  inFlight = 0;
  private pressure: ShedReason | null = null;
  private lastDelayMs = 0;
  private slowWindows = 0;
  private readonly histogram: IntervalHistogram;
  private timer: NodeJS.Timeout | null = null;
  private readonly maxHeapBytes: number;

  constructor(private readonly options: LoadGuardOptions) {
    this.histogram = monitorEventLoopDelay({ resolution: 10 });
    this.maxHeapBytes = options.maxHeapBytes ?? Math.floor(getHeapStatistics().heap_size_limit * 0.9);
  }

  start(): void {
    if (this.timer) return;
    this.histogram.enable();
    this.timer = setInterval(() => this.sample(), this.options.sampleIntervalMs ?? 1000);
    this.timer.unref();
    this.sample();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.histogram.disable();
  }

  private sample(): void {
    // The histogram counts the timer resolution itself as delay: subtract it.
    const median = this.histogram.count > 0 ? this.histogram.percentile(50) / 1e6 - 10 : 0;
    this.lastDelayMs = Math.max(0, median);
    this.histogram.reset();
    const heapUsed = process.memoryUsage().heapUsed;
    this.slowWindows = this.lastDelayMs > this.options.maxEventLoopDelayMs ? this.slowWindows + 1 : 0;
    if (heapUsed > this.maxHeapBytes) this.pressure = "memory";
    else if (this.slowWindows >= 2) this.pressure = "event_loop_delay";
    else this.pressure = null;
  }

  /**
   * Why a new request must be refused now, or null to admit it. Concurrency is not judged here:
   * it is admitted after authentication (Operations.admit), so unauthenticated requests never
   * hold a slot an authenticated one needs.
   */
  refusal(exempt: boolean): ShedReason | null {
    if (this.draining) return "draining";
    if (exempt) return null;
    return this.pressure;
  }

  status(): { event_loop_delay_ms: number; heap_used_bytes: number; heap_limit_bytes: number; in_flight: number; shedding: ShedReason | null } {
    return {
      event_loop_delay_ms: Math.round(this.lastDelayMs * 10) / 10,
      heap_used_bytes: process.memoryUsage().heapUsed,
      heap_limit_bytes: this.maxHeapBytes,
      in_flight: this.inFlight,
      shedding: this.draining ? "draining" : this.pressure,
    };
  }

  get eventLoopDelayMs(): number {
    return this.lastDelayMs;
  }
}
