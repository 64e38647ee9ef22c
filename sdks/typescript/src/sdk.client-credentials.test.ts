import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, expect, it } from "vitest";
import { FakeScaiKey } from "../../../src/access/testing/fake-scaikey.js";
import { describeEachBackend } from "../../../src/testing/backends.js";
import { useVault } from "../../../src/testing/harness.js";
import { AuthenticationError, ScaiVaultClient } from "./index.js";

/** ScaiKey's client-credentials endpoint (a third party): form in, a signed JWT out. */
function tokenEndpoint(scaikey: FakeScaiKey) {
  const calls: URLSearchParams[] = [];
  const server: Server = createServer((req, res) => {
    let raw = "";
    req.on("data", (c) => (raw += c));
    req.on("end", async () => {
      const form = new URLSearchParams(raw);
      calls.push(form);
      if (form.get("grant_type") !== "client_credentials" || form.get("client_id") !== "reporting-service" || form.get("client_secret") !== "cs_right") {
        res.writeHead(401, { "content-type": "application/json" }).end(JSON.stringify({ error: "invalid_client" }));
        return;
      }
      const token = await scaikey.sign({ sub: "0f1c-uuid", token_type: "client_credentials", client_id: "reporting-service", tenant_id: "tnt_default", scope: form.get("scope") ?? "secrets:read" });
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ access_token: token, token_type: "Bearer", expires_in: 3600 }));
    });
  });
  return {
    calls,
    url: () => `http://127.0.0.1:${(server.address() as { port: number }).port}/oauth/token`,
    start: () => new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve)),
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describeEachBackend("TypeScript SDK: client credentials at ScaiKey", (backend) => {
  const env: Record<string, string> = {};
  let scaikey: FakeScaiKey;
  let endpoint: ReturnType<typeof tokenEndpoint>;
  beforeAll(async () => {
    scaikey = await FakeScaiKey.start();
    Object.assign(env, scaikey.env());
    endpoint = tokenEndpoint(scaikey);
    await endpoint.start();
  });
  afterAll(async () => {
    await endpoint?.stop();
    await scaikey?.close();
  });
  const vault = useVault(backend, { env });

  it("exchanges clientId/clientSecret for a JWT once, reuses it, and reads as sa:<client_id>", async () => {
    const { admin } = vault();
    await admin.put("/v1/secrets/integrations/salesforce/oauth", { data: { client_id: "3MVG9..." } });
    const policy = await admin.post("/v1/policies", { name: "cc", rules: [{ path_pattern: "integrations/**", permissions: ["read"] }] });
    await admin.post(`/v1/policies/${policy.body.id}/bindings`, { identity_type: "service_account", identity_id: "sa:reporting-service" });
    const client = new ScaiVaultClient({ baseUrl: vault().baseUrl, clientId: "reporting-service", clientSecret: "cs_right", tokenUrl: endpoint.url(), scopes: ["secrets:read"] });
    expect(await client.auth.whoami()).toMatchObject({ identity_id: "sa:reporting-service", identity_type: "service_account" });
    expect((await client.secrets.read("integrations/salesforce/oauth")).data.client_id).toBe("3MVG9...");
    expect(endpoint.calls).toHaveLength(1);
    expect(endpoint.calls[0].get("scope")).toBe("secrets:read");
  });

  it("a refused exchange is an AuthenticationError that does not carry the secret", async () => {
    const client = new ScaiVaultClient({ baseUrl: vault().baseUrl, clientId: "reporting-service", clientSecret: "cs_wrong_value", tokenUrl: endpoint.url() });
    const error = await client.secrets.read("integrations/salesforce/oauth").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthenticationError);
    expect(String((error as Error).message)).not.toContain("cs_wrong_value");
  });
});
