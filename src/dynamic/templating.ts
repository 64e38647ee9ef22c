import { VaultError } from "../http/errors.js";

export type Dialect = "postgresql" | "mysql";

export interface TemplateValues {
  name: string;
  password?: string;
  expiration?: string;
}

const PLACEHOLDER = /\{\{\s*([a-z_]+)\s*\}\}/y;
const KNOWN = new Set(["name", "username", "password", "expiration"]);

function templateError(message: string): VaultError {
  return new VaultError("invalid_config", message, { details: { reason: "template" } });
}

/** A value as the contents of a quoted run: the quote character doubled (and, in MySQL literals, backslashes too). */
function escapeInside(value: string, quote: string, dialect: Dialect): string {
  let out = value.split(quote).join(quote + quote);
  if (dialect === "mysql" && quote === "'") out = out.replace(/\\/g, "\\\\");
  return out;
}

/** A value outside any quotes: identifiers (names) quoted as identifiers, everything else as a literal. */
function quoteBare(key: string, value: string, dialect: Dialect): string {
  if (key === "name") {
    const q = dialect === "mysql" ? "`" : '"';
    return q + escapeInside(value, q, dialect) + q;
  }
  return `'${escapeInside(value, "'", dialect)}'`;
}

/**
 * Fills a SQL statement template. Templates are treated as untrusted text: the scanner tracks
 * quoting (single, double, backtick, and `--`/block comments) so that each value is escaped for
 * the exact context it lands in — inside '…' as literal text, inside "…"/`…` as identifier text,
 * bare as a fully quoted identifier (names) or literal (password, expiration). No value can end
 * the quote it sits in, so no value can add SQL. Unknown placeholders are refused.
 */
export function renderSql(template: string, values: TemplateValues, dialect: Dialect): string {
  const map: Record<string, string | undefined> = { name: values.name, username: values.name, password: values.password, expiration: values.expiration };
  let out = "";
  let quote: string | null = null;
  for (let i = 0; i < template.length; ) {
    PLACEHOLDER.lastIndex = i;
    const match = PLACEHOLDER.exec(template);
    if (match) {
      const key = match[1];
      if (!KNOWN.has(key)) throw templateError(`Unknown placeholder {{${key}}}; use {{name}}, {{username}}, {{password}} or {{expiration}}`);
      const value = map[key];
      if (value === undefined) throw templateError(`{{${key}}} is not available in this statement`);
      const kind = key === "username" ? "name" : key;
      out += quote ? escapeInside(value, quote, dialect) : quoteBare(kind, value, dialect);
      i += match[0].length;
      continue;
    }
    const ch = template[i];
    if (quote) {
      // A doubled quote stays inside the run; MySQL also lets a backslash escape the next character.
      if (dialect === "mysql" && quote === "'" && ch === "\\") {
        out += template.slice(i, i + 2);
        i += 2;
        continue;
      }
      if (ch === quote) {
        if (template[i + 1] === quote) {
          out += ch + ch;
          i += 2;
          continue;
        }
        quote = null;
      }
      out += ch;
      i++;
      continue;
    }
    if (ch === "'" && dialect === "postgresql" && /(^|[^A-Za-z0-9_])[eE]$/.test(out)) throw templateError("E'' strings are not allowed in statements");
    if (ch === "'" || ch === '"' || (dialect === "mysql" && ch === "`")) quote = ch;
    else if (ch === "-" && template[i + 1] === "-") throw templateError("Comments are not allowed in statements");
    else if (ch === "/" && template[i + 1] === "*") throw templateError("Comments are not allowed in statements");
    else if (ch === "#" && dialect === "mysql") throw templateError("Comments are not allowed in statements");
    else if (dialect === "postgresql" && ch === "$" && /^\$[A-Za-z_]*\$/.test(template.slice(i))) throw templateError("Dollar quoting is not allowed in statements");
    out += ch;
    i++;
  }
  if (quote) throw templateError("A quoted run in a statement is not closed");
  return out;
}

/** Splits one template entry on `;` outside quotes (the contract: one entry may hold several statements). */
export function splitStatements(sql: string, dialect: Dialect): string[] {
  const parts: string[] = [];
  let current = "";
  let quote: string | null = null;
  for (let i = 0; i < sql.length; i++) {
    const ch = sql[i];
    if (quote) {
      if (dialect === "mysql" && quote === "'" && ch === "\\") {
        current += sql.slice(i, i + 2);
        i++;
        continue;
      }
      if (ch === quote) {
        if (sql[i + 1] === quote) {
          current += ch + ch;
          i++;
          continue;
        }
        quote = null;
      }
      current += ch;
      continue;
    }
    if (ch === "'" || ch === '"' || (dialect === "mysql" && ch === "`")) quote = ch;
    if (ch === ";") {
      if (current.trim()) parts.push(current.trim());
      current = "";
      continue;
    }
    current += ch;
  }
  if (current.trim()) parts.push(current.trim());
  return parts;
}

/** Renders every template entry and splits it into single statements. */
export function renderAll(templates: readonly string[], values: TemplateValues, dialect: Dialect): string[] {
  return templates.flatMap((t) => splitStatements(renderSql(t, values, dialect), dialect));
}

/** Checks templates at role creation: placeholders known and quoting balanced (with sample values). */
export function checkTemplates(templates: readonly string[], dialect: Dialect): void {
  renderAll(templates, { name: "v_check_0000000000", password: "Aa0".repeat(10) + "aa", expiration: "2026-01-01 00:00:00+00" }, dialect);
}

/** `2026-04-23 15:00:00+00`, UTC, as the contract shows {{expiration}}. */
export function expirationText(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19).replace("T", " ")}+00`;
}
