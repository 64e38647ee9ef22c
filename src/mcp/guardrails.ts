import type { McpConfig } from "./config.js";
import type { Json, ToolSpec } from "./tool.js";

export type RefusalCode = "mcp_read_only" | "mcp_path_denied" | "mcp_confirmation_required";

export interface Refusal {
  code: RefusalCode;
  message: string;
}

export const MASK = "••••••";
const WILDCARD = /[*?]/;

/** A prefix covers a path equal to it or below it on a segment boundary (`app/db` covers `app/db/x`, not `app/dbx`). */
export function covers(prefix: string, path: string): boolean {
  return path === prefix || path.startsWith(`${prefix}/`);
}

function maskLeaves(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(maskLeaves);
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskLeaves(v)]));
  return MASK;
}

/** Every value under a key named `secret` (webhook and subscription signing secrets), at any depth. */
function maskSigningSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(maskSigningSecrets);
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, k === "secret" && typeof v === "string" ? MASK : maskSigningSecrets(v)]));
  return value;
}

/**
 * spec/mcp.md §3: checked before any API call, they only narrow what the token may do. Refusals
 * name their code; nothing reaches the API, so nothing is audited.
 */
export class Guardrails {
  constructor(private readonly config: McpConfig) {}

  get pathsRestricted(): boolean {
    return this.config.allowedPaths !== null || this.config.deniedPaths.length > 0;
  }

  /** A literal secret path (or list prefix): DENIED wins; with ALLOWED set, it must be covered. */
  pathAllowed(path: string): boolean {
    const clean = path.replace(/\/+$/, "");
    if (this.config.deniedPaths.some((d) => covers(d, clean))) return false;
    return this.config.allowedPaths === null || this.config.allowedPaths.some((a) => covers(a, clean));
  }

  /**
   * A glob or prefix filter, judged by its literal text before the first wildcard: refused when it
   * could reach a denied path, or (ALLOWED set) a path outside every allowed prefix.
   */
  patternAllowed(pattern: string): boolean {
    const cut = pattern.search(WILDCARD);
    if (cut < 0) return this.pathAllowed(pattern);
    const literal = pattern.slice(0, cut);
    if (this.config.deniedPaths.some((d) => covers(d, literal.replace(/\/+$/, "")) || `${d}/`.startsWith(literal) || d.startsWith(literal))) return false;
    return this.config.allowedPaths === null || this.config.allowedPaths.some((a) => literal.startsWith(`${a}/`));
  }

  check(tool: ToolSpec, args: Json): Refusal | null {
    const name = `scaivault_${tool.name}`;
    if (this.config.readOnly && tool.kind !== "read") {
      return { code: "mcp_read_only", message: `${name} changes the vault; this server runs read-only (SCAIVAULT_READ_ONLY)` };
    }
    if (tool.grantsAccess && this.pathsRestricted) {
      return { code: "mcp_path_denied", message: `${name} could grant access beyond the allowed paths; it is refused while SCAIVAULT_ALLOWED_PATHS or SCAIVAULT_DENIED_PATHS is set` };
    }
    for (const arg of tool.pathArgs ?? []) {
      const value = args[arg];
      const paths = Array.isArray(value) ? value.map(String) : typeof value === "string" && value !== "" ? [value] : [];
      const refused = paths.find((path) => !this.pathAllowed(path));
      if (refused !== undefined) return { code: "mcp_path_denied", message: `${name}: the path ${refused} is outside the paths this server may touch` };
    }
    const refusedPattern = (tool.patterns?.(args) ?? []).find((pattern) => !this.patternAllowed(pattern));
    if (refusedPattern !== undefined) return { code: "mcp_path_denied", message: `${name}: the pattern ${refusedPattern} could reach paths this server may not touch` };
    if (tool.kind === "destructive" && this.config.requireConfirm && args.confirm !== true) {
      return { code: "mcp_confirmation_required", message: `${name} ${tool.effect?.(args) ?? "would change the vault irreversibly"}; call it again with confirm: true to proceed` };
    }
    return null;
  }

  /** List answers keep only items whose path the server may touch (items about no path stay). */
  filter(tool: ToolSpec, result: unknown): unknown {
    if (!tool.filter || !this.pathsRestricted || !result || typeof result !== "object") return result;
    const list = (result as Json)[tool.filter.list];
    if (!Array.isArray(list)) return result;
    const field = tool.filter.field;
    return { ...(result as Json), [tool.filter.list]: list.filter((item) => typeof (item as Json)?.[field] !== "string" || this.pathAllowed((item as Json)[field] as string)) };
  }

  mask(tool: ToolSpec, args: Json, result: unknown): unknown {
    if (!this.config.maskValues || !tool.mask || !result || typeof result !== "object") return result;
    const shown = (path: unknown) => typeof path === "string" && this.config.unmaskPaths.some((u) => covers(u, path));
    const out = { ...(result as Json) };
    switch (tool.mask) {
      case "secret":
        if (out.data !== undefined && !shown(out.path ?? args.path)) Object.assign(out, { data: maskLeaves(out.data), masked: true });
        return out;
      case "batch": {
        const secrets = (out.secrets ?? {}) as Record<string, Json>;
        out.secrets = Object.fromEntries(Object.entries(secrets).map(([path, s]) => [path, shown(path) ? s : { ...s, data: maskLeaves(s.data), masked: true }]));
        return out;
      }
      case "token":
        if (typeof out.token === "string") Object.assign(out, { token: MASK, masked: true });
        return out;
      case "signing":
        return maskSigningSecrets(out);
      case "preview":
        return { ...(maskLeaves(out) as Json), masked: true };
      case "issued":
        if (typeof out.private_key === "string") Object.assign(out, { private_key: MASK, masked: true });
        return out;
      case "lease":
        if (out.data !== undefined) Object.assign(out, { data: maskLeaves(out.data), masked: true });
        return out;
    }
  }
}
