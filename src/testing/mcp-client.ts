import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { expect } from "vitest";
import type { TestVault } from "./harness.js";

export const MCP_BIN = fileURLToPath(new URL("../../dist/mcp/main.js", import.meta.url));

export type ToolResult = { isError?: boolean; content: { type: string; text: string }[]; structuredContent?: any };
export type McpError = { code: string; message: string; request_id?: string };

/** Generous (the line comes within milliseconds), and under the test timeout so a missing line fails with its own message. */
const LOG_WAIT_MS = 10_000;

/**
 * One `scaivault-mcp` process over stdio, as an MCP host starts it, with the SDK's own client.
 * SCAIVAULT_DEBUG=1 makes the server log every API call it makes to stderr, so a test can show
 * that a refusal sent nothing.
 */
export async function connectMcp(vault: TestVault, env: Record<string, string> = {}, token = vault.adminToken) {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [MCP_BIN],
    env: { PATH: process.env.PATH ?? "", SCAIVAULT_URL: vault.baseUrl, SCAIVAULT_TOKEN: token, SCAIVAULT_DEBUG: "1", ...env },
    stderr: "pipe",
  });
  const lines: Record<string, any>[] = [];
  let partial = "";
  transport.stderr?.on("data", (chunk: Buffer) => {
    const text = partial + chunk.toString("utf8");
    const parts = text.split("\n");
    partial = parts.pop() ?? "";
    for (const line of parts) {
      try {
        lines.push(JSON.parse(line) as Record<string, any>);
      } catch {
        lines.push({ msg: "unparsed", line });
      }
    }
  });
  const client = new Client({ name: "test-host", version: "1.0" });
  await client.connect(transport);

  const call = async (name: string, args: Record<string, unknown> = {}) => (await client.callTool({ name: `scaivault_${name}`, arguments: args })) as ToolResult;
  const error = (result: ToolResult): McpError => {
    expect(result.isError, JSON.stringify(result)).toBe(true);
    return JSON.parse(result.content[0].text).error as McpError;
  };
  const waitFor = async (from: number, pick: (line: Record<string, any>) => boolean) => {
    const deadline = Date.now() + LOG_WAIT_MS;
    while (!lines.slice(from).some(pick)) {
      if (Date.now() > deadline) throw new Error(`no such stderr line after ${from}: ${JSON.stringify(lines.slice(from))}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  /**
   * Calls a tool that must be refused by a guardrail: answers the refusal, after checking that the
   * server logged the refusal and no API call for it. The refusal line is written after any API
   * call line would be, so once it is here nothing earlier is still in flight.
   */
  const refused = async (name: string, args: Record<string, unknown> = {}): Promise<McpError> => {
    const mark = lines.length;
    const refusal = error(await call(name, args));
    await waitFor(mark, (line) => line.msg === "refused" && line.tool === `scaivault_${name}`);
    const sent = lines.slice(mark).filter((line) => line.msg === "api call");
    expect(sent, `${name} ${JSON.stringify(args)} reached the API`).toEqual([]);
    return refusal;
  };
  /** The API calls the server logged since `mark` (a count of `lines`). */
  const apiCallsSince = async (mark: number, tool: string) => {
    await waitFor(mark, (line) => line.msg === "api call" && line.tool === `scaivault_${tool}`);
    return lines.slice(mark).filter((line) => line.msg === "api call");
  };
  return { client, call, error, refused, apiCallsSince, lines, close: () => client.close() };
}

export type McpConnection = Awaited<ReturnType<typeof connectMcp>>;

/** Audit entries for a path, read straight from the table (a refused call must add none). */
export async function auditRows(vault: TestVault, path: string) {
  return vault.vault.db.all<{ action: string; user_agent: string; extra_data: string }>("SELECT action, user_agent, extra_data FROM audit_log WHERE secret_path = ? ORDER BY timestamp, seq", [path]);
}

/** Every audit entry the vault holds: a refusal adds none. */
export async function auditCount(vault: TestVault): Promise<number> {
  const row = await vault.vault.db.get<{ n: number | string }>("SELECT COUNT(*) AS n FROM audit_log", []);
  return Number(row?.n ?? 0);
}
