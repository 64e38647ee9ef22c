/** Shared by the CLI tests: the built binary, run as a user would, against a test vault. */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, vi } from "vitest";

// Each CLI call is a fresh node process: on a loaded 2-core machine a dozen of them outlast the default timeout.
vi.setConfig({ testTimeout: 180_000, hookTimeout: 120_000 });

/** The built binary, run as a user would: `npm ci` builds it (dist/cli/main.js, the package's bin). */
export const BIN = resolve(dirname(fileURLToPath(import.meta.url)), "../../dist/cli/main.js");

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function cli(args: string[], env: Record<string, string | undefined>, stdin?: string): Promise<Run> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH, ...env } as NodeJS.ProcessEnv });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolvePromise({ code, stdout, stderr }));
    child.stdin.end(stdin ?? "");
  });
}

/**
 * For a describe block: fails early when the binary is not built, gives the suite a fresh HOME,
 * and env() for the CLI pointed at `vault` as its admin.
 */
export function useCliHome(vault: () => { baseUrl: string; adminToken: string }): {
  home: () => string;
  env: (extra?: Record<string, string | undefined>) => Record<string, string | undefined>;
} {
  let home: string;
  beforeAll(() => {
    if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run npm ci (or npm run build) first`);
    home = mkdtempSync(join(tmpdir(), "scaivault-cli-"));
  });
  return {
    home: () => home,
    env: (extra = {}) => ({ HOME: home, SCAIVAULT_URL: vault().baseUrl, SCAIVAULT_TOKEN: vault().adminToken, ...extra }),
  };
}
