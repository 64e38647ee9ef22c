import { expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { startVault, useVault } from "../testing/harness.js";
import { eventually } from "../events/test-receiver.js";

/** The value of one series in a Prometheus text exposition, or undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describeEachBackend("documented metric families and health figures", (backend) => {
  const vault = useVault(backend);

  it("exposes rotations, KMS latency, pool figures and the rotation queue, and counts a rotation", async () => {
    const { admin, anonymous } = vault();
    const before = (await anonymous.get("/v1/metrics")).text;
    for (const family of ["scaivault_secret_rotations_total", "scaivault_kms_latency_seconds", "scaivault_db_pool_size", "scaivault_db_pool_available", "scaivault_rotation_queue_depth"]) {
      expect(before, family).toContain(`# TYPE ${family} `);
    }
    // The docs' labels: `scaivault_secret_rotations_total{status}` (success | failed) and
    // `scaivault_kms_latency_seconds{operation}` (encrypt / decrypt / sign).
    expect(before).not.toMatch(/scaivault_secret_rotations_total\{(?!status=)/);
    expect(before).not.toMatch(/scaivault_kms_latency_seconds_count\{operation="(?!encrypt"|decrypt"|sign")/);
    expect(sample(before, 'scaivault_secret_rotations_total{status="success"}') ?? 0).toBe(0);
    expect(sample(before, "scaivault_db_pool_size")).toBeGreaterThanOrEqual(1);
    expect(sample(before, "scaivault_rotation_queue_depth")).toBe(0);

    const policy = await admin.post("/v1/rotation/policies", { name: "metrics-auto", interval: "30d", auto_generate: true });
    expect(policy.status, policy.text).toBe(201);
    const put = await admin.put("/v1/secrets/metrics/rotated", { data: { password: "first" }, options: { rotation_policy_id: policy.body.id } });
    expect(put.status, put.text).toBe(201);
    const rotate = await admin.post("/v1/secrets/metrics/rotated/rotate");
    expect(rotate.status, rotate.text).toBe(202);
    expect(rotate.body.action).toBe("rotated");

    const after = await eventually(() => anonymous.get("/v1/metrics"), (res) => (sample(res.text, 'scaivault_secret_rotations_total{status="success"}') ?? 0) >= 1);
    expect(sample(after.text, 'scaivault_secret_rotations_total{status="success"}')).toBe(1);
    expect(after.text).not.toMatch(/scaivault_secret_rotations_total\{(?!status=)/);
    // A rotation that fails (its value recipe is disabled) is recorded, committed and counted as failed.
    const recipe = await admin.post("/v1/secret-policies", { name: "metrics-recipe", fields: [{ name: "password", generator: "hex", config: { length: 40 } }] });
    expect(recipe.status, recipe.text).toBe(201);
    const failing = await admin.post("/v1/rotation/policies", { name: "metrics-failing", interval: "30d", auto_generate: true, secret_policy_id: recipe.body.id });
    expect(failing.status, failing.text).toBe(201);
    expect((await admin.put("/v1/secrets/metrics/failing", { data: { password: "first" }, options: { rotation_policy_id: failing.body.id } })).status).toBe(201);
    expect((await admin.patch(`/v1/secret-policies/${recipe.body.id}`, { is_active: false })).status).toBe(200);
    const refused = await admin.post("/v1/secrets/metrics/failing/rotate");
    expect(refused.status, refused.text).toBeGreaterThanOrEqual(400);
    const failedAfter = await eventually(() => anonymous.get("/v1/metrics"), (res) => (sample(res.text, 'scaivault_secret_rotations_total{status="failed"}') ?? 0) >= 1);
    expect(sample(failedAfter.text, 'scaivault_secret_rotations_total{status="failed"}')).toBe(1);
    expect(sample(failedAfter.text, 'scaivault_secret_rotations_total{status="success"}')).toBe(1);
    // The bootstrap wrapped the default partner's and tenant's keys under the root key.
    expect(sample(after.text, 'scaivault_kms_latency_seconds_count{operation="encrypt"}') ?? 0).toBeGreaterThan(0);
    expect(after.text).not.toMatch(/scaivault_kms_latency_seconds_count\{operation="(?!encrypt"|decrypt"|sign")/);
  });

  it("answers the documented pool and encryption figures in /v1/health/detailed on every backend", async () => {
    const detailed = await vault().admin.get("/v1/health/detailed");
    expect(detailed.status, detailed.text).toBe(200);
    const { database, encryption } = detailed.body.checks;
    expect(database.pool_size).toBeGreaterThanOrEqual(1);
    expect(database.pool_available).toBeGreaterThanOrEqual(0);
    expect(database.pool_available).toBeLessThanOrEqual(database.pool_size);
    expect(encryption.key_status).toBe("active");
    expect(Date.parse(encryption.last_rotation)).toBeGreaterThan(Date.now() - 3_600_000);
    const ready = await vault().anonymous.get("/v1/health/ready");
    // SPEC §8: a node without REDIS_URL says so rather than claiming an "ok" Redis (docs/conformance.md).
    expect(ready.body.checks).toEqual({ database: "ok", redis: "disabled", encryption: "ok" });
  });

  it("answers Redis latency and memory in /v1/health/detailed, and ok in readiness, on a node with Redis", async () => {
    // The docs' example: "redis": { "status": "ok", "latency_ms": 1, "memory_used_mb": 128 }.
    const node = await startVault(backend, { env: { REDIS_URL: "redis://127.0.0.1:6379/13" } });
    try {
      const detailed = await node.admin.get("/v1/health/detailed");
      expect(detailed.status, detailed.text).toBe(200);
      const redis = detailed.body.checks.redis;
      expect(redis.status).toBe("ok");
      expect(typeof redis.latency_ms).toBe("number");
      expect(redis.latency_ms).toBeGreaterThanOrEqual(0);
      expect(Number.isInteger(redis.memory_used_mb)).toBe(true);
      expect(redis.memory_used_mb).toBeGreaterThanOrEqual(0);
      const ready = await node.anonymous.get("/v1/health/ready");
      // SPEC §8 keeps `errors` (empty here) beside the docs' `status` and `checks`.
      expect(ready.body).toEqual({ status: "ready", checks: { database: "ok", redis: "ok", encryption: "ok" }, errors: {} });
    } finally {
      await node.close();
    }
    // Unreachable Redis: the check says error, without figures it could not measure.
    const down = await startVault(backend, { env: { REDIS_URL: "redis://127.0.0.1:1/0" } });
    try {
      const detailed = await down.admin.get("/v1/health/detailed");
      expect(detailed.body.checks.redis.status).toBe("error");
      expect(detailed.body.checks.redis.memory_used_mb).toBeUndefined();
      expect(detailed.body.status).toBe("degraded");
    } finally {
      await down.close();
    }
  });
});
