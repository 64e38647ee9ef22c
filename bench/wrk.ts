/**
 * wrk as the benchmark's load generator (issue 14 measured with `wrk`, one thread): a C client
 * that spends a third of autocannon's CPU per request (docs/benchmarks.md round 15), which on two
 * shared cores is CPU the server under test gets back. Used when `wrk` is on the PATH;
 * `BENCH_LOAD_GENERATOR=autocannon` keeps the in-process autocannon.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LoadRequest, LoadResult } from "./lib.js";

export function wrkInstalled(): boolean {
  const probe = spawnSync("wrk", ["--version"], { stdio: "ignore" });
  return probe.error === undefined;
}

/**
 * A Lua string literal for any text: every byte outside printable ASCII, and quotes and backslashes,
 * as `\ddd` with all three digits (Lua reads up to three: `\34` before a digit would take it in).
 */
export function luaString(text: string): string {
  let literal = '"';
  for (const byte of Buffer.from(text, "utf8")) {
    literal += byte >= 0x20 && byte < 0x7f && byte !== 0x22 && byte !== 0x5c ? String.fromCharCode(byte) : `\\${String(byte).padStart(3, "0")}`;
  }
  return `${literal}"`;
}

/** The wrk script for one load: method, headers and body fixed, the path cycled when several. */
export function wrkScript(options: LoadRequest): string {
  const lines = [`wrk.method = ${luaString(options.method)}`];
  for (const [name, value] of Object.entries(options.headers)) lines.push(`wrk.headers[${luaString(name)}] = ${luaString(value)}`);
  if (options.body !== undefined) lines.push(`wrk.body = ${luaString(options.body)}`);
  if (options.paths?.length) {
    lines.push(`local paths = {${options.paths.map(luaString).join(", ")}}`, "local n = 0");
    lines.push("request = function()", "  n = n + 1", "  return wrk.format(nil, paths[(n % #paths) + 1])", "end");
  }
  return `${lines.join("\n")}\n`;
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

/** wrk's `--latency` report as a LoadResult; throws when a figure is missing (an output this parser does not know). */
export function parseWrk(output: string): LoadResult {
  const latency = (percent: string) => {
    const match = new RegExp(`^\\s*${percent}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, "m").exec(output);
    if (!match) throw new Error(`wrk printed no ${percent}% latency:\n${output}`);
    return Number((Number(match[1]) * UNIT_MS[match[2]]).toFixed(2));
  };
  const total = /^\s*(\d+) requests in /m.exec(output);
  const rate = /^Requests\/sec:\s+([\d.]+)/m.exec(output);
  if (!total || !rate) throw new Error(`wrk printed no totals:\n${output}`);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(output);
  return {
    requestsPerSecond: Math.round(Number(rate[1])),
    p50Ms: latency("50"),
    p99Ms: latency("99"),
    errors: socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0,
    non2xx: non2xx ? Number(non2xx[1]) : 0,
    total: Number(total[1]),
  };
}

/** One wrk run (`-t1`) of `seconds`; resolves when it exits. */
export async function runWrk(options: LoadRequest, seconds: number): Promise<LoadResult> {
  const dir = mkdtempSync(join(tmpdir(), "sv-wrk-"));
  try {
    const script = join(dir, "load.lua");
    // The script holds the bench token: readable by this user only, removed after the run.
    writeFileSync(script, wrkScript(options), { mode: 0o600 });
    const args = ["-t1", `-c${options.connections}`, `-d${seconds}s`, "--latency", "-s", script, options.url];
    const output = await new Promise<string>((resolve, reject) => {
      const child = spawn("wrk", args, { stdio: ["ignore", "pipe", "pipe"] });
      let text = "";
      let problems = "";
      child.stdout.on("data", (chunk: Buffer) => (text += chunk.toString()));
      // wrk reports a script it could not load on stderr and then runs its default request anyway.
      child.stderr.on("data", (chunk: Buffer) => (problems += chunk.toString()));
      child.on("error", reject);
      child.on("close", (code) => (code === 0 && problems === "" ? resolve(text) : reject(new Error(`wrk exited with ${code}: ${problems}\n${text}`))));
    });
    return parseWrk(output);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
