import { accessSync, constants, readFileSync, statSync } from "node:fs";

/**
 * Configuration is read once at start from the environment (and an optional JSON file named by
 * SCAIVAULT_CONFIG whose keys are the same variable names; the environment wins), validated, and
 * passed down. Nothing else in the server reads process.env.
 */
export interface VaultConfig {
  bindHost: string;
  bindPort: number;
  baseUrl: string | null;
  databaseUrl: string;
  /** PostgreSQL connections per node. */
  databasePoolSize: number;
  redisUrl: string | null;
  scaikey: {
    url: string | null;
    jwksUrl: string | null;
    audience: string | null;
    issuers: string[];
    /** Least seconds between two JWKS refetches caused by unknown `kid`s (0 in tests). */
    jwksCooldownSeconds: number;
  };
  kms: { provider: "local"; localKey: Buffer | null; localKeyFile: string };
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  logFormat: "json" | "pretty";
  bootstrapToken: string | null;
  webhookAllowPrivate: boolean;
  rateLimits: Record<string, number>;
  tls: { certFile: string; keyFile: string } | null;
  auditSync: "normal" | "full";
  /** Development/test assertions in the storage layer that cost throughput (SCAIVAULT_STORAGE_GUARDS). */
  storageGuards: boolean;
  /** Root directory for audit exports with a `file` destination; nothing is written outside it. */
  auditExportDir: string;
  maxSecretBytes: number;
  maxBodyBytes: number;
  /** Availability and hardening (src/ops). */
  ops: {
    /** Mean event-loop delay above which requests are shed with 503. */
    maxEventLoopDelayMs: number;
    /** Heap in use above which requests are shed; null = 90% of the V8 heap limit. */
    maxHeapBytes: number | null;
    maxConcurrentRequests: number;
    /** How long SIGTERM waits for in-flight requests before cutting connections. */
    shutdownTimeoutMs: number;
    /** Time allowed to receive a whole request (slow clients are cut). */
    requestTimeoutMs: number;
    maxHeaderBytes: number;
  };
  events: {
    /** Delay before each retry of a failed delivery, in ms (SPEC §7: 5s, 5m, 30m, 2h, 5h, 10h, 10h). */
    retryScheduleMs: number[];
    webhookTimeoutMs: number;
    /** How often the delivery worker looks for work written by other nodes or left by a crash. */
    pollIntervalMs: number;
    sseHeartbeatMs: number;
  };
  /** Identity domain (spec/identity.md): the ScaiKey directory, sync, webhooks, personal tokens. */
  identity: {
    /** ScaiKey's admin API client (SCAIKEY_CLIENT_ID/SECRET); null = standalone (empty cache). */
    directory: { clientId: string; clientSecret: string } | null;
    webhookSecret: string | null;
    /** Scheduled sync interval; null = off. */
    syncIntervalMs: number | null;
    personalTokenMaxTtlSeconds: number;
  };
  rotation: {
    /** Run the rotation and expiry scheduler on this node (every node may; each moment fires once). */
    schedulerEnabled: boolean;
    /** Longest sleep between scheduler passes; changes made on other nodes are seen within it. */
    pollMs: number;
    /** How often secrets changed by a metadata PATCH are brought in step with their schedules. */
    reconcileMs: number;
  };
}

export class ConfigError extends Error {
  constructor(readonly variable: string, problem: string) {
    super(`${variable}: ${problem}`);
    this.name = "ConfigError";
  }
}

type Env = Record<string, string | undefined>;

function loadFileEnv(env: Env): Env {
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

function oneOf<T extends string>(name: string, value: string | undefined, allowed: readonly T[], fallback: T): T {
  if (value === undefined || value === "") return fallback;
  if (!(allowed as readonly string[]).includes(value)) {
    throw new ConfigError(name, `must be one of ${allowed.join(", ")} (got "${value}")`);
  }
  return value as T;
}

function bool(name: string, value: string | undefined): boolean {
  if (value === undefined || value === "") return false;
  if (["true", "1", "yes"].includes(value.toLowerCase())) return true;
  if (["false", "0", "no"].includes(value.toLowerCase())) return false;
  throw new ConfigError(name, `must be true or false (got "${value}")`);
}

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value === "") return fallback;
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed <= 0) throw new ConfigError(name, `must be a positive integer (got "${value}")`);
  return parsed;
}

