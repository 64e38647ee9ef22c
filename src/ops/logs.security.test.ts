import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault, type ApiClient, type ApiResponse } from "../testing/harness.js";
import { eventually } from "../events/test-receiver.js";
import { grantEngineRoot, redisScratch } from "../dynamic/testing.js";

const marker = (label: string) => `${label}-${randomBytes(12).toString("hex")}`;

/** Everything secret that one full tour of the API hands to (or receives from) the vault. */
async function tourOfTheApi(admin: ApiClient, anonymous: ApiClient, hookUrl: string): Promise<string[]> {
  const secrets: string[] = [];
  const value = (label: string) => {
    const v = marker(label);
    secrets.push(v);
    return v;
  };
  // Every step is checked for the exact answer it should get: a scan proves something only about
  // requests that did what the tour says (a write that failed early never handled its secret).
  const step = (response: ApiResponse, status: number) => expect(response.status, response.text).toBe(status);

  // Secrets: every endpoint, successes and failures.
  step(await admin.put("/v1/secrets/logscan/app/db", { data: { password: value("pw"), user: "app" }, secret_type: "json", metadata: { tags: ["scan"] } }), 201);
  step(await admin.put("/v1/secrets/logscan/app/db", { data: { password: value("pw2") } }), 200);
  step(await admin.put("/v1/secrets/logscan/text", { data: { note: value("plain-text-secret") }, secret_type: "kv" }), 201);
  step(await admin.put("/v1/secrets/logscan/not-an-object", { data: value("string-data"), secret_type: "text" }), 422);
  step(await admin.get("/v1/secrets/logscan/app/db"), 200);
  step(await admin.get("/v1/secrets/logscan/app/db?version=1"), 200);
  step(await admin.get("/v1/secrets/logscan/app/db/versions"), 200);
  step(await admin.get("/v1/secrets/logscan/app/db/metadata"), 200);
  step(await admin.patch("/v1/secrets/logscan/app/db/metadata", { metadata: { description: "scanned" } }), 200);
  step(await admin.post("/v1/secrets/batch", { paths: ["logscan/app/db", "logscan/text", "logscan/absent"] }), 200);
  step(await admin.get("/v1/secrets?prefix=logscan/"), 200);
  step(await admin.get("/v1/secrets/expiring?within=30d"), 200);
  // Hostile or broken requests that carry secret material.
  step(await admin.put("/v1/secrets/logscan/bad", undefined, { raw: `{"data": {"password": "${value("broken-json")}"` }), 400);
  step(await admin.put("/v1/secrets/logscan/bad", { data: { password: value("unknown-field") }, max_version: 3 }), 422);
  step(await admin.put("/v1/secrets/logscan/bad", { data: { password: value("bad-type") }, secret_type: 42 }), 422);
  step(await admin.put("/v1/secrets/logscan/bad", { data: { password: value("bad-duration") }, options: { expires_in: "soon" } }), 400);
  step(await admin.put("/v1/secrets/logscan/big", { data: { password: value("too-big"), pad: "x".repeat(70_000) } }), 413);
  step(await admin.put("/v1/secrets/logscan/app/db", { data: { password: value("cas") } }, { headers: { "if-match": "99" } }), 409);
  step(await anonymous.withToken(value("skt_bogus")).get("/v1/secrets/logscan/app/db"), 401);
  step(await anonymous.get("/v1/secrets/logscan/app/db", { headers: { authorization: `Basic ${value("basic")}` } }), 401);
  step(await admin.delete("/v1/secrets/logscan/text"), 200);
  step(await admin.post("/v1/secrets/logscan/text/undelete"), 200);
  step(await admin.post("/v1/secrets/logscan/app/db/destroy", { versions: [1] }), 200);

  // Tokens: the issued token, introspection of it, whoami, revocation.
  const issued = await admin.post("/v1/auth/tokens", { identity_id: "sa:log-scan", identity_type: "service_account", scopes: ["secrets:read"] });
  expect(issued.status).toBe(201);
  secrets.push(issued.body.token);
  step(await admin.withToken(issued.body.token).get("/v1/auth/whoami"), 200);
  step(await admin.withToken(issued.body.token).get("/v1/secrets/logscan/app/db"), 403);
  step(await admin.post("/v1/auth/introspect", { token: issued.body.token }), 200);
  step(await admin.post("/v1/auth/introspect", { token: value("skt_unknown") }), 200);
  step(await admin.delete(`/v1/auth/tokens/${issued.body.id}`), 200);
  step(await admin.withToken(issued.body.token).get("/v1/secrets/logscan/app/db"), 401);

  // Policies.
  const policy = await admin.post("/v1/policies", { name: "log-scan", rules: [{ path_pattern: "logscan/**", permissions: ["read"] }] });
  step(policy, 201);
  step(await admin.post(`/v1/policies/${policy.body.id}/bindings`, { identity_type: "service_account", identity_id: "sa:log-scan" }), 201);
  step(await admin.post("/v1/policies/test", { identity_id: "sa:log-scan", path: "logscan/app/db", permission: "read" }), 200);

  // Webhooks and subscriptions, with signing secrets, and a delivery to a real listener.
  const webhook = await admin.post("/v1/webhooks", { name: "log-scan", url: hookUrl, secret: value("whsec"), events: ["secret.updated", "secret.created"] });
  step(webhook, 201);
  const subscription = await admin.post("/v1/subscriptions", {
    name: "log-scan",
    paths: ["logscan/**"],
    events: ["secret.updated"],
    delivery: { type: "webhook", url: hookUrl, secret: value("whsec_sub") },
  });
  step(subscription, 201);
  step(await admin.post(`/v1/webhooks/${webhook.body.id}/test`), 200);
  step(await admin.put("/v1/secrets/logscan/app/db", { data: { password: value("pw3") } }), 200);

  // Rotation with a generated value: the vault's own new secret must not be logged either.
  expect((await admin.put("/v1/secrets/logscan/rotated", { data: { password: value("pre-rotation") }, secret_type: "kv" })).status).toBe(201);
  const rotation = await admin.post("/v1/rotation/policies", { name: "log-scan", interval: "90d", grace_period: "48h", auto_generate: true });
  step(rotation, 201);
  step(await admin.post(`/v1/rotation/policies/${rotation.body.id}/secrets`, { secret_path: "logscan/rotated" }), 201);
  step(await admin.post("/v1/secrets/logscan/rotated/rotate"), 202);
  const rotated = await admin.get("/v1/secrets/logscan/rotated");
  expect(rotated.body.version).toBe(2); // the vault generated a new value
  const collect = (data: unknown): void => {
    if (typeof data === "string" && data.length >= 8) secrets.push(data);
    else if (data && typeof data === "object") Object.values(data).forEach(collect);
  };
  collect(rotated.body?.data);

  // Audit.
  step(await admin.get("/v1/audit/logs?path_prefix=logscan/"), 200);
  step(await admin.get("/v1/audit/verify"), 200);
  step(await admin.get("/v1/health/detailed"), 200);
  step(await anonymous.get("/v1/metrics"), 200);

  // DNS providers (src/dns): TSIG secrets and other providers' credentials, accepted and refused.
  const tsig = () => {
    const v = randomBytes(24).toString("base64");
    secrets.push(v);
    return v;
  };
  const dnsp = await admin.post("/v1/dns/providers", { name: "logscan-dns", provider_type: "rfc2136", config: { server: "127.0.0.1:1", tsig_key_name: "k" }, credentials: { tsig_secret: tsig() }, managed_zones: ["logscan.test"] });
  step(dnsp, 201);
  step(await admin.patch(`/v1/dns/providers/${dnsp.body.id}`, { credentials: { tsig_secret: tsig() } }), 200);
  step(await admin.post("/v1/dns/providers", { name: "logscan-nokey", provider_type: "rfc2136", config: { server: "127.0.0.1:1" }, credentials: { tsig_secret: tsig() }, managed_zones: ["logscan.test"] }), 422);
  step(await admin.post("/v1/dns/providers", { name: "logscan-cf", provider_type: "cloudflare", credentials: { api_token: value("cf-token") }, managed_zones: ["logscan.test"] }), 422);
  step(await admin.post("/v1/dns/providers", { name: "logscan-r53", provider_type: "route53", credentials: { access_key_id: "AKIALOGSCAN", secret_access_key: value("r53-secret") }, managed_zones: ["logscan.test"] }), 422);
  await dynamicTour(admin, step, value, secrets);
  return secrets;
}

