import { spawn } from "node:child_process";

/** Runs a tool asynchronously (never spawnSync: the server under test runs in this process). */
export function run(command: string, args: string[], input?: string): Promise<{ status: number; out: string }> {
  return new Promise((resolve) => {
    let out = "";
    const child = spawn(command, args, { timeout: 30_000 });
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("close", (code) => resolve({ status: code ?? -1, out }));
    if (input !== undefined) child.stdin.end(input);
  });
}

export function dig(port: number, name: string, type: string, extra: string[] = []) {
  return run("dig", ["@127.0.0.1", "-p", String(port), type, name, "+short", "+tries=1", "+time=5", ...extra]);
}
