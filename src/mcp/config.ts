import { readFileSync } from "node:fs";

/** The tool categories of spec/mcp.md §4, selectable with SCAIVAULT_TOOLSETS. */
export const CATEGORIES = ["secrets", "lifecycle", "policies", "rotation", "secret_policies", "audit", "webhooks", "subscriptions", "access", "identity", "pki", "dynamic", "system"] as const;
export type Category = (typeof CATEGORIES)[number];

export interface McpConfig {
  url: string;
  /** The token now; re-read from `tokenFile` after a 401 when that is set. */
  token: () => string;
  tokenFile: string | null;
  tenantId: string | null;
  partnerId: string | null;
  readOnly: boolean;
  maskValues: boolean;
  unmaskPaths: string[];
  allowedPaths: string[] | null;
  deniedPaths: string[];
  requireConfirm: boolean;
  toolsets: Set<Category>;
  debug: boolean;
}

export class ConfigError extends Error {}

const TRUE = new Set(["true", "1", "yes"]);
const bool = (value: string | undefined, fallback: boolean) => (value === undefined || value === "" ? fallback : TRUE.has(value.trim().toLowerCase()));
/** Comma-separated prefixes, a trailing `/` ignored. */
const prefixes = (value: string | undefined) => (value ?? "").split(",").map((p) => p.trim().replace(/\/+$/, "")).filter((p) => p !== "");

/** Reads spec/mcp.md §2's environment once, at start. */
export function loadMcpConfig(env: NodeJS.ProcessEnv): McpConfig {
  const url = env.SCAIVAULT_URL?.trim();
  if (!url) throw new ConfigError("SCAIVAULT_URL is required (the vault's base URL)");
  const tokenFile = env.SCAIVAULT_TOKEN_FILE?.trim() || null;
  if (!tokenFile && !env.SCAIVAULT_TOKEN?.trim()) throw new ConfigError("SCAIVAULT_TOKEN (or SCAIVAULT_TOKEN_FILE) is required");
  const readToken = () => (tokenFile ? readFileSync(tokenFile, "utf8").trim() : (env.SCAIVAULT_TOKEN as string).trim());
  if (tokenFile) {
    try {
      readToken();
    } catch {
      throw new ConfigError(`SCAIVAULT_TOKEN_FILE cannot be read: ${tokenFile}`);
    }
  }
  const toolsets = env.SCAIVAULT_TOOLSETS?.trim() ? prefixes(env.SCAIVAULT_TOOLSETS) : [...CATEGORIES];
  const unknown = toolsets.filter((t) => !(CATEGORIES as readonly string[]).includes(t));
  if (unknown.length > 0) throw new ConfigError(`SCAIVAULT_TOOLSETS names unknown categories: ${unknown.join(", ")} (known: ${CATEGORIES.join(", ")})`);
  const allowed = prefixes(env.SCAIVAULT_ALLOWED_PATHS);
  return {
    url,
    token: readToken,
    tokenFile,
    tenantId: env.SCAIVAULT_TENANT_ID?.trim() || null,
    partnerId: env.SCAIVAULT_PARTNER_ID?.trim() || null,
    readOnly: bool(env.SCAIVAULT_READ_ONLY, false),
    maskValues: bool(env.SCAIVAULT_MASK_VALUES, false),
    unmaskPaths: prefixes(env.SCAIVAULT_UNMASK_PATHS),
    allowedPaths: allowed.length > 0 ? allowed : null,
    deniedPaths: prefixes(env.SCAIVAULT_DENIED_PATHS),
    requireConfirm: bool(env.SCAIVAULT_REQUIRE_CONFIRM, true),
    toolsets: new Set(toolsets as Category[]),
    debug: bool(env.SCAIVAULT_DEBUG, false),
  };
}

export const USAGE = `scaivault-mcp — the ScaiVault MCP server (stdio)

Usage: scaivault-mcp [--help | --version]
Run by an MCP host (Claude Desktop, Cursor, Cline, …); speaks JSON-RPC on stdin/stdout, logs to stderr.

Environment:
  SCAIVAULT_URL              the vault's base URL (required)
  SCAIVAULT_TOKEN            bearer token (required unless SCAIVAULT_TOKEN_FILE)
  SCAIVAULT_TOKEN_FILE       read the token from this file, re-read after a 401
  SCAIVAULT_TENANT_ID        lock every request to this tenant (X-Tenant-ID)
  SCAIVAULT_PARTNER_ID       lock to this partner: refused if the token works in another
  SCAIVAULT_READ_ONLY        true: write and delete tools refuse (default false)
  SCAIVAULT_MASK_VALUES      true: secret values shown as •••••• (default false)
  SCAIVAULT_UNMASK_PATHS     path prefixes whose values are shown despite masking
  SCAIVAULT_ALLOWED_PATHS    comma-separated path prefixes; anything outside is refused
  SCAIVAULT_DENIED_PATHS     path prefixes always refused, even inside ALLOWED
  SCAIVAULT_REQUIRE_CONFIRM  destructive tools need confirm: true (default true)
  SCAIVAULT_TOOLSETS         categories to expose (${CATEGORIES.join(",")}; default all)
  SCAIVAULT_DEBUG            1: log each API call (never values) to stderr

Recommended agent profile: SCAIVAULT_READ_ONLY=true SCAIVAULT_MASK_VALUES=true SCAIVAULT_ALLOWED_PATHS=<one prefix>
`;
