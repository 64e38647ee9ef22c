import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Counter, Gauge, Histogram, Registry, type RegistryContentType } from "prom-client";
import { PlainHistogram, RequestSeries } from "./request-series.js";

const BOUNDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The same three metrics as prom-client objects: what /v1/metrics showed before RequestSeries. */
function promClientTwin(registry: Registry<RegistryContentType>) {
  const registers = [registry];
  return {
    requests: new Counter({ name: "scaivault_requests_total", help: "HTTP requests answered", labelNames: ["method", "path_category", "status"], registers }),
    duration: new Histogram({ name: "scaivault_request_duration_seconds", help: "Time from request start to response end", labelNames: ["method", "path_category"], buckets: BOUNDS, registers }),
    active: new Gauge({ name: "scaivault_active_requests", help: "Requests in flight", labelNames: ["path_category"], registers }),
  };
}

/** prom-client adds `exemplar: null` to each histogram sample; these metrics have none. */
const withoutExemplars = (json: unknown): unknown => JSON.parse(JSON.stringify(json, (key, value) => (key === "exemplar" ? undefined : value)));

const request = fc.record({
  method: fc.constantFrom("GET", "PUT", "DELETE", "POST"),
  category: fc.constantFrom("read", "write", "system", "unmatched"),
  status: fc.constantFrom(200, 201, 404, 503),
  // bounds themselves, between them and past the last one (only +Inf counts it)
  seconds: fc.oneof(fc.constantFrom(...BOUNDS, 0, 11), fc.double({ min: 0, max: 12, noNaN: true })),
  stillOpen: fc.boolean(),
});

describe("request series", () => {
  it("render exactly as the prom-client metrics they replace, as text and as JSON", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(request, { maxLength: 40 }), async (requests) => {
        for (const contentType of [Registry.PROMETHEUS_CONTENT_TYPE, Registry.OPENMETRICS_CONTENT_TYPE] as const) {
          const ours = new Registry<typeof contentType>();
          const theirs = new Registry<typeof contentType>();
          ours.setContentType(contentType);
          theirs.setContentType(contentType);
          const series = new RequestSeries(ours, BOUNDS);
          const twin = promClientTwin(theirs);
          for (const r of requests) {
            const done = series.started(r.category);
            twin.active.inc({ path_category: r.category });
            if (r.stillOpen) continue;
            series.answered(r.method, r.category, r.status, r.seconds);
            twin.requests.inc({ method: r.method, path_category: r.category, status: String(r.status) });
            twin.duration.observe({ method: r.method, path_category: r.category }, r.seconds);
            done();
            twin.active.dec({ path_category: r.category });
          }
          expect(await ours.metrics()).toBe(await theirs.metrics());
          expect(withoutExemplars(await ours.getMetricsAsJSON())).toEqual(withoutExemplars(await theirs.getMetricsAsJSON()));
        }
      }),
      { numRuns: 60 },
    );
  });

  it("counts a request in flight until its response closes", async () => {
    const registry = new Registry();
    const series = new RequestSeries(registry, BOUNDS);
    const first = series.started("read");
    series.started("read");
    first();
    expect(await registry.metrics()).toContain('scaivault_active_requests{path_category="read"} 1\n');
  });
});

describe("plain histogram", () => {
  it("renders exactly as prom-client's histogram without labels, as text and as JSON", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(fc.constantFrom(...BOUNDS, 0, 11), fc.double({ min: 0, max: 12, noNaN: true })), { maxLength: 40 }), async (values) => {
        for (const contentType of [Registry.PROMETHEUS_CONTENT_TYPE, Registry.OPENMETRICS_CONTENT_TYPE] as const) {
          const ours = new Registry<typeof contentType>();
          const theirs = new Registry<typeof contentType>();
          ours.setContentType(contentType);
          theirs.setContentType(contentType);
          const plain = new PlainHistogram(ours, "scaivault_db_latency_seconds", "Time per database statement or transaction", BOUNDS);
          const twin = new Histogram({ name: "scaivault_db_latency_seconds", help: "Time per database statement or transaction", buckets: BOUNDS, registers: [theirs] });
          for (const value of values) {
            plain.observe(value);
            twin.observe(value);
          }
          expect(await ours.metrics()).toBe(await theirs.metrics());
          expect(withoutExemplars(await ours.getMetricsAsJSON())).toEqual(withoutExemplars(await theirs.getMetricsAsJSON()));
        }
      }),
      { numRuns: 60 },
    );
  });

  it("times from startTimer until the returned function is called", async () => {
    const registry = new Registry();
    const plain = new PlainHistogram(registry, "scaivault_redis_latency_seconds", "Time per Redis rate-limit call", [0.0005, 10]);
    const stop = plain.startTimer();
    await new Promise((resolve) => setTimeout(resolve, 5));
    stop();
    const text = await registry.metrics();
    expect(text).toContain('scaivault_redis_latency_seconds_bucket{le="0.0005"} 0\n');
    expect(text).toContain('scaivault_redis_latency_seconds_bucket{le="10"} 1\n');
    expect(text).toContain("scaivault_redis_latency_seconds_count 1\n");
  });
});
