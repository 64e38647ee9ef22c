import { accessSync, constants, readFileSync, statSync } from "node:fs";

/** The value parsers of the configuration (src/config/config.ts): each names its variable when it refuses a value. */
export class ConfigError extends Error {
  constructor(readonly variable: string, problem: string) {
    super(`${variable}: ${problem}`);
    this.name = "ConfigError";
  }
}

export type Env = Record<string, string | undefined>;

export function loadFileEnv(env: Env): Env {
  const file = env.SCAIVAULT_CONFIG;
  if (!file) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new ConfigError("SCAIVAULT_CONFIG", `cannot read ${file} as JSON (${(error as Error).message})`);
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new ConfigError("SCAIVAULT_CONFIG", "the file must hold a JSON object of variable names to values");
  }
  return Object.fromEntries(Object.entries(parsed).map(([key, value]) => [key, String(value)]));
}

export function oneOf<T extends string>(name: string, value: string | undefined, allowed: readonly T[], fallback: T): T {
  if (value === undefined || value === "") return fallback;
  if (!(allowed as readonly string[]).includes(value)) {
    throw new ConfigError(name, `must be one of ${allowed.join(", ")} (got "${value}")`);
  }
  return value as T;
}

/** `fallback` when unset or empty; otherwise true/1/yes or false/0/no, anything else refused. */
export function bool(name: string, value: string | undefined, fallback = false): boolean {
  if (value === undefined || value === "") return fallback;
  if (["true", "1", "yes"].includes(value.toLowerCase())) return true;
  if (["false", "0", "no"].includes(value.toLowerCase())) return false;
  throw new ConfigError(name, `must be true or false (got "${value}")`);
}

export function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value === "") return fallback;
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed <= 0) throw new ConfigError(name, `must be a positive integer (got "${value}")`);
  return parsed;
}

/** A whole number, zero allowed (e.g. a minimum that tests lower to 0). */
export function wholeNumber(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value === "") return fallback;
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < 0) throw new ConfigError(name, `must be a whole number (got "${value}")`);
  return parsed;
}

export function url(name: string, value: string | undefined, protocols: readonly string[] = ["http:", "https:"]): string | null {
  if (value === undefined || value === "") return null;
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new ConfigError(name, "must be an absolute URL");
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(name, `must be a ${protocols.map((p) => `${p}//`).join(" or ")} URL (got "${parsed.protocol}//…")`);
  }
  return value;
}

export function parseBind(value: string | undefined, variable = "BIND_ADDRESS"): { host: string; port: number } {
  const text = value && value !== "" ? value : "127.0.0.1:8443";
  const match = /^(\[[0-9a-fA-F:]+\]|[^:]+):(\d{1,5})$/.exec(text);
  const port = match ? Number(match[2]) : NaN;
  if (!match || port > 65535) throw new ConfigError(variable, `must be host:port (got "${text}")`);
  return { host: match[1].replace(/^\[|\]$/g, ""), port };
}

export function parseDatabaseUrl(value: string | undefined): string {
  const text = value && value !== "" ? value : "sqlite:./data/scaivault.db";
  if (/^sqlite:.+/.test(text) || /^postgres(ql)?:\/\/.+/.test(text)) return text;
  throw new ConfigError("DATABASE_URL", `must start with sqlite:, postgres:// or postgresql:// (got "${text.split("@").pop()}")`);
}

export function parseLocalKey(value: string | undefined): Buffer | null {
  if (value === undefined || value === "") return null;
  const key = Buffer.from(value, "base64");
  if (key.length !== 32 || key.toString("base64") !== value.replace(/\s/g, "")) {
    throw new ConfigError("KMS_LOCAL_KEY", "must be 32 bytes encoded as base64");
  }
  return key;
}

const MS_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `250ms`, `5s`, `1h30m` → milliseconds (config only: tests need sub-second delays). */
export function durationMs(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value === "") return fallback;
  const text = value.trim();
  if (!/^(?:\d+(?:ms|s|m|h|d))+$/.test(text)) throw new ConfigError(name, `must be a duration such as 500ms, 5s, 5m or 2h (got "${value}")`);
  let total = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+)(ms|s|m|h|d)/g)) total += Number(amount) * MS_UNITS[unit];
  return total;
}

/** A duration, or `off` (null): a zero or empty one takes the fallback, as every duration setting does. */
export function offOrDurationMs(name: string, value: string | undefined, fallback: number): number | null {
  if (value?.trim().toLowerCase() === "off") return null;
  return durationMs(name, value, fallback) || fallback;
}

export function durationListMs(name: string, value: string | undefined, fallback: number[]): number[] {
  if (value === undefined || value === "") return fallback;
  return value.split(",").map((part) => durationMs(name, part, 0));
}

/** Checked here so that a missing file stops the start naming its variable, not deep in TLS setup. */
export function readableFile(name: string, file: string): void {
  try {
    accessSync(file, constants.R_OK);
    if (!statSync(file).isFile()) throw new Error("not a file");
  } catch {
    throw new ConfigError(name, `cannot read the file "${file}"`);
  }
}
