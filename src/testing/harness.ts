import { Writable } from "node:stream";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll } from "vitest";
import { buildVault, type BuildOptions, type Vault } from "../app.js";
import { loadConfig } from "../config/config.js";
import { DEFAULT_RATE_LIMITS } from "../ops/categories.js";
import { scratchDatabase, type BackendName, type ScratchDatabase } from "./backends.js";

export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface RequestOptions {
  token?: string | null;
  headers?: Record<string, string>;
  /** Sent as is (a string) instead of JSON-encoding `body`. */
  raw?: string | Buffer;
  body?: unknown;
}

export class ApiClient {
  constructor(readonly baseUrl: string, readonly token: string | null) {}

  withToken(token: string | null): ApiClient {
    return new ApiClient(this.baseUrl, token);
  }

  async request<T = any>(method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...options.headers };
    const token = options.token === undefined ? this.token : options.token;
    if (token) headers.authorization = `Bearer ${token}`;
    let body: string | Buffer | undefined;
    if (options.raw !== undefined) body = options.raw;
    else if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers["content-type"] ??= "application/json";
    }
    const response = await fetch(`${this.baseUrl}${path}`, { method, headers, body: body as BodyInit | undefined });
    const text = await response.text();
    let parsed: unknown = undefined;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: response.status, headers: response.headers, body: parsed as T, text };
  }

  get<T = any>(path: string, options?: RequestOptions) {
    return this.request<T>("GET", path, options);
  }
  put<T = any>(path: string, body?: unknown, options?: RequestOptions) {
    return this.request<T>("PUT", path, { ...options, body });
  }
  post<T = any>(path: string, body?: unknown, options?: RequestOptions) {
    return this.request<T>("POST", path, { ...options, body });
  }
  patch<T = any>(path: string, body?: unknown, options?: RequestOptions) {
    return this.request<T>("PATCH", path, { ...options, body });
  }
  delete<T = any>(path: string, options?: RequestOptions) {
    return this.request<T>("DELETE", path, options);
  }
}

export interface TestVault {
  backend: BackendName;
  vault: Vault;
  baseUrl: string;
  adminToken: string;
  /** A client authenticated as the bootstrap admin. */
  admin: ApiClient;
  anonymous: ApiClient;
  database: ScratchDatabase;
  /** Every log line the server wrote. */
  logs: string[];
  close(): Promise<void>;
}

export interface StartOptions extends BuildOptions {
  env?: Record<string, string>;
  /** Runs between building and listening: tests that need a route of their own register it here. */
  beforeListen?: (vault: Vault) => void;
}

const UNLIMITED_FOR_TESTS = Object.fromEntries(Object.keys(DEFAULT_RATE_LIMITS).map((category) => [`RATE_LIMIT_${category.toUpperCase()}`, "1000000"]));

/** Starts a real vault over HTTP on a random port with a fresh database. */
export async function startVault(backend: BackendName, options: StartOptions = {}): Promise<TestVault> {
  const database = await scratchDatabase(backend);
  try {
    return await startOn(database, backend, options);
  } catch (error) {
    // A vault that refuses to start (some tests start one with a wrong key on purpose) leaves no database behind.
    await database.drop();
    throw error;
  }
}

async function startOn(database: ScratchDatabase, backend: BackendName, options: StartOptions): Promise<TestVault> {
  const adminToken = `skt_${randomBytes(32).toString("base64url")}`;
  const logs: string[] = [];
  const logStream = new Writable({
    write(chunk, _encoding, callback) {
      logs.push(chunk.toString());
      callback();
    },
  });
  const config = loadConfig({
    BIND_ADDRESS: "127.0.0.1:0",
    DATABASE_URL: database.url,
    KMS_LOCAL_KEY: randomBytes(32).toString("base64"),
    SCAIVAULT_BOOTSTRAP_TOKEN: adminToken,
    LOG_LEVEL: "info",
    DATABASE_POOL_SIZE: "4",
    SCAIVAULT_WEBHOOK_ALLOW_PRIVATE: "true",
    // Every suite runs with the storage layer's misuse assertions on.
    SCAIVAULT_STORAGE_GUARDS: "true",
    // Suites make far more calls per minute than the documented limits; the rate-limit suites set their own.
    ...UNLIMITED_FOR_TESTS,
    // Two shared cores: CPU contention between suites must not shed their requests (the overload suite sets its own).
    SCAIVAULT_MAX_EVENT_LOOP_DELAY: "60s",
    // Suites read a gauge right after the change it counts; the interval's own suite sets one.
    SCAIVAULT_METRICS_STORAGE_INTERVAL: "0s",
    ...options.env,
  });
  const vault = await buildVault(config, { ...options, logStream });
  options.beforeListen?.(vault);
  const address = await vault.app.listen({ host: "127.0.0.1", port: 0 });
  const baseUrl = address.replace("localhost", "127.0.0.1");
  return {
    backend,
    vault,
    baseUrl,
    adminToken,
    admin: new ApiClient(baseUrl, adminToken),
    anonymous: new ApiClient(baseUrl, null),
    database,
    logs,
    async close() {
      try {
        await vault.close();
      } finally {
        await database.drop();
      }
    },
  };
}

/** One vault for the enclosing describe block, started before its tests and closed after. */
export function useVault(backend: BackendName, options: StartOptions = {}): () => TestVault {
  let current: TestVault | undefined;
  beforeAll(async () => {
    current = await startVault(backend, options);
  });
  afterAll(async () => {
    await current?.close();
  });
  return () => {
    if (!current) throw new Error("the vault is not started yet");
    return current;
  };
}

/**
 * A second node of `first`'s vault (same config and database) for the enclosing describe block,
 * as the admin (`.vault()`: the node itself): for tests that a change made through one node is seen by the other.
 */
export function useSecondNode(first: () => TestVault): (() => ApiClient) & { vault(): Vault } {
  let node: Vault | undefined;
  let client: ApiClient | undefined;
  beforeAll(async () => {
    node = await buildVault(first().vault.config, { logStream: new Writable({ write: (_chunk, _encoding, done) => done() }) });
    const address = await node.app.listen({ host: "127.0.0.1", port: 0 });
    client = new ApiClient(address.replace("localhost", "127.0.0.1"), first().adminToken);
  });
  afterAll(async () => {
    await node?.close();
  });
  const started = <T>(value: T | undefined): T => {
    if (!value) throw new Error("the second node is not started yet");
    return value;
  };
  return Object.assign(() => started(client), { vault: () => started(node) });
}
