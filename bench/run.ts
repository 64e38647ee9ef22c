/**
 * `npm run bench [-- --quick]`: every figure of the benchmark suite in one run on this machine,
 * a table, and as the last line one JSON object with every figure and the ratios to the baseline.
 * Servers run as separate processes (the built dist/main.js); wrk drives them when installed, else
 * autocannon from this process (bench/lib.ts `LOAD_GENERATOR`).
 */
import { createServer } from "node:http";
import { SignJWT, exportJWK, generateKeyPair } from "jose";
import { load, LOAD_GENERATOR, SECRET_DATA, seedReader, startBaseline, startVault, UNLIMITED, withPostgresDatabase, type LoadResult, type VaultChild } from "./lib.js";
import { fillAudit, fillSecrets } from "./fill.js";
import { pgbench } from "./pg-writes.js";
import { measurePolicyDecisions } from "./policy-decision-core.js";

const quick = process.argv.includes("--quick");
const SECONDS = quick ? 5 : 20;
/**
 * Unmeasured seconds of each scenario's load before its measured run (`--no-warmup`: none, as before
 * round 14). 5 s in the quick run too: a PostgreSQL PUT climbs for ~4 s before its rate holds
 * (docs/benchmarks.md round 15), and a 2-s warm-up measured that climb.
 */
const WARMUP_SECONDS = process.argv.includes("--no-warmup") ? 0 : 5;
const CONNECTIONS = 64;
const BIG = quick ? 100_000 : 1_000_000;
/** Writes: 16 connections, as in issue 14 (and pgbench -N at the same concurrency). */
const WRITE_CONNECTIONS = 16;
/** `--audit-rows=N` (opt-in, slow): the growth scenario with N filler audit entries against 10,000. */
const AUDIT_ROWS = Number(process.argv.find((a) => a.startsWith("--audit-rows="))?.split("=")[1] ?? 0);
/** `--growth-only` (with `--audit-rows=N`): the baseline and the audit growth scenario, nothing else. */
const GROWTH_ONLY = process.argv.includes("--growth-only");
/** `--growth-backend=sqlite|postgres`: the growth scenario on one backend only (default both). */
const GROWTH_BACKEND = process.argv.find((a) => a.startsWith("--growth-backend="))?.split("=")[1] ?? "both";
/** `--growth-rounds=R`: how many times each growth cell is measured, alternating sizes (default 3; the median counts). */
const GROWTH_ROUNDS = Math.max(1, Number(process.argv.find((a) => a.startsWith("--growth-rounds="))?.split("=")[1] ?? 3));

/** 1,000 policies bound to the reader, none matching the path it reads: the evaluator sees them all. */
const seedVault = (vault: VaultChild) => seedReader(vault.baseUrl, vault.adminToken, 1000);

async function readLoad(vault: VaultChild, bearer: string, path = "/v1/secrets/bench/secret"): Promise<LoadResult> {
  const url = `${vault.baseUrl}${path}`;
  const init = { headers: { authorization: `Bearer ${bearer}` } };
  // Keep-alive connections left idle during a fill were closed by the server's 5 s keep-alive
  // timeout, and a synchronous SQLite fill blocked this process's event loop meanwhile, so the
  // pool has not noticed yet: each retry, after a pause that lets it see the closes, may meet
  // another stale socket (the 10M-entry audit fill met two).
  const probe = await fetchWithRetries(url, init);
  if (probe.status !== 200) throw new Error(`probe read answered ${probe.status}: ${await probe.text()}`);
  return load({ url, headers: init.headers, seconds: SECONDS, warmupSeconds: WARMUP_SECONDS, connections: CONNECTIONS });
}

