/** Tables for people; JSON, YAML or `KEY=value` lines for scripts (`-o json|yaml|table|env`, `--json`). */
import { createRequire } from "node:module";
import { UsageError } from "./args.js";

// Loaded only when YAML is asked for: every CLI start pays for what it imports.
const toYaml = (value: unknown): string => (createRequire(import.meta.url)("yaml") as typeof import("yaml")).stringify(value);

export const FORMATS = ["table", "json", "yaml", "env"] as const;
export type Format = (typeof FORMATS)[number];

export interface Out {
  format: Format;
  /** Kept for command modules written before `-o`: true when the format is not a table. */
  json: boolean;
}

export function outFor(output: string | undefined, json: boolean): Out {
  const format = (output ?? (json ? "json" : "table")) as Format;
  if (!FORMATS.includes(format)) throw new UsageError(`-o must be one of ${FORMATS.join(", ")}`);
  return { format, json: format !== "table" };
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + "\n");
}

/** A value as one shell-safe word: single quotes unless it is plainly safe. */
export function shellQuote(value: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]*$/.test(value) && value !== "" ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/** An environment variable name from a key: upper-cased, anything outside A-Z 0-9 _ becomes `_`. */
export function envName(key: string): string {
  return key.toUpperCase().replace(/[^A-Z0-9_]/g, "_");
}

/** `KEY=value` lines for the top-level fields of an object (nested values as JSON). */
export function printEnv(value: unknown): void {
  const record = value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : { value };
  for (const [key, v] of Object.entries(record)) {
    const text = v === null || v === undefined ? "" : typeof v === "string" ? v : JSON.stringify(v);
    process.stdout.write(`${envName(key)}=${shellQuote(text)}\n`);
  }
}

function cell(value: unknown): string {
  if (value === null || value === undefined) return "-";
  if (Array.isArray(value)) return value.map(cell).join(",");
  if (typeof value === "object") return JSON.stringify(value);
  return String(value).replace(/[\r\n\t]+/g, " ");
}

export function printTable(rows: Record<string, unknown>[], columns: string[]): void {
  if (!rows.length) {
    process.stdout.write("(none)\n");
    return;
  }
  const cells = rows.map((row) => columns.map((c) => cell(row[c])));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i].length)));
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i])).join("  ").trimEnd() + "\n";
  process.stdout.write(line(columns.map((c) => c.toUpperCase())));
  for (const row of cells) process.stdout.write(line(row));
}

/** One object as `key  value` lines. */
export function printObject(value: Record<string, unknown>, keys?: string[]): void {
  const entries = (keys ?? Object.keys(value)).map((k) => ({ field: k, value: value[k] }));
  printTable(entries, ["field", "value"]);
}

/** `value` in the chosen format; `table` draws it for people; `env` prints `envValue` (default `value`). */
export function show(out: Out, value: unknown, table: () => void, envValue: unknown = value): void {
  if (out.format === "json") printJson(value);
  else if (out.format === "yaml") process.stdout.write(toYaml(value));
  else if (out.format === "env") printEnv(envValue);
  else table();
}
