import { createServer, type Server } from "node:http";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ERROR_STATUS } from "../../../src/http/errors.js";
import { errorFor, RateLimitError, ScaiVaultClient, ServiceUnavailableError } from "./index.js";

/** A listener answering a scripted list of statuses (429/503 with Retry-After: 1), then 200. */
function scripted() {
  const seen: { method: string; at: number }[] = [];
  const script: number[] = [];
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      seen.push({ method: req.method ?? "", at: Date.now() });
      const status = script.shift() ?? 200;
      const body = status === 200
        ? { path: "a/b", version: 1, data: { k: "v" }, secret_type: "kv", metadata: {} }
        : { error: { code: status === 429 ? "rate_limited" : "service_unavailable", message: "later", details: {}, request_id: "req_x" } };
      res.writeHead(status, { "content-type": "application/json", ...(status === 200 ? {} : { "retry-after": "1" }) });
      res.end(JSON.stringify(body));
    });
  });
  return { server, seen, script };
}

describe("TypeScript SDK: retries and errors (scripted listener)", () => {
  let s: ReturnType<typeof scripted>;
  let client: ScaiVaultClient;
  beforeEach(async () => {
    s = scripted();
    await new Promise<void>((resolve) => s.server.listen(0, "127.0.0.1", resolve));
    const port = (s.server.address() as { port: number }).port;
    client = new ScaiVaultClient({ baseUrl: `http://127.0.0.1:${port}`, token: "t", retries: { maxAttempts: 3 } });
  });
  afterEach(() => new Promise<void>((resolve) => s.server.close(() => resolve())));

  it("waits Retry-After on 429 and 503, then succeeds", async () => {
    s.script.push(429, 503);
    expect((await client.secrets.read("a/b")).data).toEqual({ k: "v" });
    expect(s.seen).toHaveLength(3);
    expect(s.seen[1].at - s.seen[0].at).toBeGreaterThanOrEqual(950);
    expect(s.seen[2].at - s.seen[1].at).toBeGreaterThanOrEqual(950);
  });

  it("gives up after maxAttempts with the typed error and its retryAfter", async () => {
    s.script.push(429, 429, 429, 429);
    const error = await client.secrets.read("a/b").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitError);
    expect(error).toMatchObject({ code: "rate_limited", status: 429, retryAfter: 1, requestId: "req_x" });
    expect(s.seen).toHaveLength(3);
  });

  it("never repeats a non-idempotent write without cas after a 503, but does with cas", async () => {
    s.script.push(503);
    await expect(client.secrets.write("a/b", { k: "v" })).rejects.toBeInstanceOf(ServiceUnavailableError);
    s.script.push(503);
    await expect(client.webhooks.create({ name: "n", url: "http://x.test/h", events: ["secret.updated"], secret: "s" })).rejects.toBeInstanceOf(ServiceUnavailableError);
    expect(s.seen.map((r) => r.method)).toEqual(["PUT", "POST"]);
    s.script.push(503);
    await client.secrets.write("a/b", { k: "v" }, { cas: 1 });
    expect(s.seen.map((r) => r.method)).toEqual(["PUT", "POST", "PUT", "PUT"]);
  });

  it("maps every code of the server's closed list to its class", () => {
    const classOf: Record<number, string> = {
      400: "ValidationError", 401: "AuthenticationError", 403: "PermissionDeniedError", 404: "NotFoundError", 405: "ScaiVaultError",
      409: "ConflictError", 410: "GoneError", 413: "ValidationError", 415: "ValidationError", 422: "ValidationError",
      429: "RateLimitError", 500: "ServerError", 502: "ServerError", 503: "ServiceUnavailableError",
    };
    for (const [code, status] of Object.entries(ERROR_STATUS)) {
      const error = errorFor({ code, status, message: "m", requestId: "req_1" });
      expect([code, error.name]).toEqual([code, classOf[status]]);
      expect(error).toMatchObject({ code, status, requestId: "req_1" });
    }
  });
});
