/**
 * `tsx bench/pg-writes.ts [seconds] [connections]`: load-independent figures for PUT on PostgreSQL.
 *
 * 1. Round trips per PUT and which hot rows each transaction holds for how many of them: the vault
 *    runs with bench/pg-trace.cjs preloaded (every statement node-postgres sends, per transaction).
 * 2. Under `connections` concurrent PUTs (one path, then one path per connection): what the
 *    vault's PostgreSQL sessions are doing, sampled from pg_stat_activity every few milliseconds —
 *    the share waiting on a lock and on which statement — and the CPU time per PUT of the vault
 *    process and of its PostgreSQL backends (from /proc), steadier than req/s on a shared machine.
 * 3. `pgbench -N` at the same concurrency on the same PostgreSQL, for the ratio.
 * The last line is one JSON object. VAULT_NODE_OPTIONS: more Node options for the vault (e.g. --cpu-prof).
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import autocannon from "autocannon";
import { cpuTicks, createPostgresDatabase, ROOT, SECRET_DATA, seedReader, UNLIMITED } from "./lib.js";
import { startVaultProcess } from "../src/testing/processes.js";

interface Trace {
  outside: number;
  transactions: { count: number; roundTrips: number; chainHeld: number; epochHeld: number; ended: string; statements: string[] }[];
}

export interface PgWriteFigures {
  sequential: { puts: number; transactions: Trace["transactions"] };
  concurrent: Record<string, {
    putsPerSecond: number; p50Ms: number; p99Ms: number; errors: number; total: number;
    vaultCpuUsPerPut: number; postgresCpuUsPerPut: number;
    samples: number; sessionsActive: number; sessionsIdleInTransaction: number; waitingOnLockShare: number; waits: Record<string, number>;
  }>;
  pgbench: { tps: number; latencyMs: number; clients: number; postgresCpuUsPerTx: number } | null;
}

async function traced(pid: number, file: string): Promise<Trace> {
  process.kill(pid, "SIGUSR2");
  for (let i = 0; i < 50; i++) {
    await new Promise((r) => setTimeout(r, 50));
    try {
      const trace = JSON.parse(readFileSync(file, "utf8")) as Trace;
      return trace;
    } catch {
      /* not written yet */
    }
  }
  throw new Error("no trace written");
}

