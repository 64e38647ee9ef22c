/**
 * The vault as a separate process, for tests and benchmarks that need a real server (a real
 * kill -9, a real SIGTERM, RSS of its own): a free port, spawn with an explicit environment and a
 * fresh data directory, wait for /v1/health, stop with SIGTERM then SIGKILL.
 * bench/ imports this too (through tsx), so it depends on nothing but Node.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./ports.js";

/** The repository root. */
export const ROOT = new URL("../..", import.meta.url).pathname;

export function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once("exit", () => resolve()));
}

/**
 * Polls `url` every 100 ms until it answers 2xx. Fails early when `child` exits, and after
 * `timeoutMs`, killing `child` (SIGKILL) so that nothing is left behind.
 */
export async function waitUntilUp(url: string, options: { child?: ChildProcess; output?: () => string; timeoutMs?: number } = {}): Promise<void> {
  const { child, output = () => "", timeoutMs = 30_000 } = options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child && child.exitCode !== null) throw new Error(`server exited: ${output()}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child?.kill("SIGKILL");
      throw new Error(`${url} did not come up: ${output()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * SIGTERM, then SIGKILL after `graceMs`. Resolves with the exit code, or `undefined` when the
 * process had already exited.
 */
export function stopProcess(child: ChildProcess, graceMs = 10_000): Promise<number | null | undefined> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(undefined);
    child.once("exit", (code) => resolve(code));
    child.kill("SIGTERM");
    setTimeout(() => child.kill("SIGKILL"), graceMs).unref();
  });
}

export interface VaultProcessOptions {
  /** Variables for the server; they override the defaults below. BIND_ADDRESS is always set from the port. */
  env?: Record<string, string>;
  port?: number;
  /** "source" (default): `node --import tsx src/main.ts`, as a user runs it; "dist": the built `dist/main.js`. */
  entry?: "source" | "dist";
  /**
   * false (default): only PATH and HOME from this process (vitest sets variables, BASE_URL among
   * them, the server would read); true: all of process.env.
   */
  inheritEnv?: boolean;
  /**
   * true (default): defaults for a fresh vault: a SQLite file in the data directory, a new
   * KMS_LOCAL_KEY and a new bootstrap admin token. false: only LOG_LEVEL=warn; the caller's env says the rest.
   */
  provision?: boolean;
  /** Use this (existing) directory as the data directory instead of a new temporary one. */
  dir?: string;
  /** Working directory: the repository root unless given ("data": the fresh data directory). */
  cwd?: string | "data";
  /** "pipe" (default): captured, shown when the server fails to start; "inherit": this process's stderr. */
  stderr?: "pipe" | "inherit";
  /** How long to wait for /v1/health. */
  timeoutMs?: number;
}

export interface VaultProcess {
  child: ChildProcess;
  port: number;
  baseUrl: string;
  /** The bootstrap admin token (from env, or generated when provisioning). */
  adminToken: string;
  /** A fresh directory of its own ("" when neither provisioned nor used as cwd). */
  dir: string;
  /** The SQLite file the provisioned DATABASE_URL points at. */
  databaseFile: string;
  /** What the server wrote to stderr (when piped). */
  output(): string;
  /** SIGTERM, then SIGKILL after 10 s; see stopProcess. */
  stop(): Promise<number | null | undefined>;
}

/** Spawns the vault on a free (or given) port and waits until /v1/health answers. */
export async function startVaultProcess(options: VaultProcessOptions = {}): Promise<VaultProcess> {
  const { env = {}, entry = "source", inheritEnv = false, provision = true, stderr = "pipe", timeoutMs } = options;
  const port = options.port ?? (await freePort());
  const needsDir = provision || options.cwd === "data";
  const dir = options.dir ?? (needsDir ? mkdtempSync(join(tmpdir(), "scaivault-process-")) : "");
  const databaseFile = join(dir, "vault.db");
  const base: Record<string, string | undefined> = inheritEnv ? { ...process.env } : { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "" };
  const defaults: Record<string, string> = provision
    ? { DATABASE_URL: `sqlite:${databaseFile}`, KMS_LOCAL_KEY: randomBytes(32).toString("base64"), SCAIVAULT_BOOTSTRAP_TOKEN: `skt_${randomBytes(32).toString("base64url")}`, LOG_LEVEL: "warn", SCAIVAULT_STORAGE_GUARDS: "true" }
    : { LOG_LEVEL: "warn", SCAIVAULT_STORAGE_GUARDS: "true" };
  const fullEnv: Record<string, string | undefined> = { ...base, ...defaults, ...env, BIND_ADDRESS: `127.0.0.1:${port}` };
  const args = entry === "dist" ? [join(ROOT, "dist/main.js")] : ["--import", "tsx", join(ROOT, "src/main.ts")];
  const child = spawn(process.execPath, args, {
    cwd: options.cwd === "data" ? dir : (options.cwd ?? ROOT),
    env: fullEnv,
    stdio: ["ignore", "ignore", stderr],
  });
  let text = "";
  child.stderr?.on("data", (chunk) => (text += chunk));
  const baseUrl = `http://127.0.0.1:${port}`;
  await waitUntilUp(`${baseUrl}/v1/health`, { child, output: () => text, timeoutMs });
  return {
    child,
    port,
    baseUrl,
    adminToken: fullEnv.SCAIVAULT_BOOTSTRAP_TOKEN ?? "",
    dir,
    databaseFile,
    output: () => text,
    stop: () => stopProcess(child),
  };
}

/**
 * The server from the sources on `port`, with exactly `env` (plus PATH, HOME and LOG_LEVEL=warn
 * unless env sets it): for tests that restart a node on the same port and database.
 */
export async function startServer(env: Record<string, string>, port: number): Promise<ChildProcess> {
  return (await startVaultProcess({ env, port, provision: false })).child;
}
