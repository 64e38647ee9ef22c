/**
 * `scaivault export --prefix P --format dotenv|json|yaml` and `scaivault import FILE --prefix P
 * [--dry-run]` (SPEC §11). JSON and YAML hold `{relative_path: data}` (keys sorted), so export →
 * import → export is identical; a `.env` file is one secret at the prefix with a field per key.
 * Import writes only what differs, so running it twice changes nothing the second time.
 */
import { readFileSync } from "node:fs";
import { isDeepStrictEqual } from "node:util";
import { createRequire } from "node:module";
import { ScaiVaultError } from "@scailabs/scaivault";
import { UsageError } from "../args.js";
import type { Ctx } from "../commands/context.js";
import { printTable } from "../output.js";
import type { CommandSpec } from "../registry.js";
import { formatDotenv, parseDotenv } from "./dotenv.js";
import { collect, normalizePrefix, toEnv } from "./secrets-set.js";

const yaml = () => createRequire(import.meta.url)("yaml") as typeof import("yaml");

export const EXPORT_SPEC: CommandSpec = {
  usage: "--prefix P [--format dotenv|json|yaml] [--prefix-names]",
  summary: "Print every secret below a prefix: JSON/YAML {relative_path: data}, or .env lines named as `run` names them.",
  examples: ["scaivault export --prefix app/ --format json > app.json", "scaivault export --prefix app/ --format dotenv > .env", "scaivault export --prefix app/ --format yaml"],
};

export const IMPORT_SPEC: CommandSpec = {
  usage: "<file> --prefix P [--dry-run]",
  summary: "Write secrets from a .env file (one secret at the prefix) or a JSON/YAML export (one per key); unchanged ones are skipped.",
  examples: ["scaivault import app.json --prefix app/ --dry-run", "scaivault import .env --prefix app/web", "scaivault import staging.yaml --prefix staging/"],
};

function sorted(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.keys(value).sort().map((k) => [k, value[k]]));
}

export async function exportCommand(ctx: Ctx): Promise<void> {
  const prefix = ctx.args.flag("prefix");
  if (prefix === undefined) throw new UsageError("--prefix P is required");
  const format = ctx.args.flag("format") ?? "json";
  if (!["dotenv", "json", "yaml"].includes(format)) throw new UsageError("--format must be dotenv, json or yaml");
  if (ctx.args.positionals.length > 1) throw new UsageError(`unexpected "${ctx.args.positionals[1]}"`);
  const entries = await collect(ctx.client(), [], prefix);
  if (format === "dotenv") {
    process.stdout.write(formatDotenv(toEnv(entries, { prefix, prefixNames: ctx.args.bool("prefix-names") })));
    return;
  }
  const base = normalizePrefix(prefix) + "/";
  const tree = sorted(Object.fromEntries(entries.map((e) => [e.path.slice(base.length), e.data])));
  process.stdout.write(format === "json" ? JSON.stringify(tree, null, 2) + "\n" : yaml().stringify(tree));
}

/** What the file asks for: path → data. */
function plan(file: string, prefix: string): Map<string, Record<string, unknown>> {
  let text: string;
  try {
    text = readFileSync(file === "-" ? 0 : file, "utf8");
  } catch {
    throw new UsageError(`cannot read ${file}`);
  }
  const base = normalizePrefix(prefix);
  const structured = /\.(json|ya?ml)$/i.test(file) || /^\s*\{/.test(text);
  if (!structured) return new Map([[base, parseDotenv(text, file)]]);
  let parsed: unknown;
  try {
    parsed = /\.ya?ml$/i.test(file) ? yaml().parse(text) : JSON.parse(text);
  } catch {
    throw new UsageError(`${file} is not valid ${/\.ya?ml$/i.test(file) ? "YAML" : "JSON"}`);
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new UsageError(`${file} must hold an object {relative_path: {field: value}}`);
  const out = new Map<string, Record<string, unknown>>();
  for (const [relative, data] of Object.entries(parsed as Record<string, unknown>)) {
    if (!data || typeof data !== "object" || Array.isArray(data)) throw new UsageError(`${file}: "${relative}" must map to an object of fields`);
    out.set(`${base}/${relative.replace(/^\/+/, "")}`, data as Record<string, unknown>);
  }
  return out;
}

export async function importCommand(ctx: Ctx): Promise<void> {
  const file = ctx.args.positional(1, "file to import");
  const prefix = ctx.args.flag("prefix");
  if (prefix === undefined) throw new UsageError("--prefix P is required");
  const wanted = plan(file, prefix);
  const client = ctx.client();
  const rows: { path: string; action: string; version: unknown }[] = [];
  for (const [path, data] of wanted) {
    let current: { data: Record<string, unknown>; version: number } | null = null;
    try {
      current = await client.secrets.read(path);
    } catch (error) {
      if (!(error instanceof ScaiVaultError && error.code === "secret_not_found")) throw error;
    }
    if (current && isDeepStrictEqual(current.data, data)) {
      rows.push({ path, action: "unchanged", version: current.version });
      continue;
    }
    const action = current ? "update" : "create";
    if (ctx.args.bool("dry-run")) {
      rows.push({ path, action: `would ${action}`, version: current?.version ?? null });
      continue;
    }
    // cas: a concurrent writer between our read and this write is an error, not a lost update.
    const written = await client.secrets.write(path, data, { cas: current?.version ?? 0 });
    rows.push({ path, action, version: written.version });
  }
  if (ctx.out.format === "table") printTable(rows, ["path", "action", "version"]);
  else process.stdout.write(JSON.stringify({ dry_run: ctx.args.bool("dry-run"), secrets: rows }, null, 2) + "\n");
}
