import { Redis } from "ioredis";
import { beforeAll, describe, expect, it } from "vitest";
import { describeEachBackend, type BackendName } from "../testing/backends.js";
import { startVault, useVault, type ApiResponse } from "../testing/harness.js";

function expectLimitHeaders(response: ApiResponse, limit: number, remaining: number): void {
  expect(response.headers.get("x-ratelimit-limit")).toBe(String(limit));
  expect(response.headers.get("x-ratelimit-remaining")).toBe(String(remaining));
  const reset = Number(response.headers.get("x-ratelimit-reset"));
  expect(Number.isInteger(reset)).toBe(true);
  expect(reset).toBeGreaterThanOrEqual(Math.floor(Date.now() / 1000));
  expect(reset).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000) + 61);
}

function expectRateLimited(response: ApiResponse, category: string): void {
  expect(response.status).toBe(429);
  expect(response.body.error.code).toBe("rate_limited");
  expect(response.body.error.details.category).toBe(category);
  expect(response.body.error.request_id).toBe(response.headers.get("x-request-id"));
  const retryAfter = response.headers.get("retry-after");
  expect(retryAfter).toMatch(/^\d+$/);
  expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
  expect(Number(retryAfter)).toBeLessThanOrEqual(60);
  expect(response.headers.get("x-ratelimit-remaining")).toBe("0");
}

describeEachBackend("rate limits per node", (backend) => {
  const vault = useVault(backend, { env: { RATE_LIMIT_READ: "3", RATE_LIMIT_WRITE: "50", RATE_LIMIT_AUTH_FAILURE: "2" } });

  it("gives each identity a bucket per category, refusing the excess with 429 and Retry-After", async () => {
    const { admin } = vault();
    expect((await admin.put("/v1/secrets/rl/one", { data: { v: "1" } })).status).toBe(201);
    for (const remaining of [2, 1, 0]) {
      const read = await admin.get("/v1/secrets/rl/one");
      expect(read.status).toBe(200);
      expectLimitHeaders(read, 3, remaining);
    }
    const refused = await admin.get("/v1/secrets/rl/one");
    expectRateLimited(refused, "read");
    expectLimitHeaders(refused, 3, 0);

    // Another category of the same identity is untouched.
    const write = await admin.put("/v1/secrets/rl/one", { data: { v: "2" } });
    expect(write.status).toBe(200);
    expect(write.headers.get("x-ratelimit-limit")).toBe("50");

    // Another identity has its own bucket.
    const issued = await admin.post("/v1/auth/tokens", { identity_id: "sa:rate-probe", identity_type: "service_account", scopes: ["secrets:read"] });
    expect(issued.status).toBe(201);
    const other = admin.withToken(issued.body.token);
    const otherRead = await other.get("/v1/secrets/rl/one");
    expect(otherRead.status).toBe(403); // charged, then refused by policy
    expectLimitHeaders(otherRead, 3, 2);
  });

  it("charges failed authentications to the source IP, and refuses them once spent", async () => {
    const { anonymous, admin } = vault();
    const bad = anonymous.withToken("skt_" + "x".repeat(43));
    expect((await bad.get("/v1/secrets/rl/one")).status).toBe(401);
    expect((await anonymous.get("/v1/secrets/rl/one")).status).toBe(401);
    const third = await bad.get("/v1/secrets/rl/one");
    expectRateLimited(third, "auth_failure");
    // A valid credential from the same address is still served: limits are per identity.
    expect((await admin.get("/v1/secrets", {})).status).toBe(200);
  });

  it("never limits the health and metrics endpoints", async () => {
    const { anonymous } = vault();
    for (let i = 0; i < 5; i++) {
      const health = await anonymous.get("/v1/health");
      expect(health.status).toBe(200);
      expect(health.headers.get("x-ratelimit-limit")).toBeNull();
    }
  });
});

