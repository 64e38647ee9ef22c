/**
 * `tsx bench/pg-put-cost.ts [puts] [clients]`: what one PUT of a new version costs on PostgreSQL,
 * in figures that depend little on how busy the machine is: the vault's CPU and its PostgreSQL
 * backends' CPU per PUT (from /proc), PostgreSQL transactions per PUT (`pg_stat_database`, every
 * statement outside a transaction counts as one) and the vault's write syscalls per PUT
 * (`/proc/<pid>/io`: each is a send to PostgreSQL or to a client). Runs `puts` PUTs from `clients`
 * clients in this process, each writing its own path one request after the other (1 client: a lone
 * script writing secrets, where every write pays its own fan-out pass). Built vault (`dist/`); no
 * statement tracing, unlike bench/pg-writes.ts. The last line is one JSON object.
 */
import { readFileSync } from "node:fs";
import pg from "pg";
import { cpuTicks, createPostgresDatabase, PG_ADMIN, SECRET_DATA, seedReader, UNLIMITED } from "./lib.js";
import { startVaultProcess } from "../src/testing/processes.js";

function writeSyscalls(pid: number): number {
  return Number(/syscw: (\d+)/.exec(readFileSync(`/proc/${pid}/io`, "utf8"))?.[1] ?? 0);
}

export interface PutCost {
  puts: number; clients: number; putsPerSecond: number;
  vaultCpuUsPerPut: number; postgresCpuUsPerPut: number; transactionsPerPut: number; vaultWriteSyscallsPerPut: number;
}

export async function measurePutCost(puts: number, clients: number): Promise<PutCost> {
  const database = await createPostgresDatabase("sv_putcost");
  const name = new URL(database.url).pathname.slice(1);
  const admin = new pg.Client({ connectionString: PG_ADMIN });
  await admin.connect();
  const vault = await startVaultProcess({ env: { ...UNLIMITED, SCAIVAULT_STORAGE_GUARDS: "false", DATABASE_URL: database.url }, entry: "dist", inheritEnv: true, cwd: "data" });
  const pid = vault.child.pid!;
  try {
    const { token } = await seedReader(vault.baseUrl, vault.adminToken, 0);
    const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
    const body = JSON.stringify({ data: SECRET_DATA, secret_type: "json", options: { max_versions: 5 } });
    const put = async (client: number) => {
      const response = await fetch(`${vault.baseUrl}/v1/secrets/bench/cost-${client}`, { method: "PUT", headers, body });
      await response.text();
      if (response.status >= 300) throw new Error(`PUT answered ${response.status}`);
    };
    const run = (count: number) => Promise.all(Array.from({ length: clients }, async (_, client) => {
      for (let i = client; i < count; i += clients) await put(client);
    }));
    const settle = () => new Promise((resolve) => setTimeout(resolve, 300));
    const backends = async () => (await admin.query("SELECT pid FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend'", [name])).rows.map((r) => r.pid as number);
    const commits = async () => Number((await admin.query("SELECT xact_commit FROM pg_stat_database WHERE datname = $1", [name])).rows[0].xact_commit);
    // Warm up: every path exists, statements are prepared, the pool is full.
    await run(Math.max(200, clients * 4));
    await settle();
    const before = await backends();
    const pg0 = before.reduce((sum, p) => sum + cpuTicks(p), 0);
    const [vault0, writes0, commits0, started] = [cpuTicks(pid), writeSyscalls(pid), await commits(), Date.now()];
    await run(puts);
    await settle();
    const elapsed = Date.now() - started;
    const [vault1, writes1] = [cpuTicks(pid), writeSyscalls(pid)];
    // Backends opened during the run count from zero.
    const pg1 = (await backends()).reduce((sum, p) => sum + cpuTicks(p), 0);
    const commits1 = await commits();
    return {
      puts, clients, putsPerSecond: Math.round((puts * 1000) / elapsed),
      vaultCpuUsPerPut: Math.round(((vault1 - vault0) * 1e4) / puts), postgresCpuUsPerPut: Math.round(((pg1 - pg0) * 1e4) / puts),
      transactionsPerPut: Number(((commits1 - commits0) / puts).toFixed(2)), vaultWriteSyscallsPerPut: Number(((writes1 - writes0) / puts).toFixed(2)),
    };
  } finally {
    await vault.stop();
    await admin.end();
    await database.drop();
  }
}

if (process.argv[1]?.endsWith("pg-put-cost.ts")) {
  const cost = await measurePutCost(Number(process.argv[2] ?? 1000), Number(process.argv[3] ?? 1));
  console.log(`${cost.clients} client(s), ${cost.puts} PUTs: ${cost.putsPerSecond} PUT/s; vault CPU ${cost.vaultCpuUsPerPut} µs/PUT, PostgreSQL CPU ${cost.postgresCpuUsPerPut} µs/PUT; ${cost.transactionsPerPut} PostgreSQL transactions and ${cost.vaultWriteSyscallsPerPut} vault write syscalls per PUT`);
  console.log(JSON.stringify(cost));
}
