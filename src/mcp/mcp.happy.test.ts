import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startVault, type TestVault } from "../testing/harness.js";

const BIN = fileURLToPath(new URL("../../dist/mcp/main.js", import.meta.url));
const DOC = fileURLToPath(new URL("../../docs/mcp.md", import.meta.url));

type ToolResult = { isError?: boolean; content: { type: string; text: string }[]; structuredContent?: any };

/** One `scaivault-mcp` process over stdio, as an MCP host starts it, with the SDK's own client. */
async function connect(vault: TestVault, env: Record<string, string> = {}, token = vault.adminToken) {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [BIN],
    env: { PATH: process.env.PATH ?? "", SCAIVAULT_URL: vault.baseUrl, SCAIVAULT_TOKEN: token, ...env },
    stderr: "pipe",
  });
  const client = new Client({ name: "test-host", version: "1.0" });
  await client.connect(transport);
  const call = async (name: string, args: Record<string, unknown> = {}) => (await client.callTool({ name: `scaivault_${name}`, arguments: args })) as ToolResult;
  const error = (result: ToolResult) => {
    expect(result.isError, JSON.stringify(result)).toBe(true);
    return JSON.parse(result.content[0].text).error as { code: string; message: string; request_id?: string };
  };
  return { client, call, error, close: () => client.close() };
}

/** Audit entries for a path, read straight from the table (a refused call must add none). */
async function auditRows(vault: TestVault, path: string) {
  return vault.vault.db.all<{ action: string; user_agent: string; extra_data: string }>("SELECT action, user_agent, extra_data FROM audit_log WHERE secret_path = ? ORDER BY seq", [path]);
}

