import { expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault, type ApiResponse } from "../testing/harness.js";

function expectError(response: ApiResponse, status: number, code: string): void {
  expect(response.status, response.text).toBe(status);
  expect(response.headers.get("content-type")).toMatch(/^application\/json/);
  expect(Object.keys(response.body)).toEqual(["error"]);
  expect(Object.keys(response.body.error).sort()).toEqual(["code", "details", "message", "request_id"]);
  expect(response.body.error.code).toBe(code);
  expect(response.body.error.request_id).toMatch(/^req_/);
  expect(response.body.error.request_id).toBe(response.headers.get("x-request-id"));
}

/** Every secrets endpoint, with a body where it takes one. */
const ENDPOINTS: Array<[string, string, unknown?]> = [
  ["GET", "/v1/secrets/app/x"],
  ["GET", "/v1/secrets/app/x?version=1"],
  ["PUT", "/v1/secrets/app/x", { data: { a: 1 } }],
  ["DELETE", "/v1/secrets/app/x"],
  ["DELETE", "/v1/secrets/app/x?permanent=true"],
  ["GET", "/v1/secrets/app/x/versions"],
  ["GET", "/v1/secrets/app/x/metadata"],
  ["PATCH", "/v1/secrets/app/x/metadata", { metadata: { tags: [] } }],
  ["POST", "/v1/secrets/app/x/undelete"],
  ["POST", "/v1/secrets/app/x/destroy", { versions: [1] }],
  ["GET", "/v1/secrets?prefix=app/"],
  ["GET", "/v1/secrets/expiring?within=7d"],
  ["POST", "/v1/secrets/batch", { paths: ["app/x"] }],
];

