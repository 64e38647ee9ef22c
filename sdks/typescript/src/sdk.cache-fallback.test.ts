import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, expect, it, describe } from "vitest";
import { startVault } from "../../../src/testing/harness.js";
import { ScaiVaultClient } from "./index.js";

/** A listener whose event stream is down (503) and whose reads count, to see the TTL take over. */
describe("TypeScript SDK: the cache falls back to its TTL while the event stream is down", () => {
  let reads = 0;
  let streamAttempts = 0;
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

  it("serves from memory within the TTL, refetches after it, and close() stops reconnecting", async () => {
    const client = new ScaiVaultClient({ baseUrl, token: "t", cache: { ttl: 1 } });
    try {
      expect((await client.secrets.read("a/b")).data.n).toBe(1);
      expect((await client.secrets.read("a/b")).data.n).toBe(1);
      expect(reads).toBe(1);
      expect(client.cacheStreamConnected).toBe(false);
      await new Promise((r) => setTimeout(r, 1200));
      expect((await client.secrets.read("a/b")).data.n).toBe(2);
      expect(streamAttempts).toBeGreaterThanOrEqual(1);
    } finally {
      client.close();
    }
    const attempts = streamAttempts;
    await new Promise((r) => setTimeout(r, 1500));
    expect(streamAttempts).toBe(attempts);
  });
});