// The MCP server is an API client: the storage backend behind the vault does not change what it
// does, so one backend (SQLite) serves these tests.
describe("scaivault-mcp over stdio against a real vault [sqlite]", () => {
  let vault: TestVault;
  beforeAll(async () => {
    vault = await startVault("sqlite");
    for (const [path, value] of [["agents/app/db", "s3cret-db"], ["agents/app/api", "s3cret-api"], ["agents/other/x", "s3cret-x"], ["agents/open/y", "shown-y"]]) {
      expect((await vault.admin.put(`/v1/secrets/${path}`, { data: { password: value, nested: { pin: "1234" } } })).status).toBe(201);
    }
  });
  afterAll(async () => {
    await vault?.close();
  });

  it("lists the documented tools with valid schemas and annotations, and answers --help", async () => {
    const mcp = await connect(vault);
    try {
      expect(mcp.client.getServerVersion()).toMatchObject({ name: "scaivault" });
      const { tools } = await mcp.client.listTools();
      expect(tools.length).toBeGreaterThanOrEqual(67);
      const documented = [...readFileSync(DOC, "utf8").matchAll(/^\| `(scaivault_[a-z_]+)` \| (\w+) \| (read|W|D) \|/gm)].map((m) => ({ name: m[1], kind: m[3] }));
      expect(tools.map((t) => t.name).sort()).toEqual(documented.map((d) => d.name).sort());
      for (const tool of tools) {
        expect(tool.name).toMatch(/^scaivault_[a-z]+(_[a-z]+)+$/);
        expect(tool.inputSchema).toMatchObject({ type: "object", additionalProperties: false });
        const kind = documented.find((d) => d.name === tool.name)!.kind;
        expect(tool.annotations).toMatchObject({ readOnlyHint: kind === "read", destructiveHint: kind === "D", openWorldHint: false });
        expect(tool.description!.length).toBeGreaterThan(10);
      }
    } finally {
      await mcp.close();
    }
  });

  it("reads and writes through the API, records the tool and client in the audit entry, and passes API errors through", async () => {
    const mcp = await connect(vault);
    try {
      const written = await mcp.call("write_secret", { path: "agents/app/new", data: { token: "t-1" } });
      expect(written.isError, JSON.stringify(written)).toBeFalsy();
      expect(written.structuredContent).toMatchObject({ path: "agents/app/new", version: 1 });
      const read = await mcp.call("read_secret", { path: "agents/app/db", field: "password" });
      expect(read.structuredContent.data).toEqual({ password: "s3cret-db" });
      expect(JSON.parse(read.content[0].text)).toEqual(read.structuredContent);
      const rows = await auditRows(vault, "agents/app/db");
      const last = rows[rows.length - 1];
      expect(last.action).toBe("read");
      expect(last.user_agent).toBe("scaivault-mcp/0.1.0 test-host/1.0");
      expect(JSON.parse(last.extra_data).mcp_tool).toBe("scaivault_read_secret");

      const missing = mcp.error(await mcp.call("read_secret", { path: "agents/none" }));
      expect(missing.code).toBe("secret_not_found");
      expect(missing.request_id).toMatch(/^req_/);
      expect(mcp.error(await mcp.call("read_secret", { path: "agents/app/db", bogus: 1 })).code).toBe("validation_error");
      // One call in every other category.
      for (const [tool, key] of [["list_policies", "policies"], ["list_rotation_policies", "data"], ["list_secret_policies", "data"], ["query_audit_logs", "logs"], ["list_webhooks", "webhooks"], ["list_subscriptions", "data"], ["list_tenants", "data"]] as const) {
        const result = await mcp.call(tool);
        expect(result.isError, `${tool}: ${JSON.stringify(result)}`).toBeFalsy();
        expect(Array.isArray(result.structuredContent[key]), tool).toBe(true);
      }
      expect((await mcp.call("get_whoami")).structuredContent.identity_id).toBe((await vault.admin.get("/v1/auth/whoami")).body.identity_id);
      expect((await mcp.call("get_health")).structuredContent.status).toBe("ready");
    } finally {
      await mcp.close();
    }
  });

  it("read-only mode refuses every write without calling the API", async () => {
    const mcp = await connect(vault, { SCAIVAULT_READ_ONLY: "true" });
    try {
      const before = (await auditRows(vault, "agents/app/db")).length;
      expect(mcp.error(await mcp.call("write_secret", { path: "agents/app/db", data: { password: "x" } })).code).toBe("mcp_read_only");
      expect(mcp.error(await mcp.call("delete_secret", { path: "agents/app/db", confirm: true })).code).toBe("mcp_read_only");
      expect((await auditRows(vault, "agents/app/db")).length).toBe(before);
      expect((await mcp.call("read_secret", { path: "agents/app/db" })).isError).toBeFalsy();
    } finally {
      await mcp.close();
    }
  });

  it("holds every path argument, nested pattern and list answer to the allowed and denied paths", async () => {
    const mcp = await connect(vault, { SCAIVAULT_ALLOWED_PATHS: "agents/app", SCAIVAULT_DENIED_PATHS: "agents/app/api" });
    try {
      expect((await mcp.call("read_secret", { path: "agents/app/db" })).isError).toBeFalsy();
      for (const [tool, args] of [
        ["read_secret", { path: "agents/other/x" }],
        ["read_secret", { path: "agents/app/api" }],
        ["read_secret", { path: "agents/apple" }],
        ["batch_read_secrets", { paths: ["agents/app/db", "agents/other/x"] }],
        ["list_secrets", { prefix: "agents" }],
        ["assign_rotation_policy", { policy_id: "rot_x", secret_path: "agents/other/x" }],
        ["query_audit_logs", { path_prefix: "agents/other" }],
        ["create_policy", { name: "wide", rules: [{ path_pattern: "agents/**", permissions: ["read"] }] }],
        ["create_policy", { name: "denied", rules: [{ path_pattern: "agents/app/*", permissions: ["read"] }] }],
        ["create_subscription", { name: "s", paths: ["**"], events: ["secret.*"], delivery: { type: "polling" } }],
        ["create_webhook", { name: "w", url: "http://127.0.0.1:9/", secret: "whsec_x", events: ["secret.*"], filters: { path_prefix: "agents/" } }],
        ["create_token", { scopes: ["secrets:read"] }],
        ["bind_policy", { policy_id: "pol_x", identity_type: "user", identity_id: "user:x" }],
      ] as const) {
        expect(mcp.error(await mcp.call(tool, args as Record<string, unknown>)).code, `${tool} ${JSON.stringify(args)}`).toBe("mcp_path_denied");
      }
      const listed = await mcp.call("list_secrets", { prefix: "agents/app" });
      expect(listed.structuredContent.data.map((s: { path: string }) => s.path).sort()).toEqual(["agents/app/db", "agents/app/new"]);
      const unprefixed = await mcp.call("list_secrets");
      expect(unprefixed.structuredContent.data.map((s: { path: string }) => s.path).sort()).toEqual(["agents/app/db", "agents/app/new"]);
      expect((await mcp.call("create_policy", { name: "narrow", rules: [{ path_pattern: "agents/app/db/*", permissions: ["read"] }] })).isError).toBeFalsy();
    } finally {
      await mcp.close();
    }
  });

  it("masks values, tokens and previews unless the path is unmasked; destructive tools need confirm", async () => {
    const mcp = await connect(vault, { SCAIVAULT_MASK_VALUES: "true", SCAIVAULT_UNMASK_PATHS: "agents/open" });
    try {
      const masked = await mcp.call("read_secret", { path: "agents/app/db" });
      expect(masked.structuredContent).toMatchObject({ masked: true, data: { password: "••••••", nested: { pin: "••••••" } } });
      expect(masked.content[0].text).not.toContain("s3cret-db");
      const batch = await mcp.call("batch_read_secrets", { paths: ["agents/app/db", "agents/open/y"] });
      expect(batch.structuredContent.secrets["agents/app/db"].data.password).toBe("••••••");
      expect(batch.structuredContent.secrets["agents/open/y"].data.password).toBe("shown-y");
      expect((await mcp.call("read_secret", { path: "agents/open/y" })).structuredContent.data.password).toBe("shown-y");
      const token = await mcp.call("create_token", { identity_id: "sa:mcp-made", identity_type: "service_account", scopes: ["secrets:read"] });
      expect(token.isError, JSON.stringify(token)).toBeFalsy();
      expect(token.structuredContent.token).toBe("••••••");
      // A certificate's private key, issued through the PKI tools, is masked the same way.
      const ca = await vault.admin.post("/v1/pki/ca", { name: "mcp-root", common_name: "MCP Test Root", ca_type: "root", key_type: "ec" });
      expect(ca.status, ca.text).toBe(201);
      expect((await vault.admin.post("/v1/pki/roles", { name: "mcp-web", ca_id: ca.body.id, allowed_domains: ["example.com"], allow_subdomains: true, key_type: "ec" })).status).toBe(201);
      const issued = await mcp.call("issue_certificate", { role: "mcp-web", common_name: "api.example.com" });
      expect(issued.isError, JSON.stringify(issued)).toBeFalsy();
      expect(issued.structuredContent).toMatchObject({ private_key: "••••••", masked: true });
      expect(issued.structuredContent.certificate).toContain("BEGIN CERTIFICATE");

      const refusal = mcp.error(await mcp.call("delete_secret", { path: "agents/other/x" }));
      expect(refusal.code).toBe("mcp_confirmation_required");
      expect(refusal.message).toContain("would soft-delete agents/other/x");
      expect((await vault.admin.get("/v1/secrets/agents/other/x")).status).toBe(200);
      const deleted = await mcp.call("delete_secret", { path: "agents/other/x", confirm: true });
      expect(deleted.isError, JSON.stringify(deleted)).toBeFalsy();
      expect((await vault.admin.get("/v1/secrets/agents/other/x")).status).toBe(404);
    } finally {
      await mcp.close();
    }
  });

  it("exits 2 with a message when SCAIVAULT_URL or the token is missing", async () => {
    const { spawnSync } = await import("node:child_process");
    const run = spawnSync(process.execPath, [BIN], { env: { PATH: process.env.PATH ?? "" }, encoding: "utf8", timeout: 30_000 });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain("SCAIVAULT_URL is required");
    expect(run.stdout).toBe("");
    const help = spawnSync(process.execPath, [BIN, "--help"], { encoding: "utf8", timeout: 30_000 });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain("SCAIVAULT_ALLOWED_PATHS");
  });
});
