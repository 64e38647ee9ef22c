import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault, type TestVault } from "../testing/harness.js";
import { auditRows, connectMcp, type McpConnection } from "../testing/mcp-client.js";

const MASK = "••••••";

describeEachBackend("scaivault-mcp masking of every secret-bearing answer", (backend) => {
  const current = useVault(backend);
  let vault: TestVault;
  let mcp: McpConnection;
  let open: McpConnection;
  const keyDir = mkdtempSync(join(tmpdir(), "mcp-mask-"));
  beforeAll(async () => {
    vault = current();
    for (const [path, value] of [["mask/app/db", "first-value"], ["mask/app/db", "second-value"], ["mask/open/y", "shown-y"]]) {
      expect([200, 201]).toContain((await vault.admin.put(`/v1/secrets/${path}`, { data: { password: value } })).status);
    }
    mcp = await connectMcp(vault, { SCAIVAULT_MASK_VALUES: "1", SCAIVAULT_UNMASK_PATHS: "mask/open" });
    open = await connectMcp(vault);
  });
  afterAll(async () => {
    await mcp?.close();
    await open?.close();
    rmSync(keyDir, { recursive: true, force: true });
  });

  it("restore_secret_version answers the restored value masked, and writes it for real", async () => {
    const restored = await mcp.call("restore_secret_version", { path: "mask/app/db", version: 1 });
    expect(restored.isError, JSON.stringify(restored)).toBeFalsy();
    expect(restored.structuredContent).toMatchObject({ path: "mask/app/db", version: 3, restored_from: 1, masked: true, data: { password: MASK } });
    expect(restored.content[0].text).not.toContain("first-value");
    expect((await vault.admin.get("/v1/secrets/mask/app/db")).body.data).toEqual({ password: "first-value" });
  });

  it("a masked read is still a read: audited with the tool, and the field names are kept", async () => {
    const before = (await auditRows(vault, "mask/app/db")).length;
    const read = await mcp.call("read_secret", { path: "mask/app/db", field: "password" });
    expect(read.structuredContent).toMatchObject({ masked: true, data: { password: MASK } });
    const rows = await auditRows(vault, "mask/app/db");
    expect(rows.length).toBe(before + 1);
    expect(rows[rows.length - 1].action).toBe("read");
    expect(JSON.parse(rows[rows.length - 1].extra_data).mcp_tool).toBe("scaivault_read_secret");
    // Unmasked prefix: shown.
    expect((await mcp.call("read_secret", { path: "mask/open/y" })).structuredContent.data).toEqual({ password: "shown-y" });
  });

  it("secret-policy previews mask the generated values only", async () => {
    const created = await vault.admin.post("/v1/secret-policies", { name: `mask-${backend}`, policy_type: "api_key", fields: [{ name: "api_key", generator: "hex" }] });
    expect(created.status, created.text).toBe(201);
    const shown = await open.call("preview_secret_policy", { policy_id: created.body.id });
    expect(shown.structuredContent.data.api_key).toMatch(/^[0-9a-f]+$/);
    const masked = await mcp.call("preview_secret_policy", { policy_id: created.body.id });
    expect(masked.isError, JSON.stringify(masked)).toBeFalsy();
    expect(masked.structuredContent).toMatchObject({ policy_id: created.body.id, masked: true, data: { api_key: MASK } });
    expect(masked.structuredContent.generated_at).toMatch(/^\d{4}-/);
  });

  it("webhook and subscription signing secrets never come back, masked or not", async () => {
    const secret = "whsec_do-not-echo-0123456789";
    for (const connection of [mcp, open]) {
      const hook = await connection.call("create_webhook", { name: `w-${connection === mcp ? "m" : "o"}`, url: "http://127.0.0.1:9/", secret, events: ["secret.*"], filters: { path_prefix: "mask/" } });
      expect(hook.isError, JSON.stringify(hook)).toBeFalsy();
      expect(hook.content[0].text).not.toContain(secret);
      const updated = await connection.call("update_webhook", { webhook_id: hook.structuredContent.id, secret: `${secret}-2`, previous_secret_ttl: "1h" });
      expect(updated.isError, JSON.stringify(updated)).toBeFalsy();
      expect(updated.content[0].text).not.toContain(secret);
      const sub = await connection.call("create_subscription", { name: `s-${connection === mcp ? "m" : "o"}`, paths: ["mask/**"], events: ["secret.*"], delivery: { type: "webhook", url: "http://127.0.0.1:9/", secret } });
      expect(sub.isError, JSON.stringify(sub)).toBeFalsy();
      expect(sub.content[0].text).not.toContain(secret);
    }
  });

  it("dynamic credentials: the lease's data is masked, its id and times are not", async () => {
    execFileSync("ssh-keygen", ["-t", "ed25519", "-N", "", "-q", "-C", "mcp", "-f", join(keyDir, "id")]);
    const publicKey = readFileSync(join(keyDir, "id.pub"), "utf8").trim();
    const engine = await vault.admin.post("/v1/dynamic/engines", { name: "mcp-ssh", type: "ssh", config: {}, default_ttl: "30m", max_ttl: "1h" });
    expect(engine.status, engine.text).toBe(201);
    expect((await vault.admin.post("/v1/dynamic/engines/mcp-ssh/roles", { name: "ops", allowed_users: ["deploy"], default_user: "deploy" })).status).toBe(201);
    const lease = await mcp.call("generate_dynamic_credentials", { engine: "mcp-ssh", role: "ops", public_key: publicKey, valid_principals: ["deploy"] });
    expect(lease.isError, JSON.stringify(lease)).toBeFalsy();
    expect(lease.structuredContent.lease_id).toMatch(/^lease_/);
    expect(lease.structuredContent.masked).toBe(true);
    expect(lease.structuredContent.data.signed_key).toBe(MASK);
    expect(lease.content[0].text).not.toContain("ssh-ed25519-cert");
  });
});
