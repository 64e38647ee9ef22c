import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import autocannon from "autocannon";

export const ROOT = new URL("..", import.meta.url).pathname;

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

export interface Child {
  process: ChildProcess;
  port: number;
  baseUrl: string;
  stop(): Promise<void>;
  rssMb(): number;
}

async function waitFor(url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const response = await fetch(url);
      if (response.ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not come up`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function stopper(child: ChildProcess): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once("exit", () => resolve());
      child.kill("SIGTERM");
      setTimeout(() => child.kill("SIGKILL"), 10_000).unref();
    });
}

export async function startBaseline(): Promise<Child> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(ROOT, "bench/baseline-server.mjs")], { env: { ...process.env, PORT: String(port) }, stdio: "ignore" });
  const baseUrl = `http://127.0.0.1:${port}`;
  await waitFor(`${baseUrl}/`);
  return { process: child, port, baseUrl, stop: stopper(child), rssMb: () => 0 };
}

export interface VaultChild extends Child {
  adminToken: string;
  /** The SQLite file (when DATABASE_URL was not overridden). */
  databaseFile: string;
}

/** The built server (dist/main.js) as a separate process, as a user runs it. */
export async function startVault(env: Record<string, string>): Promise<VaultChild> {
  const port = await freePort();
  const adminToken = `skt_${randomBytes(32).toString("base64url")}`;
  const dir = mkdtempSync(join(tmpdir(), "scaivault-bench-"));
  const child = spawn(process.execPath, [join(ROOT, "dist/main.js")], {
    cwd: dir,
    env: {
      ...process.env,
      BIND_ADDRESS: `127.0.0.1:${port}`,
      DATABASE_URL: `sqlite:${join(dir, "vault.db")}`,
      KMS_LOCAL_KEY: randomBytes(32).toString("base64"),
      SCAIVAULT_BOOTSTRAP_TOKEN: adminToken,
      LOG_LEVEL: "warn",
      ...env,
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  await waitFor(`${baseUrl}/v1/health`);
  return {
    process: child,
    port,
    baseUrl,
    adminToken,
    databaseFile: join(dir, "vault.db"),
    stop: stopper(child),
    rssMb: () => 0,
  };
}

export async function api(baseUrl: string, token: string, method: string, path: string, body?: unknown): Promise<any> {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path} → ${response.status} ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : undefined;
}

export interface LoadResult {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  non2xx: number;
  total: number;
}

export async function load(options: {
  url: string;
  method?: "GET" | "PUT" | "POST";
  headers?: Record<string, string>;
  body?: string;
  connections?: number;
  seconds: number;
}): Promise<LoadResult> {
  const result = await autocannon({
    url: options.url,
    method: options.method ?? "GET",
    headers: options.headers,
    body: options.body,
    connections: options.connections ?? 64,
    duration: options.seconds,
  });
  return {
    requestsPerSecond: Math.round(result.requests.average),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    total: result.requests.total,
  };
}
