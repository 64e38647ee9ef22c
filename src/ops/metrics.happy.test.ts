import { expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault, type ApiResponse } from "../testing/harness.js";

function sample(text: string, series: string): number | null {
  const escaped = series.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const match = new RegExp(`^${escaped} ([0-9.e+-]+)$`, "m").exec(text);
  return match ? Number(match[1]) : null;
}

function expectSecurityHeaders(response: ApiResponse): void {
  expect(response.headers.get("x-content-type-options")).toBe("nosniff");
  expect(response.headers.get("x-frame-options")).toBe("DENY");
  expect(response.headers.get("content-security-policy")).toBe("default-src 'none'; frame-ancestors 'none'");
  expect(response.headers.get("referrer-policy")).toBe("no-referrer");
  expect(response.headers.get("cache-control")).toBe("no-store");
  expect(response.headers.get("strict-transport-security")).toBeNull(); // plain HTTP here; see tls.test.ts
}

describeEachBackend("metrics, detailed health and security headers", (backend) => {
  const vault = useVault(backend);
  const secretValue = `metrics-secret-${backend}-${Math.random().toString(36).slice(2)}`;

  it("counts requests, reads, writes and secrets in Prometheus format, without a token and without secrets", async () => {
    const { admin, anonymous, adminToken } = vault();
    expect((await admin.put("/v1/secrets/metrics/one", { data: { password: secretValue }, secret_type: "kv" })).status).toBe(201);
    expect((await admin.get("/v1/secrets/metrics/one")).status).toBe(200);
    expect((await admin.get("/v1/secrets/metrics/one")).status).toBe(200);
    expect((await admin.get("/v1/secrets/metrics/absent")).status).toBe(404);
    expect((await admin.get("/v1/no/such/route")).status).toBe(404);

    const metrics = await anonymous.get("/v1/metrics");
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = metrics.text;
    expect(sample(text, 'scaivault_requests_total{method="GET",path_category="read",status="200"}')).toBe(2);
    expect(sample(text, 'scaivault_requests_total{method="GET",path_category="read",status="404"}')).toBe(1);
    expect(sample(text, 'scaivault_requests_total{method="PUT",path_category="write",status="201"}')).toBe(1);
    expect(sample(text, 'scaivault_requests_total{method="GET",path_category="unmatched",status="404"}')).toBe(1);
    expect(sample(text, 'scaivault_request_duration_seconds_count{method="GET",path_category="read"}')).toBe(3);
    expect(sample(text, 'scaivault_secret_reads_total{secret_type="kv"}')).toBe(2);
    expect(sample(text, "scaivault_secret_writes_total")).toBe(1);
    expect(sample(text, "scaivault_secrets_total")).toBe(1);
    expect(sample(text, 'scaivault_rate_limit_bucket_fill{category="read"}')).toBeGreaterThan(0.99);
    expect(sample(text, "scaivault_db_latency_seconds_count")).toBeGreaterThan(5);
    expect(sample(text, "scaivault_event_loop_delay_seconds")).not.toBeNull();
    expect(text).toMatch(/^scaivault_process_resident_memory_bytes \d+/m);
    if (backend === "postgres") {
      expect(sample(text, "scaivault_db_pool_size")).toBeGreaterThanOrEqual(1);
      expect(sample(text, "scaivault_db_pool_available")).not.toBeNull();
    }
    expect(text).not.toContain(secretValue);
    expect(text).not.toContain(adminToken);
  });

  it("declares the 429 counter, with no series before any 429", async () => {
    // The harness's limits are effectively unlimited: no rate_limited yet, so no series.
    const text = (await vault().anonymous.get("/v1/metrics")).text;
    expect(text).toContain("# TYPE scaivault_rate_limit_hits_total counter");
    expect(text).not.toMatch(/^scaivault_rate_limit_hits_total\{/m);
  });

  it("serves /v1/health/detailed to admin tokens only", async () => {
    const { admin, anonymous } = vault();
    const detailed = await admin.get("/v1/health/detailed");
    expect(detailed.status).toBe(200);
    expect(detailed.body).toMatchObject({
      status: "healthy",
      version: expect.stringMatching(/^\d+\.\d+\.\d+$/),
      checks: {
        database: { status: "ok", dialect: backend },
        redis: { status: "disabled" },
        encryption: { status: "ok", key_status: "active" },
      },
      process: { shedding: null },
    });
    expect(detailed.body.checks.database.latency_ms).toBeGreaterThanOrEqual(0);
    expect(detailed.body.process.rss_bytes).toBeGreaterThan(1024 * 1024);
    if (backend === "postgres") expect(detailed.body.checks.database.pool_size).toBeGreaterThanOrEqual(1);

    expect((await anonymous.get("/v1/health/detailed")).status).toBe(401);
    const issued = await admin.post("/v1/auth/tokens", { identity_id: "sa:observer", identity_type: "service_account", scopes: ["secrets:read"] });
    expect(issued.status).toBe(201);
    const narrow = await admin.withToken(issued.body.token).get("/v1/health/detailed");
    expect(narrow.status).toBe(403);
    expect(narrow.body.error.code).toBe("insufficient_scope");
  });

  it("sets security headers on every response, errors included", async () => {
    const { admin, anonymous } = vault();
    expectSecurityHeaders(await admin.get("/v1/secrets/metrics/one"));
    expectSecurityHeaders(await admin.get("/v1/secrets/metrics/absent"));
    expectSecurityHeaders(await anonymous.get("/v1/secrets/metrics/one"));
    expectSecurityHeaders(await anonymous.get("/v1/health"));
    expectSecurityHeaders(await anonymous.get("/v1/nowhere"));
    expectSecurityHeaders(await admin.put("/v1/secrets/metrics/one", { data: "not an object" }));
  });

  it("refuses oversized bodies and headers in the contract's shape", async () => {
    const { admin, baseUrl } = vault();
    const huge = await admin.put("/v1/secrets/metrics/huge", undefined, { raw: JSON.stringify({ data: { v: "x".repeat(1_100_000) } }) });
    expect(huge.status).toBe(413);
    expect(huge.body.error.code).toBe("payload_too_large");
    const { rawRequest } = await import("../testing/raw-http.js");
    const tooManyHeaders = await rawRequest(baseUrl, "GET", "/v1/health", { headers: { "x-filler": "y".repeat(20_000) } });
    expect(tooManyHeaders.status).toBe(400);
    expect(tooManyHeaders.body.error.code).toBe("invalid_request");
    expect((await admin.get("/v1/health")).status).toBe(200);
  });
});

describeEachBackend("metrics: 429s counted per category", (backend) => {
  const vault = useVault(backend, { env: { RATE_LIMIT_LIST: "2" } });

  it("raises scaivault_rate_limit_hits_total for the category that refused", async () => {
    const { admin, anonymous } = vault();
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await admin.get("/v1/secrets?prefix=limits/")).status);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(1);
    const refused = statuses.filter((s) => s === 429).length;
    const text = (await anonymous.get("/v1/metrics")).text;
    const line = text.split("\n").find((l) => l.startsWith('scaivault_rate_limit_hits_total{category="list"}'));
    expect(line, text.slice(0, 2000)).toBeDefined();
    expect(Number(line!.split(" ").pop())).toBe(refused);
  });
});
