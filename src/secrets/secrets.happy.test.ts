import { expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";

const SEED_BODY = {
  data: { client_id: "3MVG9...", client_secret: "REDACTED" },
  secret_type: "json",
  metadata: { description: "Salesforce OAuth for all production integrations", tags: ["salesforce", "oauth", "production"] },
  options: { max_versions: 10 },
};

describeEachBackend("secrets: happy paths", (backend) => {
  const vault = useVault(backend);

  it("stores the seed's secret (step 1) and reads it back", async () => {
    const { admin } = vault();
    const put = await admin.put("/v1/secrets/integrations/salesforce/oauth", SEED_BODY);
    expect(put.status).toBe(201);
    expect(put.headers.get("x-request-id")).toMatch(/^req_/);
    expect(put.body).toMatchObject({ path: "integrations/salesforce/oauth", secret_type: "json", version: 1 });
    expect(put.body.data).toBeUndefined();
    expect(put.body.metadata.tags).toEqual(["salesforce", "oauth", "production"]);

    const get = await admin.get("/v1/secrets/integrations/salesforce/oauth");
    expect(get.status).toBe(200);
    expect(get.body.data).toEqual({ client_id: "3MVG9...", client_secret: "REDACTED" });
    expect(get.body.version).toBe(1);
    expect(get.body.last_accessed_at).not.toBeNull();
  });

  it("appends a version on every write, keeping metadata and type when omitted", async () => {
    const { admin } = vault();
    await admin.put("/v1/secrets/app/db", { data: { password: "one" }, secret_type: "kv", metadata: { tags: ["db"] } });
    const second = await admin.put("/v1/secrets/app/db", { data: { password: "two" } });
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({ version: 2, secret_type: "kv", metadata: { tags: ["db"] } });
    expect((await admin.get("/v1/secrets/app/db?version=1")).body.data).toEqual({ password: "one" });
    expect((await admin.get("/v1/secrets/app/db?version=previous")).body.data).toEqual({ password: "one" });
    expect((await admin.get("/v1/secrets/app/db")).body.data).toEqual({ password: "two" });
    const versions = await admin.get("/v1/secrets/app/db/versions");
    expect(versions.status).toBe(200);
    expect(versions.body.versions.map((v: { version: number; state: string }) => [v.version, v.state])).toEqual([
      [2, "current"],
      [1, "previous"],
    ]);
  });

  it("serves health, version and the OpenAPI document without a token", async () => {
    const { anonymous } = vault();
    expect((await anonymous.get("/v1/health")).body.status).toBe("healthy");
    const ready = await anonymous.get("/v1/health/ready");
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ status: "ready", checks: { database: "ok", redis: "disabled", encryption: "ok" }, errors: {} });
    expect((await anonymous.get("/v1/version")).body.version).toMatch(/^\d+\.\d+\.\d+$/);
    const spec = await anonymous.get("/v1/openapi.json");
    expect(spec.status).toBe(200);
    expect(spec.body.paths["/v1/secrets/{path}"]).toBeDefined();
    expect(spec.body.paths["/v1/secrets/{path}/versions"]).toBeDefined();
  });
});