describeEachBackend("rate limits with documented defaults", (backend) => {
  // No overrides at all: the documented per-minute defaults (webhook 20) apply.
  const vault = useVault(backend, { env: Object.fromEntries(["WEBHOOK", "READ", "DEFAULT"].map((c) => [`RATE_LIMIT_${c}`, ""])) });

  it("announces the documented per-minute limit of each category", async () => {
    const { admin } = vault();
    const read = await admin.get("/v1/secrets/none/here");
    expect(read.headers.get("x-ratelimit-limit")).toBe("1000");
    const hooks = await admin.get("/v1/webhooks");
    expect(hooks.headers.get("x-ratelimit-limit")).toBe("20");
  });
});

const REDIS_DB: Record<BackendName, number> = { sqlite: 11, postgres: 12 };

describeEachBackend("rate limits shared through Redis", (backend) => {
  const redisUrl = `redis://127.0.0.1:6379/${REDIS_DB[backend]}`;
  beforeAll(async () => {
    const redis = new Redis(redisUrl);
    await redis.flushdb();
    await redis.quit();
  });

  it("draws one bucket from two nodes, and keeps nodes without Redis separate", async () => {
    const env = { REDIS_URL: redisUrl, RATE_LIMIT_LIST: "4" };
    const first = await startVault(backend, { env });
    const second = await startVault(backend, { env });
    const loner = await startVault(backend, { env: { RATE_LIMIT_LIST: "4" } });
    try {
      // Same identity (ptn_default/system:bootstrap) on both nodes: one bucket of 4.
      const seen: string[] = [];
      for (const node of [first, second, first, second]) {
        const response = await node.admin.get("/v1/secrets");
        expect(response.status, response.text).toBe(200);
        seen.push(response.headers.get("x-ratelimit-remaining")!);
      }
      expect(seen).toEqual(["3", "2", "1", "0"]);
      expectRateLimited(await first.admin.get("/v1/secrets"), "list");
      expectRateLimited(await second.admin.get("/v1/secrets"), "list");
      expect((await first.anonymous.get("/v1/health/ready")).body.checks.redis).toBe("ok");

      // A node without REDIS_URL keeps its own buckets.
      const alone = await loner.admin.get("/v1/secrets");
      expect(alone.status).toBe(200);
      expect(alone.headers.get("x-ratelimit-remaining")).toBe("3");
    } finally {
      await first.close();
      await second.close();
      await loner.close();
    }
  });

  it("falls back to per-node buckets when Redis is unreachable, and says so in readiness", async () => {
    const node = await startVault(backend, { env: { REDIS_URL: "redis://127.0.0.1:1/0", RATE_LIMIT_LIST: "2" } });
    try {
      const ready = await node.anonymous.get("/v1/health/ready");
      expect(ready.status).toBe(503);
      expect(ready.headers.get("retry-after")).toBe("1");
      expect(ready.body).toEqual({
        status: "not_ready",
        checks: { database: "ok", redis: "error", encryption: "ok" },
        errors: { redis: "unreachable" },
      });
      expect((await node.admin.get("/v1/secrets")).status).toBe(200);
      expect((await node.admin.get("/v1/secrets")).status).toBe(200);
      expectRateLimited(await node.admin.get("/v1/secrets"), "list");
      expect(node.logs.join("")).toContain("rate limits fall back");
    } finally {
      await node.close();
    }
  });
});

describe("rate-limit categories", () => {
  it("maps routes without a category by URL prefix", async () => {
    const { categoryOf } = await import("./categories.js");
    expect(categoryOf(undefined, "/v1/policies/test")).toBe("policy_test");
    expect(categoryOf(undefined, "/v1/policies/pol_x/bindings")).toBe("policy");
    expect(categoryOf(undefined, "/v1/audit/exports/x")).toBe("audit_export");
    expect(categoryOf(undefined, "/v1/subscriptions/sub_1/poll?timeout=1")).toBe("subscription_poll");
    expect(categoryOf(undefined, "/v1/subscriptions")).toBe("subscription");
    expect(categoryOf(undefined, "/v1/identity/sync")).toBe("identity_sync");
    expect(categoryOf(undefined, "/v1/secrets/a/b/rotate")).toBe("rotation");
    expect(categoryOf(undefined, "/v1/nothing")).toBe("default");
    expect(categoryOf("policies", "/v1/policies")).toBe("policy");
  });
});