describeEachBackend("secrets: errors", (backend) => {
  const vault = useVault(backend);

  it("answers 401 authentication_required on every endpoint without a usable Authorization header", async () => {
    const { anonymous, adminToken } = vault();
    for (const [method, url, body] of ENDPOINTS) {
      expectError(await anonymous.request(method, url, { body }), 401, "authentication_required");
      expectError(await anonymous.request(method, url, { body, headers: { authorization: `Basic ${adminToken}` } }), 401, "authentication_required");
      expectError(await anonymous.request(method, url, { body, headers: { authorization: "Bearer" } }), 401, "authentication_required");
    }
  });

  it("answers 401 token_invalid for an unknown or malformed bearer token, without echoing it", async () => {
    const { anonymous, adminToken } = vault();
    const forged = `${adminToken.slice(0, -4)}AAAA`;
    for (const token of [forged, "skt_short", "not-a-token", "a.b.c", `${adminToken}x`]) {
      for (const [method, url, body] of ENDPOINTS) {
        const response = await anonymous.request(method, url, { body, token });
        expectError(response, 401, "token_invalid");
        expect(response.text).not.toContain(token);
      }
    }
  });

  it("answers 404 not_found in the contract's shape for unknown routes and methods", async () => {
    const { admin, anonymous } = vault();
    expectError(await admin.get("/v1/nothing-here"), 404, "not_found");
    expectError(await admin.get("/nothing"), 404, "not_found");
    // Authentication comes first, so an anonymous caller cannot map the routes.
    expectError(await anonymous.get("/v1/nothing-here"), 401, "authentication_required");
    expectError(await admin.get("/v2/secrets/app/x"), 404, "not_found");
    expectError(await admin.patch("/v1/secrets/app/x", { data: {} }), 404, "not_found");
    expectError(await admin.post("/v1/secrets/app/x", { data: {} }), 404, "not_found");
    expectError(await admin.get("/v1/secrets/app/x/undelete"), 404, "not_found");
  });

  it("puts X-Request-ID on every response, unique per request, equal to error.request_id", async () => {
    const { admin, anonymous } = vault();
    const responses = [await admin.put("/v1/secrets/app/rid", { data: { a: 1 } }), await admin.get("/v1/secrets/app/rid"), await anonymous.get("/v1/health"), await admin.get("/v1/secrets/app/none")];
    const ids = responses.map((r) => r.headers.get("x-request-id"));
    for (const id of ids) expect(id).toMatch(/^req_[0-9A-Za-z]{20}$/);
    expect(new Set(ids).size).toBe(ids.length);
    expect(responses[3].body.error.request_id).toBe(ids[3]);
  });

  it("answers secret_not_found for every per-secret endpoint on a missing path", async () => {
    const { admin } = vault();
    for (const [method, url, body] of ENDPOINTS.slice(0, 10)) {
      if (method === "PUT") continue;
      expectError(await admin.request(method, url, { body }), 404, "secret_not_found");
    }
  });

  it("answers invalid_path on every per-secret endpoint for a bad path, before looking anything up", async () => {
    const { admin } = vault();
    for (const [method, url, body] of ENDPOINTS.slice(0, 10)) {
      expectError(await admin.request(method, url.replace("app/x", "app//x"), { body }), 400, "invalid_path");
      expectError(await admin.request(method, url.replace("app/x", "App/x"), { body }), 400, "invalid_path");
    }
  });

  it("answers 413 payload_too_large with details for a value over the limit, and for an oversized body", async () => {
    const { admin } = vault();
    const big = await admin.put("/v1/secrets/app/big", { data: { blob: "x".repeat(70 * 1024) } });
    expectError(big, 413, "payload_too_large");
    expect(big.body.error.details.limit_bytes).toBe(65536);
    const exact = await admin.put("/v1/secrets/app/big", { data: { b: "x".repeat(65536 - '{"b":""}'.length) } });
    expect(exact.status).toBe(201);
    expectError(await admin.put("/v1/secrets/app/huge", { data: { blob: "x".repeat(1100 * 1024) } }), 413, "payload_too_large");
    expectError(await admin.post("/v1/secrets/batch", { paths: Array.from({ length: 100 }, () => "p".repeat(600)), pad: "x".repeat(1024 * 1024) }), 413, "payload_too_large");
  });

  it("answers validation_error with details.fields for schema violations on every body and query", async () => {
    const { admin } = vault();
    await admin.put("/v1/secrets/app/v", { data: { a: 1 } });
    const cases: Array<[string, string, unknown, string]> = [
      ["PUT", "/v1/secrets/app/v", { data: 5 }, "data"],
      ["PATCH", "/v1/secrets/app/v/metadata", { metadata: { owner: 5 } }, "metadata.owner"],
      ["POST", "/v1/secrets/app/v/destroy", { versions: "1" }, "versions"],
      ["POST", "/v1/secrets/batch", { paths: ["a"], options: { fail_fast: "yes" } }, "options.fail_fast"],
      ["POST", "/v1/secrets/batch", { paths: ["a"], extra: 1 }, "extra"],
      ["GET", "/v1/secrets?limit=-5", undefined, "limit"],
      ["GET", "/v1/secrets/app/v?version=x", undefined, "version"],
      ["GET", "/v1/secrets/app/v?versoin=1", undefined, "versoin"],
    ];
    for (const [method, url, body, field] of cases) {
      const response = await admin.request(method, url, { body });
      expectError(response, 422, "validation_error");
      expect(Object.keys(response.body.error.details.fields), `${method} ${url}`).toContain(field);
    }
  });

  it("answers invalid_request for a body on an endpoint that takes an object but gets none", async () => {
    const { admin } = vault();
    expectError(await admin.request("PUT", "/v1/secrets/app/v"), 400, "invalid_request");
    expectError(await admin.request("POST", "/v1/secrets/batch", { raw: "" }), 400, "invalid_request");
    expectError(await admin.request("POST", "/v1/secrets/app/v/destroy", { raw: "[1]" }), 400, "invalid_request");
  });

  it("answers 409 secret_exists, version_conflict and 410s with their codes (see lifecycle for the full flows)", async () => {
    const { admin } = vault();
    await admin.put("/v1/secrets/app/c", { data: { a: 1 } });
    expectError(await admin.put("/v1/secrets/app/c", { data: { a: 1 }, options: { cas: 0 } }), 409, "version_conflict");
    await admin.delete("/v1/secrets/app/c");
    expectError(await admin.put("/v1/secrets/app/c", { data: { a: 1 } }), 409, "secret_exists");
  });
});
