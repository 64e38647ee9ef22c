import type { SqlParam } from "./contract.js";

/**
 * How statements and their values become PostgreSQL text: `?` placeholders numbered for bound
 * parameters, and values as literals for the statements that travel inside a simple-query message
 * (a transaction's first statement with BEGIN, reads sent along with it, deferred writes sent
 * ahead of the next statement, the statements sent with COMMIT).
 */

const placeholderCache = new Map<string, string>();

/** `?` → `$1…$n`. Our SQL never puts a `?` inside a literal, so a plain scan is exact. */
export function numbered(sql: string): string {
  let converted = placeholderCache.get(sql);
  if (converted === undefined) {
    let n = 0;
    converted = sql.replace(/\?/g, () => `$${++n}`);
    if (placeholderCache.size > 2000) placeholderCache.clear();
    placeholderCache.set(sql, converted);
  }
  return converted;
}

export function values(params: readonly SqlParam[]): unknown[] {
  return params.map((p) => (typeof p === "boolean" ? (p ? 1 : 0) : typeof p === "bigint" ? p.toString() : p));
}

/**
 * Binary values up to this size travel inline as hex (a secret version's ciphertext, so that its
 * write can share a message with the next statement); larger ones stay bound parameters, where
 * they cost no hex text twice their size.
 */
export const INLINE_BINARY_MAX_BYTES = 64 * 1024;

/** A value as an SQL literal for the simple-query protocol; null when it cannot be one (NUL, non-finite, binary over the limit). */
export function literal(value: SqlParam): string | null {
  if (value === null) return "NULL";
  if (typeof value === "boolean") return value ? "1" : "0";
  // Negative numbers in parentheses: `-?` must never become a `--` comment.
  if (typeof value === "bigint") return value < 0n ? `(${value.toString()})` : value.toString();
  if (typeof value === "number") return Number.isFinite(value) ? (value < 0 ? `(${String(value)})` : String(value)) : null;
  // A NUL would end the protocol's query string early.
  if (typeof value === "string") return value.includes("\0") ? null : stringLiteral(value);
  // bytea's hex input form; E'' so that the backslash means the same whatever standard_conforming_strings says.
  if (Buffer.isBuffer(value)) return value.length <= INLINE_BINARY_MAX_BYTES ? `E'\\\\x${value.toString("hex")}'` : null;
  return null;
}

/**
 * `pg.escapeLiteral`'s text (quotes and backslashes doubled, ` E` before a literal with a backslash,
 * so it reads the same whatever standard_conforming_strings says), built without its loop of
 * one-character concatenations: a PUT inlines its audit entry, event and metadata as literals, and
 * that loop and the flattening of its result were ~9 % of a PostgreSQL PUT's instructions
 * (docs/benchmarks.md, round 19).
 */
export function stringLiteral(text: string): string {
  const backslash = text.includes("\\");
  if (!backslash && !text.includes("'")) return `'${text}'`;
  const quoted = `'${text.replace(/['\\]/g, (c) => c + c)}'`;
  return backslash ? ` E${quoted}` : quoted;
}

/**
 * A value as an untyped quoted literal (`'42'`, `'abc'`), which PostgreSQL types from its context
 * exactly as it types a bound parameter, so any statement reads the same inlined as bound (a bare
 * `42` is an integer and would not compare with a TEXT column). Null as `literal`.
 */
export function parameterLike(value: SqlParam): string | null {
  if (value === null) return "NULL";
  if (typeof value === "boolean") return value ? "'1'" : "'0'";
  if (typeof value === "bigint") return `'${value.toString()}'`;
  if (typeof value === "number") return Number.isFinite(value) ? `'${String(value)}'` : null;
  return literal(value);
}

/** Each value as a literal, or null when one cannot be inlined. */
export function literalsOf(params: readonly SqlParam[], as: (value: SqlParam) => string | null): string[] | null {
  const literals: string[] = [];
  for (const param of params) {
    const text = as(param);
    if (text === null) return null;
    literals.push(text);
  }
  return literals;
}

/** `?` placeholders replaced by literals, or null when a value cannot be inlined. */
export function inlined(sql: string, params: readonly SqlParam[], as: (value: SqlParam) => string | null = literal): string | null {
  const literals = literalsOf(params, as);
  if (literals === null) return null;
  let n = 0;
  const text = sql.replace(/\?/g, () => literals[n++]);
  return n === literals.length ? text : null;
}