/** Samples pg_stat_activity for `database` until stopped; waits keyed by event and statement. */
function sampler(admin: pg.Client, database: string) {
  const waits: Record<string, number> = {};
  const backends = new Set<number>();
  let samples = 0;
  let active = 0;
  // A session idle inside a transaction waits for the vault's next statement (ClientRead).
  let idleInTransaction = 0;
  let waiting = 0;
  let running = true;
  const done = (async () => {
    while (running) {
      const { rows } = await admin.query(
        "SELECT pid, state, wait_event_type, wait_event, left(regexp_replace(query, '\\s+', ' ', 'g'), 90) AS query FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend'",
        [database],
      );
      samples += 1;
      for (const row of rows) {
        backends.add(row.pid);
        if (row.state === "idle in transaction") idleInTransaction += 1;
        if (row.state !== "active") continue;
        active += 1;
        if (row.wait_event_type === "Lock") {
          waiting += 1;
          const key = `${row.wait_event}: ${row.query}`;
          waits[key] = (waits[key] ?? 0) + 1;
        } else if (row.wait_event_type) {
          const key = `${row.wait_event_type}/${row.wait_event}`;
          waits[key] = (waits[key] ?? 0) + 1;
        }
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  return {
    backends,
    async stop() {
      running = false;
      await done;
      return { samples, sessionsActive: Number((active / Math.max(samples, 1)).toFixed(2)), sessionsIdleInTransaction: Number((idleInTransaction / Math.max(samples, 1)).toFixed(2)), waitingOnLockShare: Number((waiting / Math.max(active, 1)).toFixed(2)), waits };
    },
  };
}

export async function measurePgWrites(options: { seconds: number; connections: number; admin: string }): Promise<PgWriteFigures> {
  const database = await createPostgresDatabase("sv_pgwrites");
  const name = new URL(database.url).pathname.slice(1);
  const traceFile = join(ROOT, "data", `pg-trace-${process.pid}.json`);
  const admin = new pg.Client({ connectionString: options.admin });
  await admin.connect();
  try {
    const vault = await startVaultProcess({
      env: { ...UNLIMITED, SCAIVAULT_STORAGE_GUARDS: "false", DATABASE_URL: database.url, NODE_OPTIONS: `--require ${join(ROOT, "bench/pg-trace.cjs")} ${process.env.VAULT_NODE_OPTIONS ?? ""}`, PG_TRACE_FILE: traceFile },
      entry: "dist",
      inheritEnv: true,
      cwd: "data",
      stderr: "inherit",
    });
    const pid = vault.child.pid!;
    try {
      const { token } = await seedReader(vault.baseUrl, vault.adminToken, 0);
      const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
      const body = JSON.stringify({ data: SECRET_DATA, secret_type: "json", options: { max_versions: 5 } });
      for (let i = 0; i < options.connections; i++) await fetch(`${vault.baseUrl}/v1/secrets/bench/w-${i}`, { method: "PUT", headers, body }).then((r) => r.text());
      await fetch(`${vault.baseUrl}/v1/secrets/bench/written`, { method: "PUT", headers, body }).then((r) => r.text());
      await traced(pid, traceFile);

      const puts = 50;
      for (let i = 0; i < puts; i++) {
        const response = await fetch(`${vault.baseUrl}/v1/secrets/bench/written`, { method: "PUT", headers, body });
        if (response.status !== 200) throw new Error(`PUT answered ${response.status}: ${await response.text()}`);
      }
      const sequential = { puts, transactions: (await traced(pid, traceFile)).transactions };
      // Migration 0500 defers the epoch triggers to COMMIT: the row is then locked only in that round trip.
      const dbClient = new pg.Client({ connectionString: database.url });
      await dbClient.connect();
      const isDeferred = (await dbClient.query("SELECT 1 FROM pg_trigger WHERE tgname = 'secret_versions_cache_epoch' AND tgdeferrable")).rows.length > 0;
      await dbClient.end();
      if (isDeferred) for (const t of sequential.transactions) if (t.epochHeld > 0) t.epochHeld = 1;

      const concurrent: PgWriteFigures["concurrent"] = {};
      for (const layout of ["one path", "path per connection"] as const) {
        const sample = sampler(admin, name);
        await new Promise((r) => setTimeout(r, 50));
        const backendsBefore = new Map<number, number>();
        const { rows } = await admin.query("SELECT pid FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend'", [name]);
        for (const row of rows) backendsBefore.set(row.pid, cpuTicks(row.pid));
        const vault0 = cpuTicks(pid);
        let n = 0;
        const result = await autocannon({
          url: `${vault.baseUrl}/v1/secrets/bench/written`,
          method: "PUT",
          headers,
          body,
          connections: options.connections,
          duration: options.seconds,
          requests: layout === "one path" ? undefined : [{ setupRequest: (request: any) => ({ ...request, path: `/v1/secrets/bench/w-${n++ % options.connections}` }) }],
        });
        const vaultTicks = cpuTicks(pid) - vault0;
        const figures = await sample.stop();
        let pgTicks = 0;
        for (const backend of sample.backends) pgTicks += cpuTicks(backend) - (backendsBefore.get(backend) ?? 0);
        const total = Math.max(result.requests.total, 1);
        concurrent[layout] = {
          putsPerSecond: Math.round(result.requests.average), p50Ms: result.latency.p50, p99Ms: result.latency.p99, errors: result.errors + result.non2xx, total: result.requests.total,
          vaultCpuUsPerPut: Math.round((vaultTicks * 1e4) / total), postgresCpuUsPerPut: Math.round((pgTicks * 1e4) / total),
          ...figures,
        };
      }
      await traced(pid, traceFile);
      return { sequential, concurrent, pgbench: pgbench(options, database.url) };
    } finally {
      await vault.stop();
    }
  } finally {
    await admin.end();
    await database.drop();
  }
}

/** `pgbench -N` (no updates of the branch and teller rows) at the same concurrency, in its own database. */
export function pgbench(options: { seconds: number; connections: number }, besideUrl: string): PgWriteFigures["pgbench"] {
  const url = new URL(besideUrl);
  const host = url.hostname, port = url.port || "5432", user = decodeURIComponent(url.username || "postgres");
  const db = `sv_pgbench_${process.pid}`;
  const common = ["-h", host, "-p", port, "-U", user];
  const run = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: "utf8" });
  if (run("which", ["pgbench"]).status !== 0) return null;
  run("createdb", [...common, db]);
  try {
    const init = run("pgbench", [...common, "-i", "-q", "-s", "10", db]);
    if (init.status !== 0) throw new Error(init.stderr);
    const bench = run("pgbench", [...common, "-n", "-N", "-c", String(options.connections), "-j", "2", "-T", String(options.seconds), db]);
    if (bench.status !== 0) throw new Error(bench.stderr);
    const tps = Number(/tps = ([\d.]+)/.exec(bench.stdout)?.[1] ?? 0);
    const latency = Number(/latency average = ([\d.]+)/.exec(bench.stdout)?.[1] ?? 0);
    return { tps: Math.round(tps), latencyMs: latency, clients: options.connections, postgresCpuUsPerTx: 0 };
  } finally {
    run("dropdb", [...common, "--force", db]);
  }
}

if (process.argv[1]?.endsWith("pg-writes.ts")) {
  const seconds = Number(process.argv[2] ?? 8);
  const connections = Number(process.argv[3] ?? 16);
  const admin = process.env.SCAIVAULT_TEST_PG_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
  const figures = await measurePgWrites({ seconds, connections, admin });
  for (const t of figures.sequential.transactions.slice(0, 4)) {
    console.log(`\n${t.count}× transaction: ${t.roundTrips} round trips (BEGIN…COMMIT), audit chain head held ${t.chainHeld}, cache epoch row held ${t.epochHeld}`);
    for (const s of t.statements) console.log(`   ${s}`);
  }
  for (const [layout, c] of Object.entries(figures.concurrent)) {
    console.log(`\n${layout}, ${connections} connections: ${c.putsPerSecond} PUT/s p50 ${c.p50Ms} p99 ${c.p99Ms} ms, errors ${c.errors}; vault CPU ${c.vaultCpuUsPerPut} µs/PUT, PostgreSQL CPU ${c.postgresCpuUsPerPut} µs/PUT`);
    console.log(`  ${c.samples} samples: ${c.sessionsActive} sessions active and ${c.sessionsIdleInTransaction} idle in a transaction on average, ${Math.round(c.waitingOnLockShare * 100)} % of the active waiting on a lock`);
    for (const [key, count] of Object.entries(c.waits).sort((a, b) => b[1] - a[1]).slice(0, 8)) console.log(`   ${String(count).padStart(6)}  ${key}`);
  }
  if (figures.pgbench) console.log(`\npgbench -N -c ${connections}: ${figures.pgbench.tps} tps, latency ${figures.pgbench.latencyMs} ms`);
  console.log(JSON.stringify(figures));
}