function url(name: string, value: string | undefined, protocols: readonly string[] = ["http:", "https:"]): string | null {
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

function parseBind(value: string | undefined): { host: string; port: number } {
  const text = value && value !== "" ? value : "127.0.0.1:8443";
  const match = /^(\[[0-9a-fA-F:]+\]|[^:]+):(\d{1,5})$/.exec(text);
  const port = match ? Number(match[2]) : NaN;
  if (!match || port > 65535) throw new ConfigError("BIND_ADDRESS", `must be host:port (got "${text}")`);
  return { host: match[1].replace(/^\[|\]$/g, ""), port };
}

function parseDatabaseUrl(value: string | undefined): string {
  const text = value && value !== "" ? value : "sqlite:./data/scaivault.db";
  if (/^sqlite:.+/.test(text) || /^postgres(ql)?:\/\/.+/.test(text)) return text;
  throw new ConfigError("DATABASE_URL", `must start with sqlite:, postgres:// or postgresql:// (got "${text.split("@").pop()}")`);
}

function parseLocalKey(value: string | undefined): Buffer | null {
  if (value === undefined || value === "") return null;
  const key = Buffer.from(value, "base64");
  if (key.length !== 32 || key.toString("base64") !== value.replace(/\s/g, "")) {
    throw new ConfigError("KMS_LOCAL_KEY", "must be 32 bytes encoded as base64");
  }
  return key;
}

const MS_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `250ms`, `5s`, `1h30m` → milliseconds (config only: tests need sub-second delays). */
function durationMs(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value === "") return fallback;
  const text = value.trim();
  if (!/^(?:\d+(?:ms|s|m|h|d))+$/.test(text)) throw new ConfigError(name, `must be a duration such as 500ms, 5s, 5m or 2h (got "${value}")`);
  let total = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+)(ms|s|m|h|d)/g)) total += Number(amount) * MS_UNITS[unit];
  return total;
}

function durationListMs(name: string, value: string | undefined, fallback: number[]): number[] {
  if (value === undefined || value === "") return fallback;
  return value.split(",").map((part) => durationMs(name, part, 0));
}

/** Checked here so that a missing file stops the start naming its variable, not deep in TLS setup. */
function readableFile(name: string, file: string): void {
  try {
    accessSync(file, constants.R_OK);
    if (!statSync(file).isFile()) throw new Error("not a file");
  } catch {
    throw new ConfigError(name, `cannot read the file "${file}"`);
  }
}

const RATE_PREFIX = "RATE_LIMIT_";

// identity domain
function identityConfig(env: Env): VaultConfig["identity"] {
  const clientId = env.SCAIKEY_CLIENT_ID || null;
  const clientSecret = env.SCAIKEY_CLIENT_SECRET || null;
  if (Boolean(clientId) !== Boolean(clientSecret)) throw new ConfigError(clientId ? "SCAIKEY_CLIENT_SECRET" : "SCAIKEY_CLIENT_ID", "SCAIKEY_CLIENT_ID and SCAIKEY_CLIENT_SECRET must be set together");
  if (clientId && !env.SCAIKEY_URL) throw new ConfigError("SCAIKEY_URL", "is needed with SCAIKEY_CLIENT_ID (the directory to sync from)");
  const interval = env.SCAIVAULT_IDENTITY_SYNC_INTERVAL;
  const maxTtl = env.SCAIVAULT_PERSONAL_TOKEN_MAX_TTL;
  const ttlMs = durationMs("SCAIVAULT_PERSONAL_TOKEN_MAX_TTL", maxTtl, 365 * 86_400_000);
  return {
    directory: clientId && clientSecret ? { clientId, clientSecret } : null,
    webhookSecret: env.SCAIKEY_WEBHOOK_SECRET || null,
    syncIntervalMs: interval?.trim().toLowerCase() === "off" ? null : durationMs("SCAIVAULT_IDENTITY_SYNC_INTERVAL", interval, 15 * 60_000) || 15 * 60_000,
    personalTokenMaxTtlSeconds: Math.max(1, Math.floor(ttlMs / 1000)),
  };
}

