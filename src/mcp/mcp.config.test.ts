import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault, type TestVault } from "../testing/harness.js";
import { connectMcp, MCP_BIN, type ToolResult } from "../testing/mcp-client.js";

const DOC = fileURLToPath(new URL("../../docs/mcp.md", import.meta.url));
const PACKAGE = fileURLToPath(new URL("../../package.json", import.meta.url));

/** The docs' host configuration: the first ```json block under "Host configuration". */
function documentedHostConfig(): { command: string; args?: string[]; env: Record<string, string> } {
  const doc = readFileSync(DOC, "utf8");
  const section = doc.slice(doc.indexOf("## Host configuration"));
  const block = /```json\n([\s\S]*?)```/.exec(section);
  expect(block, "docs/mcp.md has a json host configuration").not.toBeNull();
  const parsed = JSON.parse(block![1]) as { mcpServers: Record<string, { command: string; args?: string[]; env: Record<string, string> }> };
  return parsed.mcpServers.scaivault;
}

describeEachBackend("scaivault-mcp configuration", (backend) => {
  const current = useVault(backend);
  let vault: TestVault;
  const dir = mkdtempSync(join(tmpdir(), "mcp-config-"));
  beforeAll(async () => {
    vault = current();
    expect((await vault.admin.put("/v1/secrets/conf/app/db", { data: { password: "conf-secret" } })).status).toBe(201);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("the docs' host snippet works as written: the command is the package's bin, and its env turns on read-only and masking", async () => {
    const host = documentedHostConfig();
    expect(host.command).toBe("scaivault-mcp");
    const pkg = JSON.parse(readFileSync(PACKAGE, "utf8")) as { bin: Record<string, string> };
    expect(pkg.bin[host.command]).toBe("dist/mcp/main.js");
    expect(readFileSync(MCP_BIN, "utf8").split("\n")[0]).toBe("#!/usr/bin/env node");
    // As a global install lays it out: the bin name on PATH, linked to the executable script.
    chmodSync(MCP_BIN, statSync(MCP_BIN).mode | 0o755);
    symlinkSync(MCP_BIN, join(dir, host.command));
    expect(Object.keys(host.env).sort()).toEqual(["SCAIVAULT_MASK_VALUES", "SCAIVAULT_READ_ONLY", "SCAIVAULT_TOKEN", "SCAIVAULT_URL"]);
    // The URL and token are the snippet's placeholders; every other variable is used as written.
    const env = { ...host.env, SCAIVAULT_URL: vault.baseUrl, SCAIVAULT_TOKEN: vault.adminToken, PATH: `${dir}:${process.env.PATH ?? ""}` };
    const client = new Client({ name: "claude-desktop", version: "0.0.1" });
    await client.connect(new StdioClientTransport({ command: host.command, args: host.args ?? [], env, stderr: "ignore" }));
    try {
      const text = (r: ToolResult) => r.content[0].text;
      const read = (await client.callTool({ name: "scaivault_read_secret", arguments: { path: "conf/app/db" } })) as ToolResult;
      expect(read.structuredContent).toMatchObject({ masked: true, data: { password: "••••••" } });
      expect(text(read)).not.toContain("conf-secret");
      const write = (await client.callTool({ name: "scaivault_write_secret", arguments: { path: "conf/app/db", data: { password: "x" } } })) as ToolResult;
      expect(write.isError).toBe(true);
      expect(JSON.parse(text(write)).error.code).toBe("mcp_read_only");
    } finally {
      await client.close();
    }
  });

  it("SCAIVAULT_TOOLSETS exposes only the named categories; an unknown one stops the server", async () => {
    const mcp = await connectMcp(vault, { SCAIVAULT_TOOLSETS: "secrets,system" });
    try {
      const names = (await mcp.client.listTools()).tools.map((t) => t.name);
      expect(names).toContain("scaivault_read_secret");
      expect(names).toContain("scaivault_get_health");
      expect(names).not.toContain("scaivault_list_policies");
      expect(names).toHaveLength(8);
      expect(mcp.error(await mcp.call("list_policies")).code).toBe("not_found");
    } finally {
      await mcp.close();
    }
    await expect(connectMcp(vault, { SCAIVAULT_TOOLSETS: "secrets,nope" })).rejects.toThrow();
  });

  it("SCAIVAULT_TENANT_ID locks every request to that tenant (X-Tenant-ID)", async () => {
    const home = (await vault.admin.get("/v1/auth/whoami")).body as { tenant_id: string };
    const locked = await connectMcp(vault, { SCAIVAULT_TENANT_ID: home.tenant_id });
    try {
      expect((await locked.call("read_secret", { path: "conf/app/db" })).structuredContent.data).toEqual({ password: "conf-secret" });
    } finally {
      await locked.close();
    }
    const elsewhere = await connectMcp(vault, { SCAIVAULT_TENANT_ID: "tnt_nowhere" });
    try {
      expect(elsewhere.error(await elsewhere.call("read_secret", { path: "conf/app/db" })).code).toBe("tenant_not_found");
      expect(elsewhere.error(await elsewhere.call("list_secrets")).code).toBe("tenant_not_found");
    } finally {
      await elsewhere.close();
    }
  });

  it("SCAIVAULT_TOKEN_FILE is read at start and again after a 401", async () => {
    const tokenFile = join(dir, "token");
    writeFileSync(tokenFile, "skt_not-a-real-token\n");
    const mcp = await connectMcp(vault, { SCAIVAULT_TOKEN_FILE: tokenFile }, "");
    try {
      expect(mcp.error(await mcp.call("get_whoami")).code).toMatch(/^(token_invalid|authentication_required)$/);
      writeFileSync(tokenFile, `${vault.adminToken}\n`);
      const whoami = await mcp.call("get_whoami");
      expect(whoami.isError, JSON.stringify(whoami)).toBeFalsy();
      expect(whoami.structuredContent.identity_id).toBe((await vault.admin.get("/v1/auth/whoami")).body.identity_id);
    } finally {
      await mcp.close();
    }
  });
});
