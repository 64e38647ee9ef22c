import { request as httpRequest } from "node:http";
import { Writable } from "node:stream";
import { expect, it, vi } from "vitest";
import { Authenticator } from "../access/authenticator.js";
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
      // Past it: 429 + Retry-After for every kind of attempt, none of them audited one by one, and
      // none of them authenticated (the token lookup is the first storage work of a request).
      const authenticate = vi.spyOn(Authenticator.prototype, "authenticate");
      for (let i = 0; i < 20; i++) {
        const refused = i % 2 === 0 ? await oversized(first.baseUrl) : await bad.get("/v1/secrets/flood/x").then((r) => ({ status: r.status, retryAfter: r.headers.get("retry-after") ?? undefined, body: r.body }));
        expect(refused.status).toBe(429);
        expect(refused.retryAfter).toMatch(/^[1-9]\d*$/);
        expect(refused.body.error).toMatchObject({ code: "rate_limited", details: { category: "auth_failure" } });
      }
      const authenticated = authenticate.mock.calls.length;
      authenticate.mockRestore();
      expect(authenticated).toBe(0);
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
      vi.restoreAllMocks();
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

  it("charges every real public route (CA certificate, CRL, OCSP, ACME challenge, SSH CA key and KRL) to the address, and coalesces their refusals", async () => {
    const first = await startVault(backend, { env: { RATE_LIMIT_PUBLIC: "2" } });
    const other = await secondNode(first);
    try {
      const anon = first.anonymous;
      // The budget (2 a minute per address) is spent on unknown CAs: answered as themselves.
      for (let i = 0; i < 2; i++) expect((await anon.get("/v1/pki/ca/ca_unknown/certificate")).status).toBe(404);
      const routes: [string, () => Promise<{ status: number; headers: Headers; body: any }>][] = [
        ["CA certificate", () => anon.get("/v1/pki/ca/ca_unknown/certificate")],
        ["CRL", () => anon.get("/v1/pki/ca/ca_unknown/crl")],
        ["OCSP (POST)", () => anon.post("/v1/pki/ca/ca_unknown/ocsp", undefined, { raw: Buffer.from([0x30, 0x00]), headers: { "content-type": "application/ocsp-request" } })],
        ["OCSP (GET)", () => anon.get("/v1/pki/ca/ca_unknown/ocsp/MAA=")],
        ["ACME http-01 challenge", () => anon.get("/.well-known/acme-challenge/unknown-token")],
        ["SSH CA key", () => anon.get("/v1/dynamic/engines/dyn_unknown/ssh/ca")],
        ["SSH KRL", () => anon.get("/v1/dynamic/engines/dyn_unknown/ssh/krl")],
      ];
      for (const [label, call] of routes) {
        const refused = await call();
        expect(refused.status, label).toBe(429);
        expect(refused.headers.get("retry-after"), label).toMatch(/^[1-9]\d*$/);
        expect(refused.body.error, label).toMatchObject({ code: "rate_limited", details: { category: "public" } });
      }
      // Routes that are not public reads keep their own limits.
      expect((await anon.get("/v1/health")).status).toBe(200);
      await first.vault.close();

      const entries = await other.admin.get("/v1/audit/logs?action=auth_failure_flood&limit=100");
      expect(entries.status).toBe(200);
      expect(entries.body.logs).toHaveLength(1);
      expect(entries.body.logs[0]).toMatchObject({ source_ip: "127.0.0.1", success: false, identity_id: null });
      expect(entries.body.logs[0].extra_data).toMatchObject({ count: routes.length, codes: { rate_limited: routes.length }, categories: ["public"] });
    } finally {
      await first.vault.close().catch(() => {});
      await other.node.close();
      await first.database.drop();
    }
  });
});
