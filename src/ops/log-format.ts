import { Writable } from "node:stream";

const LEVELS: Record<number, string> = { 10: "TRACE", 20: "DEBUG", 30: "INFO", 40: "WARN", 50: "ERROR", 60: "FATAL" };
const SKIP = new Set(["level", "time", "pid", "hostname", "msg", "v"]);

function flat(value: unknown): string {
  if (typeof value === "string") return /\s/.test(value) ? JSON.stringify(value) : value;
  return JSON.stringify(value);
}

/** One pino JSON line → `12:00:00.123 INFO  message key=value …` (LOG_FORMAT=pretty). */
export function prettyLine(line: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line);
  } catch {
    return line;
  }
  const time = typeof record.time === "number" ? new Date(record.time).toISOString().slice(11, 23) : "";
  const level = (LEVELS[record.level as number] ?? String(record.level)).padEnd(5);
  const fields = Object.entries(record)
    .filter(([key]) => !SKIP.has(key))
    .map(([key, value]) => `${key}=${flat(value)}`)
    .join(" ");
  return `${time} ${level} ${record.msg ?? ""}${fields ? ` ${fields}` : ""}`;
}

/**
 * A human-readable log stream without a pretty-printer dependency: pino still produces (and
 * redacts) the JSON; this only re-renders each finished line.
 */
export function prettyStream(target: NodeJS.WritableStream): Writable {
  let pending = "";
  return new Writable({
    write(chunk, _encoding, callback) {
      pending += chunk.toString();
      let newline = pending.indexOf("\n");
      while (newline !== -1) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        if (line.trim()) target.write(prettyLine(line) + "\n");
        newline = pending.indexOf("\n");
      }
      callback();
    },
  });
}
