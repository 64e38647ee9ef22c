/**
 * Throughput of audited reads with default and with full durability (SCAIVAULT_AUDIT_SYNC), on
 * SQLite and PostgreSQL: `npx tsx bench/audit-sync.ts [--seconds N] [--connections N]`.
 * Each server runs in its own process from the sources (no build needed); autocannon drives it.
 * After each run the audit_log is counted: every 2xx read must have its entry.
 */
import type { ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import os, { tmpdir } from "node:os";
import { join } from "node:path";
import autocannon from "autocannon";
import { openDatabase } from "../src/storage/open.js";
import { startVaultProcess, stopProcess } from "../src/testing/processes.js";
import { api, withPostgresDatabase } from "./lib.js";

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const SECONDS = arg("seconds", 10);
const CONNECTIONS = arg("connections", 64);

async function start(env: Record<string, string>): Promise<{ child: ChildProcess; baseUrl: string; token: string }> {
  const vault = await startVaultProcess({ env: { RATE_LIMIT_READ: "100000000", RATE_LIMIT_WRITE: "100000000", ...env }, stderr: "inherit" });
  return { child: vault.child, baseUrl: vault.baseUrl, token: vault.adminToken };
}

async function stop(child: ChildProcess): Promise<void> {
  await stopProcess(child);
}

interface Result {
  rps: number;
  p50: number;
  p99: number;
  ok: number;
  statuses: Record<string, number>;
  errors: number;
  entries: number;
}

async function scenario(databaseUrl: string, sync: "normal" | "full"): Promise<Result> {
  const server = await start({ DATABASE_URL: databaseUrl, SCAIVAULT_AUDIT_SYNC: sync });
  try {
    await api(server.baseUrl, server.token, "PUT", "/v1/secrets/bench/secret", { data: { client_id: "3MVG9", client_secret: "s".repeat(64) }, secret_type: "json" });
    const result = await autocannon({ url: `${server.baseUrl}/v1/secrets/bench/secret`, headers: { authorization: `Bearer ${server.token}` }, duration: SECONDS, connections: CONNECTIONS });
    const statuses = Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([code, stat]) => [code, (stat as { count: number }).count]));
    await stop(server.child);
    const db = openDatabase(databaseUrl);
    const row = await db.get<{ n: number }>("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'read' AND success = 1");
    await db.close();
    return {
      rps: Math.round(result.requests.average),
      p50: result.latency.p50,
      p99: result.latency.p99,
      ok: statuses["200"] ?? 0,
      statuses,
      errors: result.errors + result.timeouts,
      entries: Number(row?.n ?? 0),
    };
  } finally {
    await stop(server.child);
  }
}

async function main(): Promise<void> {
  const loadBefore = os.loadavg().map((l) => l.toFixed(1)).join(" ");
  const rows: Array<[string, Result]> = [];
  for (const sync of ["normal", "full"] as const) {
    const dir = mkdtempSync(join(tmpdir(), "scaivault-bench-audit-"));
    rows.push([`sqlite ${sync}`, await scenario(`sqlite:${join(dir, "vault.db")}`, sync)]);
    rows.push([`postgres ${sync}`, await withPostgresDatabase("sv_bench_audit", (url) => scenario(url, sync))]);
  }
  console.log(`\nAudited reads (GET /v1/secrets/bench/secret), ${SECONDS}s, ${CONNECTIONS} connections\n`);
  console.log("scenario           req/s   p50 ms   p99 ms   200s   read entries   other statuses / errors");
  for (const [name, r] of rows) {
    const others = Object.entries(r.statuses).filter(([code]) => code !== "200").map(([code, n]) => `${code}:${n}`).join(" ") || "-";
    console.log(`${name.padEnd(16)} ${String(r.rps).padStart(7)} ${String(r.p50).padStart(8)} ${String(r.p99).padStart(8)} ${String(r.ok).padStart(6)} ${String(r.entries).padStart(14)}   ${others} / ${r.errors}`);
  }
  console.log(`load average before/after: ${loadBefore} / ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}`);
  console.log(JSON.stringify(Object.fromEntries(rows.map(([name, r]) => [name.replace(" ", "_"), r]))));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
