import { validationError, VaultError } from "../http/errors.js";
import { pathProblem } from "../secrets/paths.js";
import { requireDuration } from "../shared/duration.js";

export const NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;
export const DATABASE_PLUGINS = ["postgresql", "mysql", "redis"] as const;
export type DatabasePluginName = (typeof DATABASE_PLUGINS)[number];
/** Named by the docs, not built yet (contract D3: 422). */
const LATER = ["mongodb", "aws", "azure", "gcp", "custom"];
const SCHEMES: Record<DatabasePluginName, string[]> = { postgresql: ["postgresql:", "postgres:"], mysql: ["mysql:"], redis: ["redis:", "rediss:"] };

export interface DatabaseConfig {
  plugin: DatabasePluginName;
  connection_url: string;
  root_credentials_path: string;
  max_open_connections: number;
  connect_timeout: string;
  statement_timeout: string;
  root_rotation_interval?: string;
}

export interface SshConfig {
  key_type: "ed25519" | "ecdsa" | "rsa";
}

export type EngineConfig = DatabaseConfig | SshConfig;

export function requireName(field: string, name: string): string {
  if (!NAME.test(name)) throw validationError({ [field]: "must match ^[a-z0-9][a-z0-9_-]{0,31}$" });
  return name;
}

/** `database`, `ssh`, or the docs' `database.postgresql` form, which names the plugin too. */
export function splitType(type: string, config: Record<string, unknown>): { type: "database" | "ssh"; plugin: string } {
  if (type === "ssh") return { type: "ssh", plugin: "ssh" };
  const [head, named] = type.split(".", 2);
  if (LATER.includes(head)) throw validationError({ type: `${head} engines are not supported yet; use database (postgresql, mysql, redis) or ssh` });
  if (head !== "database") throw validationError({ type: "must be database, database.<plugin> or ssh" });
  const plugin = named ?? (typeof config.plugin === "string" ? config.plugin : "");
  if (named && config.plugin !== undefined && config.plugin !== named) throw validationError({ "config.plugin": `disagrees with type ${type}` });
  if (LATER.includes(plugin)) throw validationError({ "config.plugin": `${plugin} is not supported yet; use postgresql, mysql or redis` });
  if (!(DATABASE_PLUGINS as readonly string[]).includes(plugin)) throw validationError({ "config.plugin": "must be postgresql, mysql or redis" });
  return { type: "database", plugin };
}

export function durationOf(field: string, text: string, atLeast = 1): number {
  const seconds = requireDuration(field, text);
  if (seconds < atLeast) throw new VaultError("invalid_duration", `${field} must be at least ${atLeast}s`, { details: { field } });
  return seconds;
}

/**
 * A target that hangs holds a request, and a place at the engine's gate, for these at most: "24d"
 * was accepted (and past ~24.8 days a timer fires at once). Requests waiting for a place wait at
 * most the connect timeout.
 */
export const MAX_CONNECT_TIMEOUT_S = 60;
export const MAX_STATEMENT_TIMEOUT_S = 300;

/** A database engine's config, complete with defaults; unknown keys are refused. */
export function databaseConfig(plugin: string, raw: Record<string, unknown>): DatabaseConfig {
  const allowed = new Set(["plugin", "connection_url", "root_credentials_path", "max_open_connections", "connect_timeout", "statement_timeout", "root_rotation_interval"]);
  for (const key of Object.keys(raw)) if (!allowed.has(key)) throw validationError({ [`config.${key}`]: "is not a database engine setting" });
  const url = raw.connection_url;
  if (typeof url !== "string" || url.length > 1024) throw validationError({ "config.connection_url": "is required (a URL of at most 1024 characters)" });
  let parsed: URL;
  try {
    parsed = new URL(url.replace(/\{\{\s*(username|password)\s*\}\}/g, "x"));
  } catch {
    throw validationError({ "config.connection_url": "must be a URL such as postgresql://{{username}}:{{password}}@host:5432/db" });
  }
  if (!SCHEMES[plugin as DatabasePluginName].includes(parsed.protocol)) throw validationError({ "config.connection_url": `must start with ${SCHEMES[plugin as DatabasePluginName][0]}//` });
  // Credentials come from the root secret only: a literal password in the URL would sit unencrypted in the engine row.
  if (parsed.password && !/\{\{\s*password\s*\}\}/.test(url)) throw validationError({ "config.connection_url": "must not hold a password; use {{password}} (filled from root_credentials_path)" });
  const path = raw.root_credentials_path;
  if (typeof path !== "string" || pathProblem(path)) throw validationError({ "config.root_credentials_path": "is required: the path of a secret holding {username, password}" });
  const max = raw.max_open_connections ?? 4;
  if (typeof max !== "number" || !Number.isInteger(max) || max < 1 || max > 64) throw validationError({ "config.max_open_connections": "must be an integer from 1 to 64" });
  const config: DatabaseConfig = {
    plugin: plugin as DatabasePluginName,
    connection_url: url,
    root_credentials_path: path,
    max_open_connections: max,
    connect_timeout: typeof raw.connect_timeout === "string" ? raw.connect_timeout : "5s",
    statement_timeout: typeof raw.statement_timeout === "string" ? raw.statement_timeout : "10s",
  };
  if (durationOf("config.connect_timeout", config.connect_timeout) > MAX_CONNECT_TIMEOUT_S) throw validationError({ "config.connect_timeout": `must be at most ${MAX_CONNECT_TIMEOUT_S}s` });
  if (durationOf("config.statement_timeout", config.statement_timeout) > MAX_STATEMENT_TIMEOUT_S) throw validationError({ "config.statement_timeout": `must be at most ${MAX_STATEMENT_TIMEOUT_S}s` });
  if (raw.root_rotation_interval !== undefined && raw.root_rotation_interval !== null) {
    if (typeof raw.root_rotation_interval !== "string") throw validationError({ "config.root_rotation_interval": "must be a duration" });
    durationOf("config.root_rotation_interval", raw.root_rotation_interval);
    config.root_rotation_interval = raw.root_rotation_interval;
  }
  return config;
}

export function sshConfig(raw: Record<string, unknown>): SshConfig {
  for (const key of Object.keys(raw)) if (key !== "key_type") throw validationError({ [`config.${key}`]: "is not an ssh engine setting" });
  const keyType = raw.key_type ?? "ed25519";
  if (keyType !== "ed25519" && keyType !== "ecdsa" && keyType !== "rsa") throw validationError({ "config.key_type": "must be ed25519, ecdsa or rsa" });
  return { key_type: keyType };
}

/** TTL pair checks (contract D3): each at least 1s, default ≤ max. */
export function ttlPair(defaultTtl: string, maxTtl: string, prefix = ""): { defaultSeconds: number; maxSeconds: number } {
  const defaultSeconds = durationOf(`${prefix}default_ttl`, defaultTtl);
  const maxSeconds = durationOf(`${prefix}max_ttl`, maxTtl);
  if (defaultSeconds > maxSeconds) throw validationError({ [`${prefix}default_ttl`]: "may not exceed max_ttl" });
  return { defaultSeconds, maxSeconds };
}
