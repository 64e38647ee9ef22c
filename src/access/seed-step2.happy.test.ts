import { beforeAll, expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault, type ApiClient } from "../testing/harness.js";
import { useFakeScaiKey } from "./testing/use-fake-scaikey.js";

const SEED_SECRET = {
  data: { client_id: "3MVG9...", client_secret: "REDACTED" },
  secret_type: "json",
  metadata: { description: "Salesforce OAuth for all production integrations", tags: ["salesforce", "oauth", "production"] },
  options: { max_versions: 10 },
};

// The seed's step 2 bodies, verbatim.
const SEED_POLICY = {
  name: "reporting-service-salesforce",
  description: "Reporting service reads Salesforce OAuth",
  rules: [{ path_pattern: "integrations/salesforce/oauth", permissions: ["read"] }],
};
const SEED_BINDING = { identity_type: "service_account", identity_id: "sa:reporting-service" };
const SEED_PATH = "/v1/secrets/integrations/salesforce/oauth";

describeEachBackend("access: seed step 2 (policy bound to sa:reporting-service)", (backend) => {
  const { env, scaikey } = useFakeScaiKey();
  const vault = useVault(backend, { env });

  let policyId = "";

  beforeAll(async () => {
    const { admin } = vault();
    expect((await admin.put(SEED_PATH, SEED_SECRET)).status).toBe(201);
    expect((await admin.put("/v1/secrets/integrations/stripe/key", { data: { key: "sk_live_other" } })).status).toBe(201);
  });

  it("creates the policy (201, pol_ id) and binds it (201, bnd_ id) with the seed's curls", async () => {
    const { admin } = vault();
    const created = await admin.post("/v1/policies", SEED_POLICY);
    expect(created.status).toBe(201);
    expect(created.body.id).toMatch(/^pol_[A-Za-z0-9]{20}$/);
    expect(created.body).toMatchObject({ name: SEED_POLICY.name, description: SEED_POLICY.description, scope: "tenant", is_active: true, bindings: [] });
    expect(created.body.rules).toEqual([{ path_pattern: "integrations/salesforce/oauth", permissions: ["read"], conditions: null, effect: "allow" }]);
    policyId = created.body.id;

    const bound = await admin.post(`/v1/policies/${policyId}/bindings`, SEED_BINDING);
    expect(bound.status).toBe(201);
    expect(bound.body).toMatchObject({ policy_id: policyId, identity_type: "service_account", identity_id: "sa:reporting-service", expires_at: null });
    expect(bound.body.id).toMatch(/^bnd_/);

    const fetched = await admin.get(`/v1/policies/${policyId}`);
    expect(fetched.status).toBe(200);
    expect(fetched.body.bindings.map((b: { identity_id: string }) => b.identity_id)).toEqual(["sa:reporting-service"]);
  });

  async function expectExactlyOneSecret(client: ApiClient, writer: ApiClient) {
    const read = await client.get(SEED_PATH);
    expect(read.status).toBe(200);
    expect(read.body.data).toEqual({ client_id: "3MVG9...", client_secret: "REDACTED" });

    const other = await client.get("/v1/secrets/integrations/stripe/key");
    expect(other.status).toBe(403);
    expect(other.body.error.code).toBe("access_denied");

    const absent = await client.get("/v1/secrets/integrations/salesforce/absent");
    expect(absent.status).toBe(403);
    expect(absent.body.error.code).toBe("access_denied");

    const write = await writer.put(SEED_PATH, { data: { client_id: "x", client_secret: "stolen" } });
    expect(write.status).toBe(403);
    expect(write.body.error.code).toBe("access_denied");

    const listed = await writer.get("/v1/secrets?prefix=integrations/");
    expect(listed.status).toBe(403);
    expect(listed.body.error.code).toBe("insufficient_scope");
  }

  it("a vault token for sa:reporting-service reads exactly that one secret", async () => {
    const { admin, anonymous } = vault();
    const issue = async (scopes: string[]) => {
      const response = await admin.post("/v1/auth/tokens", { identity_id: "sa:reporting-service", identity_type: "service_account", scopes, description: "reporting" });
      expect(response.status).toBe(201);
      expect(response.body.token).toMatch(/^skt_[A-Za-z0-9]{43}$/);
      return anonymous.withToken(response.body.token);
    };
    const reader = await issue(["secrets:read"]);
    const writer = await issue(["secrets:read", "secrets:write"]);
    await expectExactlyOneSecret(reader, writer);

    const lacking = await issue(["secrets:list"]);
    const denied = await lacking.get(SEED_PATH);
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe("insufficient_scope");
    expect(denied.body.error.details.required_scope).toBe("secrets:read");
    // The secret is still intact after the refused write.
    expect((await admin.get(SEED_PATH)).body.data.client_secret).toBe("REDACTED");
  });

  it("a ScaiKey JWT for sa:reporting-service reads exactly that one secret", async () => {
    const { anonymous } = vault();
    const jwt = (scope: string) => scaikey().sign({ sub: "sa:reporting-service", tenant_id: "tnt_default", scope });
    const reader = anonymous.withToken(await jwt("secrets:read"));
    const writer = anonymous.withToken(await jwt("secrets:read secrets:write"));
    await expectExactlyOneSecret(reader, writer);
    const who = await reader.get("/v1/auth/whoami");
    expect(who.status).toBe(200);
    expect(who.body).toMatchObject({ identity_id: "sa:reporting-service", identity_type: "service_account", tenant_id: "tnt_default", partner_id: "ptn_default", scopes: ["secrets:read"] });

    const lacking = anonymous.withToken(await jwt("secrets:list"));
    const denied = await lacking.get(SEED_PATH);
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe("insufficient_scope");
  });

  it("a client-credentials JWT (client_id, no user) is sa:<client_id> and gets the same grant", async () => {
    const { anonymous } = vault();
    const token = await scaikey().sign({ sub: "reporting-service", client_id: "reporting-service", token_type: "client_credentials", tenant_id: "tnt_default", scope: "secrets:read" });
    const read = await anonymous.withToken(token).get(SEED_PATH);
    expect(read.status).toBe(200);
    expect((await anonymous.withToken(token).get("/v1/auth/whoami")).body.identity_id).toBe("sa:reporting-service");
  });

  it("documents the access endpoints in the OpenAPI document", async () => {
    const spec = await vault().anonymous.get("/v1/openapi.json");
    expect(spec.status).toBe(200);
    for (const path of ["/v1/policies", "/v1/policies/{id}", "/v1/policies/{id}/bindings", "/v1/policies/{id}/bindings/{binding_id}", "/v1/policies/test", "/v1/auth/tokens", "/v1/auth/tokens/{id}", "/v1/auth/whoami", "/v1/auth/introspect", "/v1/identity/tenants", "/v1/partner/secrets/{path}"]) {
      expect([path, spec.body.paths[path] !== undefined]).toEqual([path, true]);
    }
  });

  it("removing the binding applies on the next request", async () => {
    const { admin, anonymous } = vault();
    const token = (await admin.post("/v1/auth/tokens", { identity_id: "sa:reporting-service", scopes: ["secrets:read"] })).body.token;
    const client = anonymous.withToken(token);
    expect((await client.get(SEED_PATH)).status).toBe(200);
    const bindings = await admin.get(`/v1/policies/${policyId}/bindings`);
    expect(bindings.status).toBe(200);
    const removed = await admin.delete(`/v1/policies/${policyId}/bindings/${bindings.body.data[0].id}`);
    expect(removed.status).toBe(200);
    const after = await client.get(SEED_PATH);
    expect(after.status).toBe(403);
    expect(after.body.error.code).toBe("access_denied");
  });
});
