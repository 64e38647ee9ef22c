import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import autocannon from "autocannon";
import pg from "pg";
import { freePort } from "../src/testing/ports.js";
import { ROOT, startVaultProcess, stopProcess, waitUntilUp } from "../src/testing/processes.js";
import { runWrk, wrkInstalled } from "./wrk.js";

export { freePort } from "../src/testing/ports.js";
export { ROOT } from "../src/testing/processes.js";

// The documented limits would cap a benchmark at a few requests per second per identity.
export const UNLIMITED: Record<string, string> = Object.fromEntries(
  ["READ", "WRITE", "DELETE", "LIST", "BATCH_READ", "POLICY", "AUTH", "AUDIT_QUERY"].map((c) => [`RATE_LIMIT_${c}`, "100000000"]),
);

/** utime + stime of a process, in clock ticks (100 per second here); 0 once it is gone. */
export function cpuTicks(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

export const PG_ADMIN = process.env.SCAIVAULT_TEST_PG_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";

/** A scratch PostgreSQL database `${prefix}_<random hex>` on PG_ADMIN's server; drop() removes it (WITH FORCE). */
export async function createPostgresDatabase(prefix: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `${prefix}_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(PG_ADMIN);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const cleanup = new pg.Client({ connectionString: PG_ADMIN });
      await cleanup.connect();
      await cleanup.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await cleanup.end();
    },
  };
}

/** `work` against a scratch PostgreSQL database, dropped afterwards whatever happens. */
export async function withPostgresDatabase<T>(prefix: string, work: (url: string) => Promise<T>): Promise<T> {
  const database = await createPostgresDatabase(prefix);
  try {
    return await work(database.url);
  } finally {
    await database.drop();
  }
}

export interface Child {
  process: ChildProcess;
  port: number;
  baseUrl: string;
  stop(): Promise<void>;
  rssMb(): number;
}

export async function startBaseline(): Promise<Child> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(ROOT, "bench/baseline-server.mjs")], { env: { ...process.env, PORT: String(port) }, stdio: "ignore" });
  const baseUrl = `http://127.0.0.1:${port}`;
  await waitUntilUp(`${baseUrl}/`, { child });
  return { process: child, port, baseUrl, stop: async () => void (await stopProcess(child)), rssMb: () => 0 };
}

export interface VaultChild extends Child {
  adminToken: string;
  /** The SQLite file (when DATABASE_URL was not overridden). */
  databaseFile: string;
}

/** The built server (dist/main.js) as a separate process, as a user runs it, with a fresh SQLite file. */
export async function startVault(env: Record<string, string>): Promise<VaultChild> {
  // Measured as deployed: without the test suites' storage assertions.
  const vault = await startVaultProcess({ env: { SCAIVAULT_STORAGE_GUARDS: "false", ...env }, entry: "dist", inheritEnv: true, cwd: "data", stderr: "inherit" });
  return {
    process: vault.child,
    port: vault.port,
    baseUrl: vault.baseUrl,
    adminToken: vault.adminToken,
    databaseFile: vault.databaseFile,
    stop: async () => void (await vault.stop()),
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

export const SECRET_DATA = { client_id: "3MVG9xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", client_secret: "s".repeat(64) };

/**
 * The benchmark's reader on a running vault: `bench/secret`, `policies` unrelated policies bound to
 * `sa:bench` (none matching the path it reads: the evaluator sees them all) plus the one that
 * grants it, and an `skt_` token for it.
 */
export async function seedReader(baseUrl: string, adminToken: string, policies: number): Promise<{ token: string }> {
  const admin = (method: string, path: string, body?: unknown) => api(baseUrl, adminToken, method, path, body);
  await admin("PUT", "/v1/secrets/bench/secret", { data: SECRET_DATA, secret_type: "json" });
  for (let i = 0; i < policies; i++) {
    const policy = await admin("POST", "/v1/policies", { name: `unrelated-${i}`, rules: [{ path_pattern: `other/team-${i}/**`, permissions: ["read"] }] });
    await admin("POST", `/v1/policies/${policy.id}/bindings`, { identity_type: "service_account", identity_id: "sa:bench" });
  }
  const reader = await admin("POST", "/v1/policies", { name: "bench-reader", rules: [{ path_pattern: "bench/**", permissions: ["read", "write"] }] });
  await admin("POST", `/v1/policies/${reader.id}/bindings`, { identity_type: "service_account", identity_id: "sa:bench" });
  const issued = await admin("POST", "/v1/auth/tokens", { identity_id: "sa:bench", identity_type: "service_account", scopes: ["secrets:read", "secrets:write"], description: "bench" });
  return { token: issued.token };
}

export interface LoadResult {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  non2xx: number;
  total: number;
}

/**
 * What drives the load: wrk (`-t1`, the issue's tool) when installed, else autocannon in this
 * process. `BENCH_LOAD_GENERATOR=autocannon` chooses autocannon; `=wrk` requires wrk.
 */
export const LOAD_GENERATOR: "wrk" | "autocannon" = (() => {
  const wanted = process.env.BENCH_LOAD_GENERATOR;
  if (wanted === "autocannon") return "autocannon";
  if (wrkInstalled()) return "wrk";
  if (wanted === "wrk") throw new Error("BENCH_LOAD_GENERATOR=wrk, but wrk is not installed (Debian: apt-get install wrk)");
  return "autocannon";
})();

export async function load(options: {
  url: string;
  method?: "GET" | "PUT" | "POST";
  headers?: Record<string, string>;
  body?: string;
  connections?: number;
  seconds: number;
  /**
   * Seconds of the same load first, not measured: the figures are the server's steady state, not
   * the seconds in which V8 is still compiling the scenario's path (each scenario starts a server
   * or a route the previous one did not run).
   */
  warmupSeconds?: number;
  /** Request n goes to paths[n mod length] (paths with their query), when requests do not all go to the url's own path. */
  paths?: string[];
}): Promise<LoadResult> {
  // One request description, its defaults settled here, for either generator and the probe below.
  const request: LoadRequest = {
    url: options.url,
    method: options.method ?? "GET",
    headers: options.headers ?? {},
    body: options.body,
    connections: options.connections ?? 64,
    paths: options.paths,
  };
  const run = LOAD_GENERATOR === "wrk" ? (seconds: number) => runWrk(request, seconds) : autocannonRun(request);
  if (options.warmupSeconds) {
    const warmup = await run(options.warmupSeconds);
    if (warmup.errors + warmup.non2xx > 0) {
      // What one more such request is answered (an error's code), so a failed run says why; the
      // body only of an error, never of an answer that may hold the bench secret's value.
      const probe = await fetch(request.url, { method: request.method, headers: request.headers, body: request.body }).then(
        async (response) => `${response.status}${response.ok ? "" : ` ${(await response.text()).slice(0, 200)}`}`,
        (error: unknown) => String(error),
      );
      throw new Error(`warm-up of ${request.url}: ${warmup.errors} errors, ${warmup.non2xx} non-2xx; one more request: ${probe}`);
    }
  }
  return run(options.seconds);
}

/** What one load sends, defaults settled. */
export interface LoadRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  body?: string;
  connections: number;
  /** Request n goes to paths[n mod length]; absent: every request to the url's own path. */
  paths?: string[];
}

function autocannonRun(request: LoadRequest): (seconds: number) => Promise<LoadResult> {
  let n = 0;
  const { paths, ...fixed } = request;
  return async (duration) => {
    const result = await autocannon({
      ...fixed,
      duration,
      requests: paths?.length ? [{ setupRequest: (sent: Record<string, unknown>) => ({ ...sent, path: paths[n++ % paths.length] }) }] : undefined,
    });
    return {
      requestsPerSecond: Math.round(result.requests.average),
      p50Ms: result.latency.p50,
      p99Ms: result.latency.p99,
      errors: result.errors + result.timeouts,
      non2xx: result.non2xx,
      total: result.requests.total,
    };
  };
}