async function fetchWithRetries(url: string, init: RequestInit): Promise<Response> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fetch(url, init);
    } catch (error) {
      if (attempt === 5) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

/**
 * PUTs of new versions at WRITE_CONNECTIONS connections. `spread`: request n goes to one of as many
 * paths as connections (n mod connections), like `pgbench -N`, whose clients update rows chosen at
 * random and skip its contended tables; otherwise every PUT goes to one path, where versions of
 * one secret are numbered one at a time under its row lock.
 */
function writeLoad(vault: VaultChild, bearer: string, spread = false): Promise<LoadResult> {
  return load({
    url: `${vault.baseUrl}/v1/secrets/bench/written`,
    paths: spread ? Array.from({ length: WRITE_CONNECTIONS }, (_, i) => `/v1/secrets/bench/w-${i}`) : undefined,
    method: "PUT",
    headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" },
    body: JSON.stringify({ data: SECRET_DATA, secret_type: "json", options: { max_versions: 5 } }),
    seconds: SECONDS,
    warmupSeconds: WARMUP_SECONDS,
    connections: WRITE_CONNECTIONS,
  });
}

/**
 * An audit query with filters, as an auditor runs it (the bench token has no audit scope: the
 * admin's). 4 connections (8 until round 20): each query holds SQLite's synchronous walk on the
 * event loop for ~20–40 ms, so 8 at once made loop turns of 200 ms and more, and the load guard
 * shed the rest of the run (`event_loop_delay`) — the scenario then measured refusals.
 */
function auditQueryLoad(vault: VaultChild): Promise<LoadResult> {
  return load({
    url: `${vault.baseUrl}/v1/audit/logs?action=read&path_prefix=bench/&limit=100`,
    headers: { authorization: `Bearer ${vault.adminToken}` },
    seconds: SECONDS,
    warmupSeconds: WARMUP_SECONDS,
    connections: 4,
  });
}

/**
 * Read, write and filtered audit query with `filler` audit entries against 10,000, on one backend.
 * Both vaults are filled first, then each scenario runs on one and on the other in turn, the order
 * reversed every round (ABBA), GROWTH_ROUNDS rounds; each cell is the median of its rounds. This
 * VM's speed drifts by tens of percent over minutes (docs/benchmarks.md round 18): measured one
 * size after the other, minutes apart, the drift reads as growth. The reads' own audit entries
 * accumulate on both sides alike ("10,000" is the count before the first round).
 */
async function auditGrowth(backend: "sqlite" | "postgres", filler: number, rows: [string, LoadResult][]): Promise<void> {
  const sizes = [10_000, filler];
  const measure = async (urls: (string | null)[]) => {
    const sides: { label: string; vault: VaultChild; token: string }[] = [];
    try {
      for (const [i, count] of sizes.entries()) {
        const url = urls[i];
        const vault = await startVault(url ? { ...UNLIMITED, DATABASE_URL: url } : UNLIMITED);
        sides.push({ label: `${backend}, ${count.toLocaleString("en")} audit entries`, vault, token: "" });
        sides[i].token = (await seedVault(vault)).token;
        await fillAudit(url ?? `sqlite:${vault.databaseFile}`, "ptn_default", "tnt_default", count);
      }
      const scenarios: [string, (side: (typeof sides)[number]) => Promise<LoadResult>][] = [
        ["read", (side) => readLoad(side.vault, side.token)],
        ["PUT", (side) => writeLoad(side.vault, side.token)],
        ["audit query", (side) => auditQueryLoad(side.vault)],
      ];
      const runs = new Map<string, LoadResult[]>();
      for (let round = 0; round < GROWTH_ROUNDS; round++) {
        for (const [what, run] of scenarios) {
          for (const side of round % 2 === 0 ? sides : [...sides].reverse()) {
            const name = `${what}, ${side.label}`;
            const result = await run(side);
            console.log(`growth round ${round + 1}: ${name}: ${result.requestsPerSecond}/s, p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms`);
            runs.set(name, [...(runs.get(name) ?? []), result]);
          }
        }
      }
      for (const [name, results] of runs) rows.push([name, medianOf(results)]);
      // Each round's two sides ran back to back: their ratio is the least touched by the drift.
      for (const [what] of scenarios) {
        const [small, big] = sides.map((side) => runs.get(`${what}, ${side.label}`) ?? []);
        const paired = (pick: (r: LoadResult) => number) => big.map((r, i) => pick(r) / Math.max(pick(small[i]), 0.01));
        const show = (ratios: number[]) => `${ratios.map((x) => `×${x.toFixed(2)}`).join(" ")} (median ×${median(ratios).toFixed(2)})`;
        console.log(`growth ${what} on ${backend}, ${sizes[1].toLocaleString("en")} vs 10,000 by round: p50 ${show(paired((r) => r.p50Ms))}, p99 ${show(paired((r) => r.p99Ms))}`);
      }
    } finally {
      for (const side of sides) await side.vault.stop();
    }
  };
  if (backend === "sqlite") await measure([null, null]);
  else await withPostgresDatabase("sv_bench_audit", (small) => withPostgresDatabase("sv_bench_audit", (big) => measure([small, big])));
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Each figure's median over runs of one scenario (errors and totals summed). */
function medianOf(results: LoadResult[]): LoadResult {
  const of = (pick: (r: LoadResult) => number, digits: number) => Number(median(results.map(pick)).toFixed(digits));
  const sum = (pick: (r: LoadResult) => number) => results.reduce((total, r) => total + pick(r), 0);
  return { requestsPerSecond: of((r) => r.requestsPerSecond, 0), p50Ms: of((r) => r.p50Ms, 2), p99Ms: of((r) => r.p99Ms, 2), errors: sum((r) => r.errors), non2xx: sum((r) => r.non2xx), total: sum((r) => r.total) };
}

async function jwksServer() {
  const { publicKey, privateKey } = await generateKeyPair("RS256");
  const jwk = { ...(await exportJWK(publicKey)), kid: "bench", alg: "RS256", use: "sig" };
  const server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return { url, privateKey, close: () => new Promise<void>((r) => server.close(() => r())) };
}

async function main(): Promise<void> {
  const results: Record<string, unknown> = { quick, seconds: SECONDS, warmup_seconds: WARMUP_SECONDS, connections: CONNECTIONS, load_generator: LOAD_GENERATOR };
  const rows: [string, LoadResult][] = [];

  const baseline = await startBaseline();
  const base = await load({ url: `${baseline.baseUrl}/`, seconds: SECONDS, warmupSeconds: WARMUP_SECONDS, connections: CONNECTIONS });
  await baseline.stop();
  rows.push(["baseline node:http", base]);

  if (!GROWTH_ONLY) await mainScenarios(results, rows);

  if (AUDIT_ROWS > 0) {
    if (GROWTH_BACKEND !== "postgres") await auditGrowth("sqlite", AUDIT_ROWS, rows);
    if (GROWTH_BACKEND !== "sqlite") await auditGrowth("postgres", AUDIT_ROWS, rows);
  }

  const decisions = GROWTH_ONLY ? {} : measurePolicyDecisions([10, 1_000, 10_000]);
  report(results, rows, base, decisions);
}

async function mainScenarios(results: Record<string, unknown>, rows: [string, LoadResult][]): Promise<void> {
  const sqlite = await startVault(UNLIMITED);
  const { token } = await seedVault(sqlite);
  rows.push(["read skt_ sqlite", await readLoad(sqlite, token)]);
  // What Fastify, node:http and our request hooks cost before any work: the same server answering
  // /v1/health (no credential, no storage, no audit). No route can be faster than this.
  rows.push(["floor: GET /v1/health", await load({ url: `${sqlite.baseUrl}/v1/health`, seconds: SECONDS, warmupSeconds: WARMUP_SECONDS, connections: CONNECTIONS })]);
  rows.push(["PUT new version sqlite", await writeLoad(sqlite, token, true)]);
  await sqlite.stop();

  await withPostgresDatabase("sv_bench", async (url) => {
    const postgres = await startVault({ ...UNLIMITED, DATABASE_URL: url });
    const seeded = await seedVault(postgres);
    rows.push(["read skt_ postgres", await readLoad(postgres, seeded.token)]);
    rows.push(["PUT new version postgres", await writeLoad(postgres, seeded.token, true)]);
    rows.push(["PUT postgres, all on one path", await writeLoad(postgres, seeded.token)]);
    await postgres.stop();
    // The same PostgreSQL's own figure for a comparable transaction, at the same concurrency, now.
    const bench = pgbench({ seconds: SECONDS, connections: WRITE_CONNECTIONS }, url);
    if (bench) {
      results.pgbench_n = bench;
      rows.push([`pgbench -N (${WRITE_CONNECTIONS} clients)`, { requestsPerSecond: bench.tps, p50Ms: bench.latencyMs, p99Ms: 0, errors: 0, non2xx: 0, total: 0 }]);
    }
  });

  const jwks = await jwksServer();
  const issuer = "https://scaikey.bench.local";
  const jwtVault = await startVault({ ...UNLIMITED, SCAIKEY_URL: issuer, SCAIKEY_JWKS_URL: jwks.url, SCAIKEY_AUDIENCE: "scaivault" });
  await seedVault(jwtVault);
  const jwt = await new SignJWT({ scope: "secrets:read", tenant_id: "tnt_default", partner_id: "ptn_default" })
    .setProtectedHeader({ alg: "RS256", kid: "bench" })
    .setSubject("sa:bench")
    .setIssuer(issuer)
    .setAudience("scaivault")
    .setIssuedAt()
    .setExpirationTime("1h")
    .sign(jwks.privateKey);
  rows.push(["read JWT sqlite", await readLoad(jwtVault, jwt)]);
  await jwtVault.stop();
  await jwks.close();

  for (const count of [1_000, BIG]) {
    const scaled = await startVault(UNLIMITED);
    const seeded = await seedVault(scaled);
    await fillSecrets(`sqlite:${scaled.databaseFile}`, "tnt_default", "ptn_default", count);
    rows.push([`read with ${count.toLocaleString("en")} secrets`, await readLoad(scaled, seeded.token)]);
    await scaled.stop();
  }
}

function report(results: Record<string, unknown>, rows: [string, LoadResult][], base: LoadResult, decisions: Record<string, number>): void {

  const figure = (r: LoadResult) => ({ rps: r.requestsPerSecond, p50_ms: r.p50Ms, p99_ms: r.p99Ms, errors: r.errors, non2xx: r.non2xx });
  console.log(`\nScaiVault benchmark (${quick ? "quick" : "full"}: ${SECONDS}s per run after ${WARMUP_SECONDS}s of warm-up, ${CONNECTIONS} connections, load by ${LOAD_GENERATOR === "wrk" ? "wrk -t1" : "autocannon"})\n`);
  console.log("scenario                          req/s     p50 ms   p99 ms   ratio   errors");
  for (const [name, r] of rows) {
    const ratio = (r.requestsPerSecond / base.requestsPerSecond).toFixed(2);
    console.log(`${name.padEnd(32)} ${String(r.requestsPerSecond).padStart(7)} ${String(r.p50Ms).padStart(9)} ${String(r.p99Ms).padStart(8)} ${ratio.padStart(7)} ${String(r.errors + r.non2xx).padStart(8)}`);
    results[name.replace(/[^a-z0-9]+/gi, "_").toLowerCase()] = { ...figure(r), ratio_to_baseline: Number(ratio) };
  }
  for (const [rules, micros] of Object.entries(decisions)) console.log(`policy decision, ${rules} rules: ${micros.toFixed(2)} µs`);
  results.policy_decision_us = decisions;
  const find = (name: string) => rows.find(([n]) => n === name)?.[1];
  const pgPut = find("PUT new version postgres");
  const bench = results.pgbench_n as { tps: number } | undefined;
  if (pgPut && bench?.tps) {
    results.put_postgres_to_pgbench_n = Number((pgPut.requestsPerSecond / bench.tps).toFixed(2));
    console.log(`PUT on PostgreSQL / pgbench -N at ${WRITE_CONNECTIONS} clients: ${results.put_postgres_to_pgbench_n} (goal ≥ 0.50)`);
  }
  if (AUDIT_ROWS > 0) {
    for (const backend of ["sqlite", "postgres"]) {
      for (const what of ["read", "PUT", "audit query"]) {
        const small = find(`${what}, ${backend}, 10,000 audit entries`);
        const big = find(`${what}, ${backend}, ${AUDIT_ROWS.toLocaleString("en")} audit entries`);
        if (!small || !big) continue;
        const p50 = big.p50Ms / Math.max(small.p50Ms, 0.01), p99 = big.p99Ms / Math.max(small.p99Ms, 0.01);
        console.log(`${what} on ${backend} at ${AUDIT_ROWS.toLocaleString("en")} vs 10,000 audit entries: p50 ×${p50.toFixed(2)}, p99 ×${p99.toFixed(2)} (goal ≤ ×1.20)`);
      }
    }
  }
  console.log(JSON.stringify(results));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
