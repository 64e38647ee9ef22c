import { createServer, type Server } from "node:http";
import { afterAll, afterEach, beforeAll, expect, it, describe, vi } from "vitest";
import { startVault } from "../../../src/testing/harness.js";
import { ScaiVaultClient } from "./index.js";

/** A listener whose event stream is down (503) and whose reads count, to see the TTL take over. */
describe("TypeScript SDK: the cache falls back to its TTL while the event stream is down", () => {
  let reads = 0;
  let streamAttempts = 0;
  /** Stream attempts per bearer token, to tell a closed client's from an open one's. */
  const attemptsBy = new Map<string, number>();
  let server: Server;
  let baseUrl = "";
  /** A secret as the real server answers it (recorded, so the fake's body cannot drift from the contract). */
  let recorded: Record<string, unknown> = {};
  beforeAll(async () => {
    const real = await startVault("sqlite");
    try {
      expect((await real.admin.put("/v1/secrets/a/b", { data: { n: 0 }, metadata: { tags: ["recorded"] } })).status).toBe(201);
      const read = await real.admin.get("/v1/secrets/a/b");
      expect(read.status).toBe(200);
      recorded = read.body;
    } finally {
      await real.close();
    }
    server = createServer((req, res) => {
      if (req.url?.startsWith("/v1/events/stream")) {
        streamAttempts++;
        const bearer = String(req.headers.authorization ?? "");
        attemptsBy.set(bearer, (attemptsBy.get(bearer) ?? 0) + 1);
        res.writeHead(503, { "content-type": "application/json", "retry-after": "1" }).end(JSON.stringify({ error: { code: "service_unavailable", message: "down", details: {}, request_id: "req_s" } }));
        return;
      }
      reads++;
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ ...recorded, version: reads, data: { n: reads } }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  afterEach(() => {
    vi.useRealTimers();
  });

  it("serves from memory within the TTL, refetches after it, and close() stops reconnecting", async () => {
    // A controllable clock: only Date is faked (timers and I/O stay real), so "within the TTL" and
    // "after it" are moments the test sets, not reads that must land inside a 1 s window.
    vi.useFakeTimers({ toFake: ["Date"] });
    const client = new ScaiVaultClient({ baseUrl, token: "t", cache: { ttl: 1 } });
    const open = new ScaiVaultClient({ baseUrl, token: "still-open", cache: { ttl: 1 } });
    try {
      expect((await client.secrets.read("a/b")).data.n).toBe(1);
      vi.setSystemTime(Date.now() + 900);
      expect((await client.secrets.read("a/b")).data.n).toBe(1);
      expect(reads).toBe(1);
      expect(client.cacheStreamConnected).toBe(false);
      vi.setSystemTime(Date.now() + 200);
      expect((await client.secrets.read("a/b")).data.n).toBe(2);
      expect(streamAttempts).toBeGreaterThanOrEqual(1);
      await open.secrets.read("a/b");
    } finally {
      client.close();
    }
    try {
      vi.useRealTimers();
      // close() stops reconnecting: the client left open keeps retrying its stream (Retry-After 1 s);
      // by the time it has retried twice more, the closed one would have retried too.
      const closedAttempts = attemptsBy.get("Bearer t") ?? 0;
      const openAttempts = attemptsBy.get("Bearer still-open") ?? 0;
      for (let i = 0; i < 600 && (attemptsBy.get("Bearer still-open") ?? 0) < openAttempts + 2; i++) await new Promise((r) => setTimeout(r, 50));
      expect(attemptsBy.get("Bearer still-open") ?? 0).toBeGreaterThanOrEqual(openAttempts + 2);
      expect(attemptsBy.get("Bearer t") ?? 0).toBe(closedAttempts);
    } finally {
      open.close();
    }
  }, 60_000);
});
