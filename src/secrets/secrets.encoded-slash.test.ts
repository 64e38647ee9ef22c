import { expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { rawRequest } from "../testing/raw-http.js";

// SPEC §3: %2F/%2f in the secret path reads as / (decoded once, before validation and policy), so
// clients generated from the OpenAPI document, which encode the path parameter, work.
describeEachBackend("secrets: %2F in the path is a slash", (backend) => {
  const vault = useVault(backend);
  const raw = (method: string, target: string, body?: unknown) =>
    rawRequest(vault().baseUrl, method, target, { token: vault().adminToken, body: body === undefined ? undefined : JSON.stringify(body) });

  it("writes, reads, lists versions of and deletes a secret addressed with %2F or %2f", async () => {
    const put = await raw("PUT", "/v1/secrets/enc%2Fapp%2Fdb", { data: { password: "p" } });
    expect(put.status).toBe(201);
    expect(put.body.path).toBe("enc/app/db");
    const plain = await vault().admin.get("/v1/secrets/enc/app/db");
    expect([plain.status, plain.body.data]).toEqual([200, { password: "p" }]);
    const lower = await raw("GET", "/v1/secrets/enc%2fapp/db");
    expect(lower.body.data).toEqual({ password: "p" });
    const versions = await raw("GET", "/v1/secrets/enc%2Fapp%2Fdb/versions");
    expect(versions.body.versions.map((v: { version: number }) => v.version)).toEqual([1]);
    const trail = await vault().admin.get("/v1/audit/logs?path_prefix=enc/");
    expect(trail.body.logs.every((entry: { secret_path: string }) => entry.secret_path === "enc/app/db")).toBe(true);
    expect((await raw("DELETE", "/v1/secrets/enc%2Fapp%2Fdb")).status).toBe(200);
    expect((await vault().admin.get("/v1/secrets/enc/app/db")).status).toBe(404);
  });

  it("refuses %252F, other escapes, and %2F that would make an invalid path", async () => {
    for (const target of ["/v1/secrets/enc%252Fdb", "/v1/secrets/enc%2F%2Fdb", "/v1/secrets/enc%2F..%2Fdb", "/v1/secrets/enc%2Fversions", "/v1/secrets/enc%2e%2Fdb", "/v1/secrets/%2Fenc"]) {
      const response = await raw("PUT", target, { data: { v: 1 } });
      expect([target, response.status, response.body.error.code]).toEqual([target, 400, "invalid_path"]);
    }
    expect((await vault().admin.get("/v1/secrets?prefix=enc")).body.data).toEqual([]);
  });
});
