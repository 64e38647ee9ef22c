import type { McpConfig } from "./config.js";
import type { Json, ToolSpec } from "./tool.js";

export type RefusalCode = "mcp_read_only" | "mcp_path_denied" | "mcp_confirmation_required" | "mcp_context_locked";

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

/** No `%` escape, no empty, `.` or `..` segment: the path the API receives is the one checked. */
function plainPath(path: string): boolean {
  return !path.includes("%") && !path.includes("\\") && path.split("/").every((segment) => segment !== "" && segment !== "." && segment !== "..");
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
  /** The locked context (spec/mcp.md §2): each argument that names it, its locked value, and the setting that locked it. */
  private readonly contextLocks: ReadonlyArray<{ arg: "tenant_id" | "partner_id"; value: string; setting: string }>;

  constructor(private readonly config: McpConfig) {
    const locks = [
      { arg: "tenant_id", value: config.tenantId, setting: "SCAIVAULT_TENANT_ID" },
      { arg: "partner_id", value: config.partnerId, setting: "SCAIVAULT_PARTNER_ID" },
    ] as const;
    this.contextLocks = locks.filter((lock): lock is (typeof locks)[number] & { value: string } => lock.value !== null);
  }

  get pathsRestricted(): boolean {
    return this.config.allowedPaths !== null || this.config.deniedPaths.length > 0;
  }

  /** A literal secret path (or list prefix): DENIED wins; with ALLOWED set, it must be covered. */
  pathAllowed(path: string): boolean {
    const clean = path.replace(/\/+$/, "");
    // The check must judge the path the API will act on: a `.`/`..` segment is resolved by URL
    // parsing before the request leaves (`app/../other` becomes `other`), and `%2F` decodes to `/`
    // in the vault. Such a path is not a plain one, so it is refused whenever paths are restricted.
    if (this.pathsRestricted && !plainPath(clean)) return false;
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

  /**
   * A prefix the API matches by string (`startsWith`), not by segment: it must lie below an allowed
   * prefix (`app/db/` or `app/db/x`, never `app/db`, which also matches `app/dbx`) and must not
   * reach a denied one. `""` (no filter) reaches everything.
   */
  rawPrefixAllowed(prefix: string): boolean {
    if (!this.pathsRestricted) return true;
    if (prefix.includes("%") || prefix.split("/").some((segment) => segment === "." || segment === "..")) return false;
    if (this.config.deniedPaths.some((d) => covers(d, prefix.replace(/\/+$/, "")) || `${d}/`.startsWith(prefix))) return false;
    return this.config.allowedPaths === null || this.config.allowedPaths.some((a) => prefix.startsWith(`${a}/`));
  }

  /**
   * The arguments with the locked tenant and partner filled in where the tool takes them and the
   * caller left them out: without them, such a tool (`sync_identities`) would reach the whole partner.
   */
  locked(tool: ToolSpec, args: Json): Json {
    const filled = { ...args };
    for (const { arg, value } of this.contextLocks) if (arg in tool.properties && filled[arg] === undefined) filled[arg] = value;
    return filled;
  }

  check(tool: ToolSpec, args: Json): Refusal | null {
    const name = `scaivault_${tool.name}`;
    if (this.config.readOnly && tool.kind !== "read") {
      return { code: "mcp_read_only", message: `${name} changes the vault; this server runs read-only (SCAIVAULT_READ_ONLY)` };
    }
    if (tool.grantsAccess && this.pathsRestricted) {
      return { code: "mcp_path_denied", message: `${name} could grant access beyond the allowed paths; it is refused while SCAIVAULT_ALLOWED_PATHS or SCAIVAULT_DENIED_PATHS is set` };
    }
    // A locked context: no argument may name another tenant or partner.
    for (const { arg, value, setting } of this.contextLocks) {
      if (args[arg] !== undefined && args[arg] !== value) {
        return { code: "mcp_context_locked", message: `${name}: ${arg} must be ${value}, the context this server is locked to (${setting})` };
      }
    }
    for (const arg of tool.pathArgs ?? []) {
      const value = args[arg];
      const paths = Array.isArray(value) ? value.map(String) : typeof value === "string" && value !== "" ? [value] : [];
      const refused = paths.find((path) => !this.pathAllowed(path));
      if (refused !== undefined) return { code: "mcp_path_denied", message: `${name}: the path ${refused} is outside the paths this server may touch` };
    }
    const refusedDefault = (tool.impliedPaths?.(args) ?? []).find((path) => !this.pathAllowed(path));
    if (refusedDefault !== undefined) return { code: "mcp_path_denied", message: `${name}: without a path argument it writes ${refusedDefault}, outside the paths this server may touch; name one` };
    const refusedPattern = (tool.patterns?.(args) ?? []).find((pattern) => !this.patternAllowed(pattern));
    if (refusedPattern !== undefined) return { code: "mcp_path_denied", message: `${name}: the pattern ${refusedPattern} could reach paths this server may not touch` };
    const refusedPrefix = (tool.prefixes?.(args) ?? []).find((prefix) => !this.rawPrefixAllowed(prefix));
    if (refusedPrefix !== undefined) {
      const what = refusedPrefix === "" ? "without a path_prefix filter it reaches every path" : `the path_prefix ${refusedPrefix} matches by string prefix and could reach paths this server may not touch (end it inside an allowed prefix, e.g. with /)`;
      return { code: "mcp_path_denied", message: `${name}: ${what}` };
    }
    if (tool.kind === "destructive" && this.config.requireConfirm && args.confirm !== true) {
      return { code: "mcp_confirmation_required", message: `${name} ${tool.effect?.(args) ?? "would change the vault irreversibly"}; call it again with confirm: true to proceed` };
    }
    return null;
  }

  /** List answers keep only items whose path the server may touch (items about no path stay). */
  filter(tool: ToolSpec, result: unknown): unknown {
    if (!tool.filter || !this.pathsRestricted || !result || typeof result !== "object") return result;
    const out = { ...(result as Json) };
    for (const { list, field, named } of tool.filter) {
      const items = out[list];
      if (!Array.isArray(items)) continue;
      const kept = items.filter((item) => typeof (item as Json)?.[field] !== "string" || this.pathAllowed((item as Json)[field] as string));
      out[list] = named ? kept.map((item) => this.withAllowedNames(item as Json, named)) : kept;
    }
    return out;
  }

  /** The item with each `a.b` list of paths cut to the allowed ones (other values untouched). */
  private withAllowedNames(item: Json, named: string[]): Json {
    let out = item;
    for (const dotted of named) {
      const [outer, inner] = dotted.split(".");
      const holder = out?.[outer];
      if (!holder || typeof holder !== "object" || !Array.isArray((holder as Json)[inner])) continue;
      const paths = ((holder as Json)[inner] as unknown[]).filter((p) => typeof p === "string" && this.pathAllowed(p));
      out = { ...out, [outer]: { ...(holder as Json), [inner]: paths } };
    }
    return out;
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
        // Only the generated values: the policy id and time say nothing secret.
        if (out.data !== undefined) Object.assign(out, { data: maskLeaves(out.data), masked: true });
        return out;
      case "issued":
        if (typeof out.private_key === "string") Object.assign(out, { private_key: MASK, masked: true });
        return out;
      case "lease":
        if (out.data !== undefined) Object.assign(out, { data: maskLeaves(out.data), masked: true });
        return out;
    }
  }
}
