import { readFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Ajv } from "ajv";
import { beforeAll, expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault, type TestVault } from "../testing/harness.js";
import { auditRows, connectMcp, MCP_BIN as BIN } from "../testing/mcp-client.js";

const DOC = fileURLToPath(new URL("../../docs/mcp.md", import.meta.url));
const connect = connectMcp;

/** spec/mcp.md §4's minimum, 67 tools (`whoami` is `get_whoami`: docs/mcp.md says why). */
const CONTRACT_TOOLS = (
  "ack_subscription_events assign_rotation_policy batch_read_secrets bind_policy create_exchange_trust create_policy create_rotation_policy " +
  "create_secret_policy create_subscription create_token create_webhook delete_exchange_trust delete_policy delete_rotation_policy delete_secret " +
  "delete_secret_policy delete_subscription delete_webhook destroy_secret_versions export_audit_logs get_audit_export get_audit_summary get_health " +
  "get_identity_audit_trail get_identity_sync_history get_policy get_rotation_history get_rotation_policy get_secret_audit_trail get_secret_metadata " +
  "get_secret_versions list_due_rotations list_exchange_trusts list_expiring_secrets list_groups list_policies list_rotation_policies " +
  "list_secret_policies list_secrets list_subscriptions list_tenants list_tokens list_users list_webhook_deliveries list_webhooks poll_subscription " +
  "preview_secret_policy query_audit_logs read_secret redeliver_webhook_delivery resolve_identity restore_secret_version revoke_token rotate_secret " +
  "sync_identities test_policy test_webhook unassign_rotation_policy unbind_policy undelete_secret update_policy update_rotation_policy " +
  "update_secret_metadata update_webhook verify_audit_chain get_whoami write_secret"
).split(" ");

// The audit entries it leaves are storage: the suite runs on each backend.
describeEachBackend("scaivault-mcp over stdio against a real vault", (backend) => {
  const current = useVault(backend);
  let vault: TestVault;
  beforeAll(async () => {
    vault = current();
    for (const [path, value] of [["agents/app/db", "s3cret-db"], ["agents/app/api", "s3cret-api"], ["agents/other/x", "s3cret-x"], ["agents/open/y", "shown-y"]]) {
      expect((await vault.admin.put(`/v1/secrets/${path}`, { data: { password: value, nested: { pin: "1234" } } })).status).toBe(201);
    }
  });

  it("lists the documented tools (at least the contract's 67) with valid schemas and annotations", async () => {
    const mcp = await connect(vault);
    try {
      expect(mcp.client.getServerVersion()).toMatchObject({ name: "scaivault" });
      const { tools } = await mcp.client.listTools();
      expect(CONTRACT_TOOLS).toHaveLength(67);
      const names = tools.map((t) => t.name);
      expect(CONTRACT_TOOLS.filter((name) => !names.includes(`scaivault_${name}`))).toEqual([]);
      const ajv = new Ajv({ strict: true, strictRequired: true });
      const documented = [...readFileSync(DOC, "utf8").matchAll(/^\| `(scaivault_[a-z_]+)` \| (\w+) \| (read|W|D) \|/gm)].map((m) => ({ name: m[1], kind: m[3] }));
      expect(tools.map((t) => t.name).sort()).toEqual(documented.map((d) => d.name).sort());
      for (const tool of tools) {
        expect(tool.name).toMatch(/^scaivault_[a-z]+(_[a-z]+)+$/);
        expect(tool.inputSchema).toMatchObject({ type: "object", additionalProperties: false });
        // A schema the strict compiler refuses (unknown keyword, a required name with no property) fails here.
        expect(() => ajv.compile(tool.inputSchema), tool.name).not.toThrow();
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
      const writes = await auditRows(vault, "agents/app/new");
      expect(writes).toHaveLength(1);
      expect(writes[0].user_agent).toBe("scaivault-mcp/0.1.0 test-host/1.0");
      expect(JSON.parse(writes[0].extra_data).mcp_tool).toBe("scaivault_write_secret");
      const rows = await auditRows(vault, "agents/app/db");
      const last = rows[rows.length - 1];
      expect(last.action).toBe("read");
      expect(last.user_agent).toBe("scaivault-mcp/0.1.0 test-host/1.0");
      expect(JSON.parse(last.extra_data).mcp_tool).toBe("scaivault_read_secret");

      const missing = mcp.error(await mcp.call("read_secret", { path: "agents/none" }));
      expect(missing.code).toBe("secret_not_found");
      expect(missing.request_id).toMatch(/^req_/);
      expect(mcp.error(await mcp.call("read_secret", { path: "agents/app/db", bogus: 1 })).code).toBe("validation_error");
      // Errors the server answers itself take codes from the API's closed list.
      expect(mcp.error(await mcp.call("read_secret", { path: "agents/app/db", field: "nope" })).code).toBe("not_found");
      expect(mcp.error(await mcp.call("no_such_tool")).code).toBe("not_found");
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

  it("the vault records X-ScaiVault-MCP-Tool only when it is a tool name", async () => {
    for (const [header, recorded] of [["scaivault_read_secret", "scaivault_read_secret"], ["scaivault_Read", undefined], ["rm -rf /", undefined], [`scaivault_${"a".repeat(61)}`, undefined]] as const) {
      expect((await vault.admin.get("/v1/secrets/agents/open/y", { headers: { "x-scaivault-mcp-tool": header } })).status).toBe(200);
      const rows = await auditRows(vault, "agents/open/y");
      expect(JSON.parse(rows[rows.length - 1].extra_data ?? "{}").mcp_tool, header).toBe(recorded);
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

  it("exits 2 with a message when SCAIVAULT_URL or the token is missing; answers --help and --version", async () => {
    const run = spawnSync(process.execPath, [BIN], { env: { PATH: process.env.PATH ?? "" }, encoding: "utf8", timeout: 30_000 });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain("SCAIVAULT_URL is required");
    expect(run.stdout).toBe("");
    const noToken = spawnSync(process.execPath, [BIN], { env: { PATH: process.env.PATH ?? "", SCAIVAULT_URL: vault.baseUrl }, encoding: "utf8", timeout: 30_000 });
    expect(noToken.status).toBe(2);
    expect(noToken.stderr).toContain("SCAIVAULT_TOKEN (or SCAIVAULT_TOKEN_FILE) is required");
    expect(noToken.stdout).toBe("");
    const version = spawnSync(process.execPath, [BIN, "--version"], { encoding: "utf8", timeout: 30_000 });
    expect(version.status).toBe(0);
    expect(version.stdout).toMatch(/^scaivault-mcp \d+\.\d+\.\d+/);
    const help = spawnSync(process.execPath, [BIN, "--help"], { encoding: "utf8", timeout: 30_000 });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain("SCAIVAULT_ALLOWED_PATHS");
  });
});
