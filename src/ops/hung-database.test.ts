import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../events/test-receiver.js";
import { postgresAvailable, scratchDatabase, type ScratchDatabase } from "../testing/backends.js";
import { FreezingProxy } from "../testing/freezing-proxy.js";
import { startVault, type ApiResponse, type TestVault } from "../testing/harness.js";

function within<T>(work: Promise<T>, ms: number): Promise<T | "pending"> {
  return Promise.race([work, new Promise<"pending">((resolve) => setTimeout(() => resolve("pending"), ms).unref())]);
}

function expectUnavailable(response: ApiResponse | "pending"): void {
  expect(response).not.toBe("pending");
  if (response === "pending") return;
  expect(response.status).toBe(503);
  expect(response.body.error.code).toBe("service_unavailable");
  expect(response.headers.get("retry-after")).toMatch(/^[1-9]\d*$/);
}

// Targets: acquire 1 s, statement 1 s. Every bound below is 15 s (≥ 5× the worst case of both).
const BOUND_MS = 15_000;

(postgresAvailable() ? describe : describe.skip)("PostgreSQL that hangs (frozen TCP proxy) [postgres]", () => {
  let proxy: FreezingProxy;
  let database: ScratchDatabase;
  let node: TestVault;

  beforeAll(async () => {
    database = await scratchDatabase("postgres");
    const target = new URL(database.url);
    proxy = await new FreezingProxy(target.hostname, Number(target.port || 5432)).start();
    const proxied = new URL(database.url);
    proxied.port = String(proxy.port);
    node = await startVault("postgres", { env: { DATABASE_URL: proxied.toString(), DATABASE_ACQUIRE_TIMEOUT: "1s", DATABASE_QUERY_TIMEOUT: "1s" } });
  }, 60_000);

  afterAll(async () => {
    proxy?.thaw();
    await node?.close().catch(() => {});
    await proxy?.stop();
    await database?.drop();
  });

  it("answers 503 + Retry-After within seconds while the database hangs, and recovers by itself", async () => {
    const { admin, anonymous } = node;
    expect((await admin.put("/v1/secrets/hang/db", { data: { password: "before" } })).status).toBe(201);

    proxy.freeze();
    // More requests than the pool has connections: the ones that wait for a connection time out too.
    const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => within(i % 2 ? admin.get("/v1/secrets/hang/db") : admin.put(`/v1/secrets/hang/w${i}`, { data: { v: i } }), BOUND_MS)));
    for (const answer of answers) expectUnavailable(answer);
    const ready = await within(anonymous.get("/v1/health/ready"), BOUND_MS);
    expect(ready).not.toBe("pending");
    if (ready !== "pending") expect(ready.status).toBe(503);
    expect((await anonymous.get("/v1/health")).status).toBe(200);

    proxy.thaw();
    await eventually(() => anonymous.get("/v1/health/ready"), (r) => r.status === 200, 30_000);
    const after = await eventually(() => admin.get("/v1/secrets/hang/db"), (r) => r.status === 200, 30_000);
    expect(after.body.data).toEqual({ password: "before" });
    expect((await admin.put("/v1/secrets/hang/db", { data: { password: "after" } })).status).toBe(200);
  }, 120_000);
});
