import { request as httpRequest } from "node:http";
import { Writable } from "node:stream";
import { expect, it } from "vitest";
import { buildVault, type Vault } from "../app.js";
import { describeEachBackend } from "../testing/backends.js";
import { ApiClient, startVault, type TestVault } from "../testing/harness.js";

/** A POST announcing a body far over the limit, with none sent: answered without reading it. */
function oversized(baseUrl: string, headers: Record<string, string> = {}): Promise<{ status: number; retryAfter: string | undefined; body: any }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(new URL("/v1/secrets/flood/x", baseUrl), { method: "PUT", headers: { "content-type": "application/json", "content-length": String(1024 ** 3), ...headers } }, (res) => {
      let text = "";
      res.on("data", (chunk) => (text += chunk));
      res.on("end", () => {
        resolve({ status: res.statusCode ?? 0, retryAfter: res.headers["retry-after"] as string | undefined, body: JSON.parse(text) });
        req.destroy();
      });
    });
    req.on("error", reject);
    req.flushHeaders();
  });
}

async function secondNode(first: TestVault): Promise<{ node: Vault; admin: ApiClient }> {
  const node = await buildVault(first.vault.config, { logStream: new Writable({ write: (_c, _e, done) => done() }) });
  const address = await node.app.listen({ host: "127.0.0.1", port: 0 });
  return { node, admin: new ApiClient(address.replace("localhost", "127.0.0.1"), first.adminToken) };
}

describeEachBackend("unauthenticated floods", (backend) => {
  it("refuses an address past RATE_LIMIT_AUTH_FAILURE before storage work and coalesces the flood into one counted audit entry", async () => {
    const first = await startVault(backend, { env: { RATE_LIMIT_AUTH_FAILURE: "3" } });
    const other = await secondNode(first);
    try {
      const bad = first.anonymous.withToken(`skt_${"x".repeat(43)}`);
      expect((await first.admin.get("/v1/secrets")).status).toBe(200);
      // Under the limit: each failure answered (and audited) as itself. Oversized bodies are not read.
      expect((await oversized(first.baseUrl)).status).toBe(401);
      expect((await bad.get("/v1/secrets/flood/x")).status).toBe(401);
      expect((await oversized(first.baseUrl, { authorization: `Bearer skt_${"y".repeat(43)}` })).status).toBe(401);
      // Past it: 429 + Retry-After for every kind of attempt, none of them audited one by one.
      for (let i = 0; i < 20; i++) {
        const refused = i % 2 === 0 ? await oversized(first.baseUrl) : await bad.get("/v1/secrets/flood/x").then((r) => ({ status: r.status, retryAfter: r.headers.get("retry-after") ?? undefined, body: r.body }));
        expect(refused.status).toBe(429);
        expect(refused.retryAfter).toMatch(/^[1-9]\d*$/);
        expect(refused.body.error).toMatchObject({ code: "rate_limited", details: { category: "auth_failure" } });
      }
      // A credential that authenticated recently from the same address is still served.
      expect((await first.admin.get("/v1/secrets")).status).toBe(200);
      // Shutting the node down writes the minute's flood record before the trail drains.
      await first.vault.close();

      const failures = await other.admin.get("/v1/audit/logs?success=false&limit=100");
      expect(failures.status).toBe(200);
      const unauthenticated = failures.body.logs.filter((e: any) => e.identity_id === null);
      const floods = unauthenticated.filter((e: any) => e.action === "auth_failure_flood");
      expect(floods).toHaveLength(1);
      expect(floods[0]).toMatchObject({ source_ip: "127.0.0.1", success: false });
      expect(floods[0].extra_data).toMatchObject({ count: 20, codes: { authentication_required: 10, rate_limited: 10 } });
      expect(Date.parse(floods[0].extra_data.first_at)).toBeLessThanOrEqual(Date.parse(floods[0].extra_data.last_at));
      // Three individual failures, one flood record: 24 requests, 4 entries.
      expect(unauthenticated).toHaveLength(4);
    } finally {
      await first.vault.close().catch(() => {});
      await other.node.close();
      await first.database.drop();
    }
  });

  it("gives public routes marked publicRate a per-address budget with the same 429 and coalescing", async () => {
    let hits = 0;
    const node = await startVault(backend, {
      env: { RATE_LIMIT_PUBLIC: "2" },
      beforeListen: (vault) => vault.app.get("/v1/test-public", { config: { auth: false, publicRate: true } }, async () => ({ hits: ++hits })),
    });
    try {
      expect((await node.anonymous.get("/v1/test-public")).status).toBe(200);
      const second = await node.anonymous.get("/v1/test-public");
      expect(second.status).toBe(200);
      expect(second.headers.get("x-ratelimit-limit")).toBe("2");
      const third = await node.anonymous.get("/v1/test-public");
      expect(third.status).toBe(429);
      expect(third.headers.get("retry-after")).toMatch(/^[1-9]\d*$/);
      expect(third.body.error).toMatchObject({ code: "rate_limited", details: { category: "public" } });
      expect(hits).toBe(2);
      // Routes without the flag are untouched.
      for (let i = 0; i < 3; i++) expect((await node.anonymous.get("/v1/health")).status).toBe(200);
    } finally {
      await node.close();
    }
  });
});
