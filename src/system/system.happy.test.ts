import { expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { startVault, useVault } from "../testing/harness.js";

describeEachBackend("system endpoints", (backend) => {
  const vault = useVault(backend);

  it("answers health and readiness without a token, with a request id", async () => {
    const { anonymous } = vault();
    const health = await anonymous.get("/v1/health");
    expect(health.status).toBe(200);
    expect(health.body.status).toBe("healthy");
    expect(Math.abs(Date.parse(health.body.timestamp) - Date.now())).toBeLessThan(60_000);
    expect(health.headers.get("x-request-id")).toMatch(/^req_/);
    const ready = await anonymous.get("/v1/health/ready");
    expect(ready.status).toBe(200);
    expect(ready.body.status).toBe("ready");
    expect(ready.body.checks).toEqual({ database: "ok", redis: "disabled", encryption: "ok" });
  });

  it("reports the product version only to anonymous callers; the backend in use is in detailed health", async () => {
    const version = await vault().anonymous.get("/v1/version");
    expect(version.status).toBe(200);
    expect(Object.keys(version.body).sort()).toEqual(["api_version", "version"]);
    expect(version.body.api_version).toBe("v1");
    expect(version.body.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(version.text).not.toContain(process.version);
    expect((await vault().admin.get("/v1/health/detailed")).body.checks.database.dialect).toBe(backend);
  });

  it("publishes an OpenAPI document of every secrets endpoint, generated from the route schemas", async () => {
    const spec = (await vault().anonymous.get("/v1/openapi.json")).body;
    expect(spec.openapi).toMatch(/^3\./);
    const operations = Object.entries(spec.paths as Record<string, Record<string, unknown>>).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`),
    );
    for (const operation of [
      "GET /v1/secrets",
      "GET /v1/secrets/expiring",
      "POST /v1/secrets/batch",
      "GET /v1/secrets/{path}",
      "PUT /v1/secrets/{path}",
      "DELETE /v1/secrets/{path}",
      "GET /v1/secrets/{path}/versions",
      "GET /v1/secrets/{path}/metadata",
      "PATCH /v1/secrets/{path}/metadata",
      "POST /v1/secrets/{path}/undelete",
      "POST /v1/secrets/{path}/destroy",
      "GET /v1/health",
      "GET /v1/version",
    ]) {
      expect(operations).toContain(operation);
    }
    const put = spec.paths["/v1/secrets/{path}"].put;
    expect(put.parameters).toEqual(expect.arrayContaining([expect.objectContaining({ name: "path", in: "path", required: true })]));
    const versions = spec.paths["/v1/secrets/{path}/versions"].get;
    expect(versions.parameters.map((p: { name: string }) => p.name)).toContain("path");
    const body = put.requestBody.content["application/json"].schema;
    expect(Object.keys(body.properties).sort()).toEqual(["data", "metadata", "options", "secret_type"]);
    expect(body.additionalProperties).toBe(false);
    expect(Object.keys(body.properties.options.properties)).toEqual(expect.arrayContaining(["max_versions", "expires_in", "rotation_policy_id", "notify_before", "cas"]));
  });

  it("answers readiness 503 not_ready with Retry-After once the database is gone, while liveness stays healthy", async () => {
    const test = await startVault(backend);
    try {
      await test.vault.db.close();
      const ready = await test.anonymous.get("/v1/health/ready");
      expect(ready.status).toBe(503);
      expect(ready.headers.get("retry-after")).toBe("1");
      expect(ready.body.status).toBe("not_ready");
      expect(ready.body.checks.database).toBe("error");
      expect(ready.body.checks.encryption).toBe("ok");
      expect(JSON.stringify(ready.body)).not.toMatch(/postgres:|sqlite:|password/);
      expect((await test.anonymous.get("/v1/health")).status).toBe(200);
    } finally {
      // Closing a vault whose database is already closed may complain; the scratch database goes regardless.
      await test.vault.close().catch(() => {});
      await test.database.drop();
    }
  });
});
