import { expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
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
    expect(sample(before, 'scaivault_secret_rotations_total{result="success"}') ?? 0).toBe(0);
    expect(sample(before, "scaivault_db_pool_size")).toBeGreaterThanOrEqual(1);
    expect(sample(before, "scaivault_rotation_queue_depth")).toBe(0);

    const policy = await admin.post("/v1/rotation/policies", { name: "metrics-auto", interval: "30d", auto_generate: true });
    expect(policy.status, policy.text).toBe(201);
    const put = await admin.put("/v1/secrets/metrics/rotated", { data: { password: "first" }, options: { rotation_policy_id: policy.body.id } });
    expect(put.status, put.text).toBe(201);
    const rotate = await admin.post("/v1/secrets/metrics/rotated/rotate");
    expect(rotate.status, rotate.text).toBe(202);
    expect(rotate.body.action).toBe("rotated");

    const after = await eventually(() => anonymous.get("/v1/metrics"), (res) => (sample(res.text, 'scaivault_secret_rotations_total{result="success"}') ?? 0) >= 1);
    expect(sample(after.text, 'scaivault_secret_rotations_total{result="success"}')).toBe(1);
    // The bootstrap wrapped the default partner's and tenant's keys under the root key.
    expect(sample(after.text, 'scaivault_kms_latency_seconds_count{operation="wrap"}') ?? 0).toBeGreaterThan(0);
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
});
