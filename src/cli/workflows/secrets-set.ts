/**
 * Reading a set of secrets (`--path P`… and/or `--prefix P`) and turning them into environment
 * variables as SPEC §11 names them: field F of secret `…/S` is `S_F` (upper-cased, `-` and `.` →
 * `_`), a lone field `value` is `S`, `--prefix-names` uses the whole path below the prefix.
 */
import type { ScaiVaultClient } from "@scailabs/scaivault";
import { UsageError } from "../args.js";

export interface SecretEntry {
  path: string;
  data: Record<string, unknown>;
}

/** `app/` and `app` both mean the secrets below `app/`. */
export function normalizePrefix(prefix: string): string {
  return prefix.replace(/\/+$/, "");
}

/** Every secret path the caller may list below `prefix` (all pages). */
export async function listBelow(client: ScaiVaultClient, prefix: string): Promise<string[]> {
  const base = normalizePrefix(prefix) + "/";
  const paths: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.secrets.list({ prefix: base, limit: 100, cursor });
    paths.push(...page.data.map((s) => s.path).filter((p) => p.startsWith(base)));
    cursor = page.hasMore && page.cursor ? page.cursor : undefined;
  } while (cursor);
  return paths;
}

/** Reads `paths` (100 per batch call); any path that cannot be read is an error naming it. */
export async function readAll(client: ScaiVaultClient, paths: string[]): Promise<SecretEntry[]> {
  const entries: SecretEntry[] = [];
  for (let i = 0; i < paths.length; i += 100) {
    const chunk = paths.slice(i, i + 100);
    const answer = await client.secrets.batchRead(chunk);
    for (const path of chunk) {
      const error = answer.errors?.[path] as { code?: string; message?: string } | undefined;
      if (error) throw new UsageError(`cannot read ${path}: ${error.code ?? "error"}${error.message ? ` (${error.message})` : ""}`);
      const secret = answer.secrets[path] as { data?: Record<string, unknown> } | undefined;
      entries.push({ path, data: secret?.data ?? {} });
    }
  }
  return entries;
}

/** The secrets named by `--path` and `--prefix`, each once, in a stable order. */
export async function collect(client: ScaiVaultClient, paths: string[], prefix: string | undefined): Promise<SecretEntry[]> {
  const all = [...paths];
  if (prefix !== undefined) all.push(...(await listBelow(client, prefix)));
  return readAll(client, [...new Set(all)]);
}

const upper = (text: string) => text.toUpperCase().replace(/[^A-Z0-9_]/g, "_");

/** The variables for `entries`; two sources for one name is an error naming both. */
export function toEnv(entries: SecretEntry[], options: { prefix?: string; prefixNames?: boolean }): Map<string, string> {
  const values = new Map<string, string>();
  const sources = new Map<string, string>();
  const base = options.prefix !== undefined ? normalizePrefix(options.prefix) + "/" : undefined;
  for (const { path, data } of entries) {
    const stem = options.prefixNames && base && path.startsWith(base) ? path.slice(base.length).replace(/\//g, "_") : path.slice(path.lastIndexOf("/") + 1);
    const fields = Object.keys(data);
    for (const field of fields) {
      const name = fields.length === 1 && field === "value" ? upper(stem) : `${upper(stem)}_${upper(field)}`;
      const source = `${path}#${field}`;
      const previous = sources.get(name);
      if (previous) throw new UsageError(`${name} would come from both ${previous} and ${source}; use --prefix-names or fewer secrets`);
      sources.set(name, source);
      const value = data[field];
      values.set(name, typeof value === "string" ? value : JSON.stringify(value));
    }
  }
  return values;
}
