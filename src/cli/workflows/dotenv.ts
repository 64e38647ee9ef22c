/** A small `.env` reader and writer: `KEY=value`, `export KEY=…`, `#` comments, '…' literal and "…" with \n \" \\ escapes. */
import { UsageError } from "../args.js";

export function parseDotenv(text: string, file: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, index) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$/.exec(line);
    if (!match) throw new UsageError(`${file}:${index + 1}: expected KEY=value`);
    const [, key, rest] = match;
    let value: string;
    if (rest.startsWith("'")) {
      const end = rest.indexOf("'", 1);
      if (end < 0) throw new UsageError(`${file}:${index + 1}: unterminated '`);
      value = rest.slice(1, end);
    } else if (rest.startsWith('"')) {
      let i = 1;
      value = "";
      for (; i < rest.length && rest[i] !== '"'; i++) {
        if (rest[i] === "\\" && i + 1 < rest.length) {
          const next = rest[++i];
          value += next === "n" ? "\n" : next === "r" ? "\r" : next === "t" ? "\t" : next;
        } else value += rest[i];
      }
      if (i >= rest.length) throw new UsageError(`${file}:${index + 1}: unterminated "`);
    } else value = rest.replace(/\s+#.*$/, "").trim();
    out[key] = value;
  });
  return out;
}

export function formatDotenv(values: Map<string, string> | Record<string, string>): string {
  const entries = values instanceof Map ? [...values] : Object.entries(values);
  return entries
    .map(([key, value]) => `${key}=${/^[A-Za-z0-9_@%+:,./-]*$/.test(value) ? value : `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n").replace(/\r/g, "\\r")}"`}`)
    .join("\n") + (entries.length ? "\n" : "");
}
