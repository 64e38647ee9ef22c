#!/usr/bin/env node
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { VERSION } from "../system/routes.js";
import { ConfigError, loadMcpConfig, USAGE } from "./config.js";
import { createMcpServer } from "./server.js";

/** stdout carries protocol messages only: every log is a JSON line on stderr. */
const log = (record: Record<string, unknown>) => process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), ...record })}\n`);

async function main(argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (argv.includes("--version")) {
    process.stdout.write(`scaivault-mcp ${VERSION}\n`);
    return 0;
  }
  let config;
  try {
    config = loadMcpConfig(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`scaivault-mcp: ${error.message}\n\n${USAGE}`);
    return 2;
  }
  const server = createMcpServer(config, VERSION, log);
  await server.connect(new StdioServerTransport());
  log({ msg: "scaivault-mcp ready", url: config.url, read_only: config.readOnly, masked: config.maskValues });
  return -1;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (error: unknown) => {
    log({ msg: "scaivault-mcp failed", error: (error as Error).message });
    process.exit(1);
  },
);