/** Dynamic credentials (src/dynamic): root and lease passwords, on a scratch Redis ACL user. */
async function dynamicTour(admin: ApiClient, step: (response: ApiResponse, status: number) => void, value: (label: string) => string, secrets: string[]): Promise<void> {
  const redis = await redisScratch();
  try {
    await grantEngineRoot(admin, "logscan-cache", "logscan/dyn/root", { username: redis.rootUser, password: redis.rootPassword });
    secrets.push(redis.rootPassword);
    step(await admin.post("/v1/dynamic/engines", { name: "logscan-cache", type: "database.redis", config: { connection_url: redis.connectionUrl, root_credentials_path: "logscan/dyn/root" } }), 201);
    step(await admin.post("/v1/dynamic/engines/logscan-cache/roles", { name: "r", creation_statements: ["~logscan:*", "+get"] }), 201);
    const lease = await admin.post("/v1/dynamic/engines/logscan-cache/creds/r");
    step(lease, 201);
    secrets.push(lease.body.data.password);
    redis.track(lease.body.data.username);
    step(await admin.post(`/v1/dynamic/leases/${lease.body.lease_id}/renew`), 200);
    step(await admin.post(`/v1/dynamic/leases/${lease.body.lease_id}/revoke`), 200);
    step(await admin.post("/v1/dynamic/engines/logscan-cache/rotate-root"), 200);
    secrets.push((await admin.get("/v1/secrets/logscan/dyn/root")).body.data.password);
    step(await admin.post("/v1/dynamic/engines", { name: "logscan-bad", type: "database", config: { plugin: "redis", connection_url: `redis://{{username}}:${value("dyn-url-pw")}@127.0.0.1:1/0`, root_credentials_path: "logscan/dyn/root" } }), 422);
  } finally {
    await redis.drop();
  }
}

