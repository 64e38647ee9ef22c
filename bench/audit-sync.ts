/**
 * Throughput of audited reads with default and with full durability (SCAIVAULT_AUDIT_SYNC), on
 * SQLite and PostgreSQL: `npx tsx bench/audit-sync.ts [--seconds N] [--connections N]`.
 * Each server runs in its own process from the sources (no build needed); autocannon drives it.
 * After each run the audit_log is counted: every 2xx read must have its entry.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { openDatabase } from "../src/storage/open.js";
import { api, freePort, load, ROOT, type LoadResult } from "./lib.js";

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const SECONDS = arg("seconds", 10);
const CONNECTIONS = arg("connections", 64);
const PG_ADMIN = process.env.SCAIVAULT_TEST_PG_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";

async function start(env: Record<string, string>): Promise<{ child: ChildProcess; baseUrl: string; token: string }> {
  const port = await freePort();
  const token = `skt_${randomBytes(32).toString("base64url")}`;
  const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "src/main.ts")], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      BIND_ADDRESS: `127.0.0.1:${port}`,
      KMS_LOCAL_KEY: randomBytes(32).toString("base64"),
      SCAIVAULT_BOOTSTRAP_TOKEN: token,
      LOG_LEVEL: "warn",
      RATE_LIMIT_READ: "100000000",
      RATE_LIMIT_WRITE: "100000000",
      ...env,
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${baseUrl}/v1/health`)).ok) break;
    } catch {
      if (i > 300) throw new Error("server did not start");
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, baseUrl, token };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });
}

async function scenario(databaseUrl: string, sync: "normal" | "full"): Promise<LoadResult & { entries: number }> {
  const server = await start({ DATABASE_URL: databaseUrl, SCAIVAULT_AUDIT_SYNC: sync });
  try {
    await api(server.baseUrl, server.token, "PUT", "/v1/secrets/bench/secret", { data: { client_id: "3MVG9", client_secret: "s".repeat(64) }, secret_type: "json" });
    const result = await load({ url: `${server.baseUrl}/v1/secrets/bench/secret`, headers: { authorization: `Bearer ${server.token}` }, seconds: SECONDS, connections: CONNECTIONS });
    await stop(server.child);
    const db = openDatabase(databaseUrl);
    const row = await db.get<{ n: number }>("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'read' AND success = 1");
    await db.close();
    return { ...result, entries: Number(row?.n ?? 0) };
  } finally {
    await stop(server.child);
  }
}

async function withPostgres<T>(work: (url: string) => Promise<T>): Promise<T> {
  const name = `sv_bench_audit_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(PG_ADMIN);
  url.pathname = `/${name}`;
  try {
    return await work(url.toString());
  } finally {
    const cleanup = new pg.Client({ connectionString: PG_ADMIN });
    await cleanup.connect();
    await cleanup.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await cleanup.end();
  }
}

async function main(): Promise<void> {
  const rows: Array<[string, LoadResult & { entries: number }]> = [];
  for (const sync of ["normal", "full"] as const) {
    const dir = mkdtempSync(join(tmpdir(), "scaivault-bench-audit-"));
    rows.push([`sqlite ${sync}`, await scenario(`sqlite:${join(dir, "vault.db")}`, sync)]);
    rows.push([`postgres ${sync}`, await withPostgres((url) => scenario(url, sync))]);
  }
  console.log(`\nAudited reads (GET /v1/secrets/bench/secret), ${SECONDS}s, ${CONNECTIONS} connections\n`);
  console.log("scenario           req/s   p50 ms   p99 ms   2xx total   read entries   non-2xx+errors");
  for (const [name, r] of rows) {
    console.log(`${name.padEnd(16)} ${String(r.requestsPerSecond).padStart(7)} ${String(r.p50Ms).padStart(8)} ${String(r.p99Ms).padStart(8)} ${String(r.total - r.non2xx).padStart(11)} ${String(r.entries).padStart(14)} ${String(r.non2xx + r.errors).padStart(16)}`);
  }
  console.log(JSON.stringify(Object.fromEntries(rows.map(([name, r]) => [name.replace(" ", "_"), { rps: r.requestsPerSecond, p50_ms: r.p50Ms, p99_ms: r.p99Ms, entries: r.entries, non2xx: r.non2xx, errors: r.errors }]))));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
