import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeEachBackend } from "../../../src/testing/backends.js";
import { useVault } from "../../../src/testing/harness.js";
import { ConflictError, PermissionDeniedError, ScaiVaultClient, verifyWebhookSignature } from "./index.js";

/** A local receiver recording each delivery's headers and raw body. */
function receiver() {
  const got: { headers: IncomingHttpHeaders; raw: string }[] = [];
  const server: Server = createServer((req, res) => {
    let raw = "";
    req.setEncoding("utf8");
    req.on("data", (c) => (raw += c));
    req.on("end", () => {
      got.push({ headers: req.headers, raw });
      res.writeHead(200).end();
    });
  });
  return {
    got,
    start: () => new Promise<string>((resolve) => server.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${(server.address() as { port: number }).port}/hook`))),
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
    async waitFor(path: string) {
      for (let i = 0; i < 200; i++) {
        const hit = got.find((d) => JSON.parse(d.raw).path === path);
        if (hit) return hit;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`no delivery for ${path} within 20 s`);
    },
  };
}

describeEachBackend("TypeScript SDK: management resources against the real server", (backend) => {
  const vault = useVault(backend);
  const client = () => new ScaiVaultClient({ baseUrl: vault().baseUrl, token: vault().adminToken });
  const hooks = receiver();
  let url = "";
  beforeAll(async () => {
    url = await hooks.start();
  });
  afterAll(() => hooks.stop());

  it("policies, bindings, tokens and whoami: the seed's step 2 and a narrow service token", async () => {
    const c = client();
    await c.secrets.write("integrations/salesforce/oauth", { client_id: "3MVG9...", client_secret: "REDACTED" }, { secretType: "json" });
    const policy = await c.policies.create({ name: "reporting-service-salesforce", rules: [{ path_pattern: "integrations/salesforce/oauth", permissions: ["read"] }] });
    expect(policy.id).toMatch(/^pol_/);
    await expect(c.policies.create({ name: "reporting-service-salesforce", rules: [] })).rejects.toBeInstanceOf(ConflictError);
    const binding = await c.policies.bind(policy.id, { identity_type: "service_account", identity_id: "sa:reporting-service" });
    expect(binding.id).toMatch(/^bnd_/);
    expect((await c.policies.list()).data.map((p) => p.id)).toContain(policy.id);
    const decision = await c.policies.test({ identity_id: "sa:reporting-service", path: "integrations/salesforce/oauth", permission: "read" });
    expect(decision.allowed).toBe(true);

    const issued = await c.tokens.create({ identity_id: "sa:reporting-service", identity_type: "service_account", scopes: ["secrets:read"] });
    expect(issued.token).toMatch(/^skt_/);
    const service = new ScaiVaultClient({ baseUrl: vault().baseUrl, token: issued.token });
    expect((await service.secrets.read("integrations/salesforce/oauth")).data.client_id).toBe("3MVG9...");
    expect(await service.auth.whoami()).toMatchObject({ identity_id: "sa:reporting-service", identity_type: "service_account" });
    await c.secrets.write("other/secret", { v: 1 });
    await expect(service.secrets.read("other/secret")).rejects.toMatchObject({ code: "access_denied", status: 403 });
    await expect(service.secrets.write("integrations/salesforce/oauth", { v: 1 })).rejects.toBeInstanceOf(PermissionDeniedError);
    expect((await c.tokens.list()).data.map((t) => t.id)).toContain(issued.id);
    await c.tokens.revoke(issued.id);
    await expect(service.secrets.read("integrations/salesforce/oauth")).rejects.toMatchObject({ code: "token_revoked", status: 401 });
    await expect(c.policies.delete(policy.id)).rejects.toMatchObject({ code: "policy_in_use" });
    await c.policies.delete(policy.id, { force: true });
  });

  it("rotation: the seed's step 7 policy, assignment and rotate-now", async () => {
    const c = client();
    await c.secrets.write("rot/sf", { client_id: "a", client_secret: "b" });
    const quarterly = await c.rotation.createPolicy({ name: "quarterly", interval: "90d", grace_period: "48h", auto_generate: false });
    expect(quarterly.id).toMatch(/^rot_/);
    await c.rotation.assign(quarterly.id, "rot/sf");
    const now = await c.secrets.rotate("rot/sf");
    expect(now).toMatchObject({ path: "rot/sf", rotation_policy_id: quarterly.id, action: "due" });
    expect((await c.rotation.listPolicies()).data.map((p) => p.id)).toContain(quarterly.id);
    await expect(c.secrets.rotate("integrations/none")).rejects.toMatchObject({ status: 404 });
  });

  it("webhooks (timestamped) and subscriptions (body) deliver; verifyWebhookSignature checks both for real", async () => {
    const c = client();
    const hook = await c.webhooks.create({ name: "ts-hook", url, secret: "whsec_ts_hook", events: ["secret.created"], filters: { path_prefix: "hooks/wh" } });
    expect(hook.id).toMatch(/^wh_/);
    expect(hook).not.toHaveProperty("secret", "whsec_ts_hook");
    await c.subscriptions.create({ name: "ts-sub", paths: ["hooks/sub"], events: ["secret.created"], delivery: { type: "webhook", url, secret: "whsec_ts_sub" } });
    await c.secrets.write("hooks/wh", { v: 1 });
    await c.secrets.write("hooks/sub", { v: 1 });

    const timestamped = await hooks.waitFor("hooks/wh");
    const signature = String(timestamped.headers["x-scaivault-signature"]);
    expect(signature).toMatch(/^sha256=[0-9a-f]{64}$/);
    const ts = String(timestamped.headers["x-scaivault-timestamp"]);
    expect(verifyWebhookSignature({ payload: timestamped.raw, signature, secret: "whsec_ts_hook", timestamp: ts })).toBe(true);
    expect(verifyWebhookSignature({ payload: timestamped.raw, signature, secret: "whsec_other", timestamp: ts })).toBe(false);
    expect(verifyWebhookSignature({ payload: timestamped.raw + " ", signature, secret: "whsec_ts_hook", timestamp: ts })).toBe(false);
    expect(verifyWebhookSignature({ payload: timestamped.raw, signature, secret: "whsec_ts_hook", timestamp: ts, now: Number(ts) + 3600 })).toBe(false);

    const body = await hooks.waitFor("hooks/sub");
    const bodySignature = String(body.headers["x-scaivault-signature"]);
    expect(bodySignature).toMatch(/^[0-9a-f]{64}$/);
    expect(verifyWebhookSignature({ payload: body.raw, signature: bodySignature, secret: "whsec_ts_sub" })).toBe(true);
    expect(verifyWebhookSignature({ payload: Buffer.from(body.raw), signature: bodySignature, secret: "whsec_ts_sub" })).toBe(true);
    expect(verifyWebhookSignature({ payload: body.raw, signature: bodySignature, secret: "whsec_ts_other" })).toBe(false);
    const deliveries = await c.webhooks.deliveries(hook.id);
    expect(deliveries.data.length).toBeGreaterThan(0);
  });

  it("polling subscriptions, audit logs and verify", async () => {
    const c = client();
    const sub = await c.subscriptions.create({ name: "ts-poll", paths: ["poll/**"], events: ["secret.*"], delivery: { type: "polling" } });
    await c.secrets.write("poll/a", { v: 1 });
    const polled = await c.subscriptions.poll(sub.id, { timeout: 5 });
    expect(polled.events.map((e) => [e.event_type, e.path])).toContainEqual(["secret.created", "poll/a"]);
    await c.subscriptions.ack(sub.id, polled.events.map((e) => e.event_id));
    const logs = await c.audit.logs({ path_prefix: "poll/", limit: 10 });
    expect(logs.data.some((entry) => entry.action === "write" && entry.secret_path === "poll/a")).toBe(true);
    expect(await c.audit.verify()).toMatchObject({ ok: true });
  });
});
