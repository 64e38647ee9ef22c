import type { Registry, RegistryContentType } from "prom-client";

/**
 * The three metrics every request touches — `scaivault_requests_total`,
 * `scaivault_request_duration_seconds` and `scaivault_active_requests` — kept as plain series, one
 * object per label set found by a short string key. prom-client's `inc(labels)` and
 * `observe(labels, v)` hash and validate the label object on every call; for a `/v1/health` answer
 * that was ~14 % of its instructions (issue 14, docs/benchmarks.md round 9). The series are
 * published through the same registry, in the text prom-client itself writes for such metrics
 * (request-series.test.ts compares the two).
 *
 * Label values come from closed sets (HTTP methods Node's parser accepts, route categories, status
 * codes), so the maps stay small, as prom-client's own would.
 */
export class RequestSeries {
  private readonly answers = new Map<string, { labels: { method: string; path_category: string; status: string }; value: number }>();
  private readonly durations = new Map<string, Timing>();
  private readonly inFlight = new Map<string, { labels: { path_category: string }; value: number }>();

  constructor(registry: Registry<RegistryContentType>, private readonly bounds: readonly number[]) {
    const answers = this.answers, durations = this.durations, inFlight = this.inFlight;
    publish(registry, "scaivault_requests_total", "HTTP requests answered", "counter", () => [...answers.values()].map(({ labels, value }) => ({ labels, value })));
    publish(registry, "scaivault_request_duration_seconds", "Time from request start to response end", "histogram", () => [...durations.values()].flatMap((timing) => timing.exposed("scaivault_request_duration_seconds")));
    publish(registry, "scaivault_active_requests", "Requests in flight", "gauge", () => [...inFlight.values()].map(({ labels, value }) => ({ labels, value })));
  }

  /** Counts a request in flight until `done` is called once. */
  started(category: string): () => void {
    let series = this.inFlight.get(category);
    if (!series) this.inFlight.set(category, (series = { labels: { path_category: category }, value: 0 }));
    series.value += 1;
    const counted = series;
    return () => void (counted.value -= 1);
  }

  answered(method: string, category: string, status: number, seconds: number): void {
    const timingKey = `${method} ${category}`;
    const key = `${timingKey} ${status}`;
    let answer = this.answers.get(key);
    if (!answer) this.answers.set(key, (answer = { labels: { method, path_category: category, status: String(status) }, value: 0 }));
    answer.value += 1;
    let timing = this.durations.get(timingKey);
    if (!timing) this.durations.set(timingKey, (timing = new Timing({ method, path_category: category }, this.bounds)));
    timing.observe(seconds);
  }
}

/**
 * One histogram without labels as a plain series, in prom-client's text. prom-client's
 * `Histogram.observe` hashes and validates a label set on every call, an empty one included; that
 * is too much for `scaivault_db_latency_seconds`, observed once per statement (issue 14, round 11).
 */
export class PlainHistogram {
  private readonly timing: Timing;

  constructor(registry: Registry<RegistryContentType>, name: string, help: string, bounds: readonly number[]) {
    const timing = (this.timing = new Timing({}, bounds));
    publish(registry, name, help, "histogram", () => timing.exposed(name));
  }

  /** Bound, so that it can be handed on as a plain function. */
  readonly observe = (seconds: number): void => this.timing.observe(seconds);

  /** Seconds from now until the returned function is called (prom-client's `startTimer`). */
  startTimer(): () => void {
    const start = performance.now();
    return () => this.timing.observe((performance.now() - start) / 1000);
  }
}

type Labels = Record<string, string | number>;
interface Sample { labels: Labels; value: number; metricName?: string; sharedLabels?: Labels }

/** One label set of a histogram: per-bucket counts (made cumulative when exposed), sum and count. */
class Timing {
  private readonly perBucket: number[];
  private sum = 0;
  private count = 0;

  constructor(private readonly labels: Labels, private readonly bounds: readonly number[]) {
    this.perBucket = new Array<number>(bounds.length).fill(0);
  }

  observe(value: number): void {
    // prom-client's rule: the first bound the value does not exceed; above them all, only +Inf.
    for (let i = 0; i < this.bounds.length; i++) {
      if (value <= this.bounds[i]) {
        this.perBucket[i] += 1;
        break;
      }
    }
    this.sum += value;
    this.count += 1;
  }

  /** prom-client's shape: `le` as the sample's own label, the series' labels shared, then sum and count. */
  exposed(name: string): Sample[] {
    let cumulative = 0;
    const samples: Sample[] = this.bounds.map((le, i) => ({ labels: { le }, sharedLabels: this.labels, value: (cumulative += this.perBucket[i]), metricName: `${name}_bucket` }));
    samples.push({ labels: { le: "+Inf" }, sharedLabels: this.labels, value: this.count, metricName: `${name}_bucket` });
    samples.push({ labels: this.labels, value: this.sum, metricName: `${name}_sum` });
    samples.push({ labels: this.labels, value: this.count, metricName: `${name}_count` });
    return samples;
  }
}

/** Registers a metric whose samples are read when the registry renders (text or JSON). */
function publish(registry: Registry<RegistryContentType>, name: string, help: string, type: "counter" | "gauge" | "histogram", samples: () => Sample[]): void {
  // `metric.name`, not `name`: an OpenMetrics registry renames counters in place (drops `_total`).
  const metric = {
    name,
    help,
    type,
    aggregator: "sum",
    getForPromString: async () => ({ name: metric.name, help, type, aggregator: "sum", values: samples() }),
    // JSON consumers (getMetricsAsJSON) read one flat label set per sample, as prom-client gives them.
    get: async () => ({ name: metric.name, help, type, aggregator: "sum", values: samples().map(({ labels, sharedLabels, ...rest }) => ({ ...rest, labels: { ...labels, ...sharedLabels } })) }),
  };
  registry.registerMetric(metric as never);
}
