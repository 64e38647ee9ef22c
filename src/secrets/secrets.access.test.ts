import { beforeAll, expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { ApiClient, useVault, type ApiResponse } from "../testing/harness.js";

function expectError(response: ApiResponse, status: number, code: string): void {
  expect(response.status, response.text).toBe(status);
  expect(response.body.error.code).toBe(code);
}

/**
 * What the secrets endpoints answer a caller with too few scopes or no policy: the scope check
 * comes before input validation, policy before existence, and names it may not list never appear.
 */
describeEachBackend("secrets: scopes and policies", (backend) => {
  const vault = useVault(backend);
  let reader: ApiClient;
  let writerNoPolicy: ApiClient;

  async function token(identity: string, scopes: string[]): Promise<ApiClient> {
    const issued = await vault().admin.post("/v1/auth/tokens", { identity_id: identity, scopes, expires_in: "1h" });
    expect(issued.status, issued.text).toBe(201);
    return new ApiClient(vault().baseUrl, issued.body.token);
  }

  beforeAll(async () => {
    const { admin } = vault();
    for (const path of ["acc/open/one", "acc/open/two", "acc/open/three", "acc/listonly/x", "acc/closed/secret"]) {
      expect((await admin.put(`/v1/secrets/${path}`, { data: { path }, options: { expires_in: "1d" } })).status).toBe(201);
    }
    const policy = await admin.post("/v1/policies", {
      name: "acc-reader",
      rules: [
        { path_pattern: "acc/open/*", permissions: ["read", "list"] },
        { path_pattern: "acc/listonly/*", permissions: ["list"] },
      ],
    });
    expect(policy.status, policy.text).toBe(201);
    expect((await admin.post(`/v1/policies/${policy.body.id}/bindings`, { identity_type: "service_account", identity_id: "sa:acc-reader" })).status).toBe(201);
    reader = await token("sa:acc-reader", ["secrets:read", "secrets:list"]);
    writerNoPolicy = await token("sa:acc-nobody", ["secrets:read", "secrets:write", "secrets:list", "secrets:delete"]);
  });

  it("reads what a policy grants, and answers the same 403 for a forbidden path whether or not it exists", async () => {
    expect((await reader.get("/v1/secrets/acc/open/one")).body.data).toEqual({ path: "acc/open/one" });
    const existing = await reader.get("/v1/secrets/acc/closed/secret");
    const missing = await reader.get("/v1/secrets/acc/closed/missing");
    expectError(existing, 403, "access_denied");
    expectError(missing, 403, "access_denied");
    expect(existing.body.error.message).toBe(missing.body.error.message);
    expect(existing.body.error.details).toEqual(missing.body.error.details);
    expectError(await reader.get("/v1/secrets/acc/open/missing"), 404, "secret_not_found");
  });

  it("lets list permission read metadata and versions but not the value", async () => {
    expect((await reader.get("/v1/secrets/acc/listonly/x/metadata")).status).toBe(200);
    expect((await reader.get("/v1/secrets/acc/listonly/x/versions")).status).toBe(200);
    expectError(await reader.get("/v1/secrets/acc/listonly/x"), 403, "access_denied");
    expectError(await reader.get("/v1/secrets/acc/closed/secret/metadata"), 403, "access_denied");
  });

  it("answers insufficient_scope before validating input or looking anything up", async () => {
    expectError(await reader.put("/v1/secrets/acc/open/one", { data: { changed: true } }), 403, "insufficient_scope");
    expectError(await reader.put("/v1/secrets/acc/open/one", { data: "wrong type" }), 403, "insufficient_scope");
    expectError(await reader.request("PUT", "/v1/secrets/acc/open/one", { raw: "{broken" }), 403, "insufficient_scope");
    expectError(await reader.delete("/v1/secrets/acc/open/one"), 403, "insufficient_scope");
    expectError(await reader.post("/v1/secrets/acc/open/one/destroy", { versions: [1] }), 403, "insufficient_scope");
    expectError(await reader.patch("/v1/secrets/acc/open/one/metadata", { metadata: { tags: [] } }), 403, "insufficient_scope");
    expectError(await reader.post("/v1/secrets/acc/open/one/undelete"), 403, "insufficient_scope");
    expect((await vault().admin.get("/v1/secrets/acc/open/one")).body.version).toBe(1);
  });

  it("answers access_denied to a scoped token without a policy, changing nothing", async () => {
    expectError(await writerNoPolicy.put("/v1/secrets/acc/open/one", { data: { changed: true } }), 403, "access_denied");
    expectError(await writerNoPolicy.put("/v1/secrets/acc/new/path", { data: { a: 1 } }), 403, "access_denied");
    expectError(await writerNoPolicy.delete("/v1/secrets/acc/open/one"), 403, "access_denied");
    expectError(await writerNoPolicy.get("/v1/secrets/acc/open/one"), 403, "access_denied");
    expect((await writerNoPolicy.get("/v1/secrets?prefix=acc/")).body).toEqual({ data: [], cursor: null, has_more: false });
    expect((await vault().admin.get("/v1/secrets/acc/open/one")).body).toMatchObject({ version: 1, data: { path: "acc/open/one" } });
    expectError(await vault().admin.get("/v1/secrets/acc/new/path"), 404, "secret_not_found");
  });

  it("lists only names the caller may list, paginating over them alone", async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: ApiResponse = await reader.get(`/v1/secrets?prefix=acc/&limit=1${cursor ? `&cursor=${cursor}` : ""}`);
      expect(page.status).toBe(200);
      seen.push(...page.body.data.map((s: { path: string }) => s.path));
      cursor = page.body.cursor;
    } while (cursor);
    expect(seen).toEqual(["acc/listonly/x", "acc/open/one", "acc/open/three", "acc/open/two"]);
    const expiring = await reader.get("/v1/secrets/expiring?within=2d");
    expect(expiring.body.data.map((s: { path: string }) => s.path).sort()).toEqual(["acc/listonly/x", "acc/open/one", "acc/open/three", "acc/open/two"]);
  });

  it("checks policy per path in a batch; fail_fast answers the denial", async () => {
    const batch = await reader.post("/v1/secrets/batch", { paths: ["acc/open/one", "acc/closed/secret", "acc/closed/missing", "acc/listonly/x"] });
    expect(Object.keys(batch.body.secrets)).toEqual(["acc/open/one"]);
    expect(Object.fromEntries(Object.entries(batch.body.errors).map(([p, e]: [string, any]) => [p, e.code]))).toEqual({
      "acc/closed/secret": "access_denied",
      "acc/closed/missing": "access_denied",
      "acc/listonly/x": "access_denied",
    });
    expect(batch.text).not.toContain('"path":"acc/closed/secret"}');
    const failFast = await reader.post("/v1/secrets/batch", { paths: ["acc/closed/secret", "acc/open/one"], options: { fail_fast: true } });
    expectError(failFast, 403, "access_denied");
    expect(failFast.body.error.details.path).toBe("acc/closed/secret");
    expect(failFast.text).not.toContain("acc/open/one");
  });
});