describeEachBackend("logs never carry secret material", (backend) => {
  let hook: Server;
  let hookUrl = "";
  const received: string[] = [];
  beforeAll(async () => {
    hook = createServer((req, res) => {
      let body = "";
      req.on("data", (chunk) => (body += chunk));
      req.on("end", () => {
        received.push(body);
        res.writeHead(200).end("ok");
      });
    });
    await new Promise<void>((resolve) => hook.listen(0, "127.0.0.1", resolve));
    hookUrl = `http://127.0.0.1:${(hook.address() as { port: number }).port}/hook`;
  });
  afterAll(() => new Promise<void>((resolve) => hook.close(() => resolve())));

  const vault = useVault(backend, { env: { LOG_LEVEL: "trace" } });

  it("after a full run of the API at trace level, no secret value, token or signing secret is in any log line", async () => {
    const { admin, anonymous, adminToken, logs } = vault();
    const secrets = await tourOfTheApi(admin, anonymous, hookUrl);
    // Scan only once the deliveries (the webhook's test, its secret events, the subscription's
    // update) have reached the listener, so their logging is in the scan.
    await eventually(async () => received.length, (count) => count >= 4);
    secrets.push(adminToken);
    const text = logs.join("");
    expect(logs.length).toBeGreaterThan(50);
    for (const secret of secrets) expect(text.includes(secret), `log contains ${secret.slice(0, 12)}…`).toBe(false);
    // Also the parts a JSON-escaped or truncated rendering would keep.
    for (const secret of secrets) expect(text.includes(secret.slice(-20)), `log contains the tail of ${secret.slice(0, 12)}…`).toBe(false);

    // Structured: every line is JSON, requests carry their request id.
    const records = text.trim().split("\n").map((line) => JSON.parse(line));
    const completed = records.filter((r) => r.msg === "request completed");
    expect(completed.length).toBeGreaterThan(30);
    for (const record of completed) expect(record.reqId).toMatch(/^req_/);
  });
});

describeEachBackend("LOG_FORMAT=pretty", (backend) => {
  const vault = useVault(backend, { env: { LOG_FORMAT: "pretty", LOG_LEVEL: "info" } });

  it("writes one human-readable line per record, still without secrets", async () => {
    const { admin, logs, adminToken } = vault();
    const secret = marker("pretty");
    expect((await admin.put("/v1/secrets/pretty/x", { data: { v: secret } })).status).toBe(201);
    expect((await admin.get("/v1/secrets/pretty/x")).status).toBe(200);
    const lines = logs.join("").trim().split("\n");
    const request = lines.find((line) => line.includes("request completed"));
    expect(request).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO  request completed reqId=req_\w+ /);
    expect(lines.every((line) => !line.startsWith("{"))).toBe(true);
    expect(logs.join("")).not.toContain(secret);
    expect(logs.join("")).not.toContain(adminToken);
  });
});
