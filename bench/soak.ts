/**
 * Soak: mixed reads and writes against a vault process this script starts, then a report of
 * errors, latency and memory (RSS sampled every second from /proc).
 *
 *   npx tsx bench/soak.ts [--seconds 60] [--connections 64] [--writes 0.2] [--backend sqlite|postgres]
 *
 * Rate limits are raised for the run: the soak measures stability under load, not the limiter.
 * Exits 1 when any request failed (connection error, timeout or non-2xx).
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import autocannon from "autocannon";
import { startVaultProcess, type VaultProcess } from "../src/testing/processes.js";
import { createPostgresDatabase } from "./lib.js";
const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
};
const SECONDS = Number(arg("seconds", "60"));
const CONNECTIONS = Number(arg("connections", "64"));
const WRITE_RATIO = Number(arg("writes", "0.2"));
const BACKEND = arg("backend", "sqlite");
const PATHS = 200;

function rssMb(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Math.round(Number(match[1]) / 102.4) / 10 : NaN;
}

async function databaseUrl(dir: string): Promise<{ url: string; drop: () => Promise<void> }> {
  if (BACKEND === "sqlite") return { url: `sqlite:${join(dir, "vault.db")}`, drop: async () => {} };
  return createPostgresDatabase("sv_soak");
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "scaivault-soak-"));
  const db = await databaseUrl(dir);
  const load = (await import("node:os")).loadavg()[0];
  process.stderr.write(`soak: ${BACKEND}, ${CONNECTIONS} connections, ${SECONDS}s, load average before start ${load.toFixed(1)}\n`);
  let vault: VaultProcess | undefined;
  try {
    vault = await startVaultProcess({
      env: { DATABASE_URL: db.url, RATE_LIMIT_READ: "100000000", RATE_LIMIT_WRITE: "100000000" },
      dir,
      stderr: "inherit",
    });
    const { child, baseUrl, adminToken: token } = vault;
    const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
    for (let i = 0; i < PATHS; i++) {
      const response = await fetch(`${baseUrl}/v1/secrets/soak/s${i}`, { method: "PUT", headers, body: JSON.stringify({ data: { value: `seed-${i}` } }) });
      if (response.status !== 201) throw new Error(`seeding failed: ${response.status}`);
    }

    const samples: Array<{ t: number; rss: number }> = [];
    const started = Date.now();
    const sampler = setInterval(() => samples.push({ t: (Date.now() - started) / 1000, rss: rssMb(child.pid!) }), 1000);
    samples.push({ t: 0, rss: rssMb(child.pid!) });
    let writes = 0;
    const result = await autocannon({
      url: baseUrl,
      connections: CONNECTIONS,
      duration: SECONDS,
      timeout: 10,
      requests: [
        {
          setupRequest: (request: Record<string, unknown>) => {
            const path = `/v1/secrets/soak/s${Math.floor(Math.random() * PATHS)}`;
            if (Math.random() < WRITE_RATIO) {
              writes++;
              return { ...request, method: "PUT", path, headers, body: JSON.stringify({ data: { value: randomBytes(16).toString("hex") } }) };
            }
            return { ...request, method: "GET", path, headers: { authorization: headers.authorization } };
          },
        },
      ],
    });
    clearInterval(sampler);
    samples.push({ t: (Date.now() - started) / 1000, rss: rssMb(child.pid!) });

    const after = (s: number) => samples.find((x) => x.t >= s)?.rss ?? NaN;
    const steady = samples.filter((x) => x.t >= 10);
    const quarter = Math.max(1, Math.floor(steady.length / 4));
    const mean = (xs: typeof samples) => xs.reduce((a, b) => a + b.rss, 0) / xs.length;
    const metrics = await (await fetch(`${baseUrl}/v1/metrics`)).text();
    const shed = Object.fromEntries([...metrics.matchAll(/^scaivault_load_shed_total\{reason="(\w+)"\} (\d+)/gm)].map((m) => [m[1], Number(m[2])]));
    const limited = [...metrics.matchAll(/^scaivault_rate_limit_hits_total\{category="(\w+)"\} (\d+)/gm)].reduce((sum, m) => sum + Number(m[2]), 0);
    const failures = result.errors + result.timeouts + result.non2xx;
    const report = {
      backend: BACKEND,
      seconds: SECONDS,
      connections: CONNECTIONS,
      write_ratio: WRITE_RATIO,
      requests: result.requests.total,
      writes_sent: writes,
      requests_per_second: Math.round(result.requests.average),
      latency_ms: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max },
      errors: result.errors,
      timeouts: result.timeouts,
      non_2xx: result.non2xx,
      shed_503_by_reason: shed,
      rate_limited_429: limited,
      status_codes: Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([code, v]) => [code, (v as { count: number }).count])),
      rss_mb: {
        start: samples[0].rss,
        at_10s: after(10),
        at_30s: after(30),
        end: samples[samples.length - 1].rss,
        max: Math.max(...samples.map((x) => x.rss)),
        steady_first_quarter_mean: Math.round(mean(steady.slice(0, quarter)) * 10) / 10,
        steady_last_quarter_mean: Math.round(mean(steady.slice(-quarter)) * 10) / 10,
      },
    };
    process.stdout.write(JSON.stringify(report, null, 2) + "\n");
    if (failures > 0) process.exitCode = 1;
  } finally {
    const code = await vault?.stop();
    if (code !== undefined) process.stdout.write(`vault exited with code ${code} after SIGTERM\n`);
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  process.stderr.write(`soak failed: ${(error as Error).message}\n`);
  process.exit(1);
});
