import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { eventually } from "../events/test-receiver.js";
import { postgresAvailable, scratchDatabase, type ScratchDatabase } from "../testing/backends.js";
import { FreezingProxy } from "../testing/freezing-proxy.js";
import { startVault, type ApiResponse, type TestVault } from "../testing/harness.js";
import { inFlight, until } from "../testing/observe.js";
import { openStream } from "../testing/sse.js";
import type { SqlParam } from "../storage/contract.js";

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
    // A stream and a long poll open before the hang wait through it on their own paths.
    const sub = await admin.post("/v1/subscriptions", { name: "through the hang", paths: ["hang/after/**"], events: ["secret.created"], delivery: { type: "polling" } });
    expect(sub.status).toBe(201);
    const stream = await openStream(node.baseUrl, { token: node.adminToken });
    expect(stream.response.status).toBe(200);
    // Waiting in its loop, not merely in flight: a poll still authenticating or reading its
    // subscription when the database froze fails there, as any request does (under the README run's
    // load the freeze came first in three runs of five; reproduced by freezing right after sending it).
    let inboxReadSeen = (): void => {};
    const inboxRead = new Promise<void>((resolve) => (inboxReadSeen = resolve));
    const all = node.vault.db.all.bind(node.vault.db);
    const reads = vi.spyOn(node.vault.db, "all").mockImplementation(((sql: string, params?: readonly SqlParam[]) => {
      if (sql.includes("FROM subscription_inbox") && params?.[0] === sub.body.id) inboxReadSeen();
      return all(sql, params);
    }) as typeof node.vault.db.all);
    const poll = admin.get(`/v1/subscriptions/${sub.body.id}/poll?timeout=60`);
    await inFlight(node.baseUrl, "subscription_poll");
    expect(await within(inboxRead.then(() => "read"), BOUND_MS)).toBe("read");
    reads.mockRestore();

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

    // Both lived through the hang and deliver what was written after it.
    expect(stream.ended).toBe(false);
    expect((await admin.put("/v1/secrets/hang/after/x", { data: { v: 1 } })).status).toBe(201);
    await until("the stream delivers the event written after the hang", () => stream.text.includes("event: secret.created") && stream.text.includes("hang/after/x"), BOUND_MS);
    expect(stream.ended).toBe(false);
    void stream.close();
    const polled = await within(poll, BOUND_MS);
    expect(polled).not.toBe("pending");
    if (polled === "pending") return;
    // The node's warnings and errors go with the assertion, to say why if it fails again.
    const warnings = () => `${JSON.stringify(polled.body)}\n${node.logs.filter((line) => /"level":(40|50)/.test(line)).slice(-20).join("")}`;
    expect(polled.status, warnings()).toBe(200);
    expect(polled.body.events.map((e: { path: string }) => e.path)).toEqual(["hang/after/x"]);
  }, 120_000);
});