export function loadConfig(processEnv: Env = process.env): VaultConfig {
  const env: Env = { ...loadFileEnv(processEnv), ...processEnv };
  const bind = parseBind(env.BIND_ADDRESS);
  const certFile = env.TLS_CERT_FILE || undefined;
  const keyFile = env.TLS_KEY_FILE || undefined;
  if (Boolean(certFile) !== Boolean(keyFile)) {
    throw new ConfigError(certFile ? "TLS_KEY_FILE" : "TLS_CERT_FILE", "TLS_CERT_FILE and TLS_KEY_FILE must be set together");
  }
  if (certFile) readableFile("TLS_CERT_FILE", certFile);
  if (keyFile) readableFile("TLS_KEY_FILE", keyFile);
  const bootstrapToken = env.SCAIVAULT_BOOTSTRAP_TOKEN || null;
  if (bootstrapToken !== null && !/^skt_[A-Za-z0-9_-]{32,200}$/.test(bootstrapToken)) {
    throw new ConfigError("SCAIVAULT_BOOTSTRAP_TOKEN", "must look like skt_ followed by at least 32 letters, digits, - or _");
  }
  const rateLimits: Record<string, number> = {};
  for (const [name, value] of Object.entries(env)) {
    if (name.startsWith(RATE_PREFIX) && value !== undefined && value !== "") rateLimits[name.slice(RATE_PREFIX.length).toLowerCase()] = positiveInt(name, value, 1);
  }
  const issuers = (env.SCAIKEY_ISSUERS ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  const cooldown = env.SCAIKEY_JWKS_COOLDOWN_SECONDS;
  if (cooldown !== undefined && cooldown !== "" && !/^\d{1,5}$/.test(cooldown)) {
    throw new ConfigError("SCAIKEY_JWKS_COOLDOWN_SECONDS", `must be a whole number of seconds (got "${cooldown}")`);
  }
  return {
    bindHost: bind.host,
    bindPort: bind.port,
    baseUrl: url("BASE_URL", env.BASE_URL),
    databaseUrl: parseDatabaseUrl(env.DATABASE_URL),
    databasePoolSize: positiveInt("DATABASE_POOL_SIZE", env.DATABASE_POOL_SIZE, 10),
    redisUrl: url("REDIS_URL", env.REDIS_URL, ["redis:", "rediss:"]),
    scaikey: {
      url: url("SCAIKEY_URL", env.SCAIKEY_URL),
      jwksUrl: url("SCAIKEY_JWKS_URL", env.SCAIKEY_JWKS_URL),
      audience: env.SCAIKEY_AUDIENCE || null,
      issuers,
      jwksCooldownSeconds: cooldown ? Number(cooldown) : 10,
    },
    kms: {
      provider: oneOf("KMS_PROVIDER", env.KMS_PROVIDER, ["local"] as const, "local"),
      localKey: parseLocalKey(env.KMS_LOCAL_KEY),
      localKeyFile: env.KMS_LOCAL_KEY_FILE || "./data/root.key",
    },
    logLevel: oneOf("LOG_LEVEL", env.LOG_LEVEL?.toLowerCase(), ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const, "info"),
    // The docs name `text`; `pretty` is the README's word for the same human format.
    logFormat: oneOf("LOG_FORMAT", env.LOG_FORMAT?.toLowerCase(), ["json", "pretty", "text"] as const, "json") === "json" ? "json" : "pretty",
    bootstrapToken,
    webhookAllowPrivate: bool("SCAIVAULT_WEBHOOK_ALLOW_PRIVATE", env.SCAIVAULT_WEBHOOK_ALLOW_PRIVATE),
    rateLimits,
    tls: certFile && keyFile ? { certFile, keyFile } : null,
    auditSync: oneOf("SCAIVAULT_AUDIT_SYNC", env.SCAIVAULT_AUDIT_SYNC?.toLowerCase(), ["normal", "full"] as const, "normal"),
    storageGuards: bool("SCAIVAULT_STORAGE_GUARDS", env.SCAIVAULT_STORAGE_GUARDS),
    auditExportDir: env.SCAIVAULT_AUDIT_EXPORT_DIR || "./data/exports",
    maxSecretBytes: positiveInt("SCAIVAULT_MAX_SECRET_BYTES", env.SCAIVAULT_MAX_SECRET_BYTES, 64 * 1024),
    maxBodyBytes: positiveInt("SCAIVAULT_MAX_BODY_BYTES", env.SCAIVAULT_MAX_BODY_BYTES, 1024 * 1024),
    ops: {
      maxEventLoopDelayMs: durationMs("SCAIVAULT_MAX_EVENT_LOOP_DELAY", env.SCAIVAULT_MAX_EVENT_LOOP_DELAY, 200) || 200,
      maxHeapBytes: env.SCAIVAULT_MAX_HEAP_MB ? positiveInt("SCAIVAULT_MAX_HEAP_MB", env.SCAIVAULT_MAX_HEAP_MB, 1) * 1024 * 1024 : null,
      maxConcurrentRequests: positiveInt("SCAIVAULT_MAX_CONCURRENT_REQUESTS", env.SCAIVAULT_MAX_CONCURRENT_REQUESTS, 1024),
      shutdownTimeoutMs: durationMs("SCAIVAULT_SHUTDOWN_TIMEOUT", env.SCAIVAULT_SHUTDOWN_TIMEOUT, 25_000) || 25_000,
      requestTimeoutMs: durationMs("SCAIVAULT_REQUEST_TIMEOUT", env.SCAIVAULT_REQUEST_TIMEOUT, 30_000) || 30_000,
      maxHeaderBytes: positiveInt("SCAIVAULT_MAX_HEADER_BYTES", env.SCAIVAULT_MAX_HEADER_BYTES, 16 * 1024),
    },
    events: {
      retryScheduleMs: durationListMs("SCAIVAULT_WEBHOOK_RETRY_SCHEDULE", env.SCAIVAULT_WEBHOOK_RETRY_SCHEDULE, [5e3, 3e5, 18e5, 72e5, 18e6, 36e6, 36e6]),
      webhookTimeoutMs: durationMs("SCAIVAULT_WEBHOOK_TIMEOUT", env.SCAIVAULT_WEBHOOK_TIMEOUT, 10_000) || 10_000,
      pollIntervalMs: durationMs("SCAIVAULT_EVENTS_POLL_INTERVAL", env.SCAIVAULT_EVENTS_POLL_INTERVAL, 1000) || 1000,
      sseHeartbeatMs: durationMs("SCAIVAULT_SSE_HEARTBEAT", env.SCAIVAULT_SSE_HEARTBEAT, 15_000) || 15_000,
    },
    identity: identityConfig(env),
    rotation: {
      schedulerEnabled: env.SCAIVAULT_SCHEDULER === undefined || env.SCAIVAULT_SCHEDULER === "" ? true : bool("SCAIVAULT_SCHEDULER", env.SCAIVAULT_SCHEDULER),
      pollMs: durationMs("SCAIVAULT_SCHEDULER_POLL", env.SCAIVAULT_SCHEDULER_POLL, 1000) || 1000,
      reconcileMs: durationMs("SCAIVAULT_SCHEDULER_RECONCILE", env.SCAIVAULT_SCHEDULER_RECONCILE, 5000) || 5000,
    },
  };
}
