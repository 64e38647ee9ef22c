/**
 * `npm run bench [-- --quick]`: every figure of the benchmark suite in one run on this machine,
 * a table, and as the last line one JSON object with every figure and the ratios to the baseline.
 * Servers run as separate processes (the built dist/main.js); autocannon drives them from here.
 */
import { createServer } from "node:http";
import { SignJWT, exportJWK, generateKeyPair } from "jose";
import { load, SECRET_DATA, seedReader, startBaseline, startVault, withPostgresDatabase, type LoadResult, type VaultChild } from "./lib.js";
import { fillSecrets } from "./fill.js";
import { measurePolicyDecisions } from "./policy-decision-core.js";

const quick = process.argv.includes("--quick");
const SECONDS = quick ? 5 : 20;
const CONNECTIONS = 64;
const BIG = quick ? 100_000 : 1_000_000;

// The documented limits would cap a benchmark at a few requests per second per identity.
const UNLIMITED: Record<string, string> = Object.fromEntries(
  ["READ", "WRITE", "DELETE", "LIST", "BATCH_READ", "POLICY", "AUTH", "AUDIT_QUERY"].map((c) => [`RATE_LIMIT_${c}`, "100000000"]),
);

/** 1,000 policies bound to the reader, none matching the path it reads: the evaluator sees them all. */
const seedVault = (vault: VaultChild) => seedReader(vault.baseUrl, vault.adminToken, 1000);

async function readLoad(vault: VaultChild, bearer: string, path = "/v1/secrets/bench/secret"): Promise<LoadResult> {
  const url = `${vault.baseUrl}${path}`;
  const init = { headers: { authorization: `Bearer ${bearer}` } };
  // A keep-alive connection left idle (e.g. during the 1,000,000-secret fill) may be closed by the
  // server's 5 s keep-alive timeout just as it is reused: one retry on a fresh connection.
  const probe = await fetch(url, init).catch(() => fetch(url, init));
  if (probe.status !== 200) throw new Error(`probe read answered ${probe.status}: ${await probe.text()}`);
  return load({ url, headers: init.headers, seconds: SECONDS, connections: CONNECTIONS });
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
  const results: Record<string, unknown> = { quick, seconds: SECONDS, connections: CONNECTIONS };
  const rows: [string, LoadResult][] = [];

  const baseline = await startBaseline();
  const base = await load({ url: `${baseline.baseUrl}/`, seconds: SECONDS, connections: CONNECTIONS });
  await baseline.stop();
  rows.push(["baseline node:http", base]);

  const sqlite = await startVault(UNLIMITED);
  const { token } = await seedVault(sqlite);
  rows.push(["read skt_ sqlite", await readLoad(sqlite, token)]);
  // What Fastify, node:http and our request hooks cost before any work: the same server answering
  // /v1/health (no credential, no storage, no audit). No route can be faster than this.
  rows.push(["floor: GET /v1/health", await load({ url: `${sqlite.baseUrl}/v1/health`, seconds: SECONDS, connections: CONNECTIONS })]);
  const write = await load({
    url: `${sqlite.baseUrl}/v1/secrets/bench/written`,
    method: "PUT",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ data: SECRET_DATA, secret_type: "json", options: { max_versions: 5 } }),
    seconds: SECONDS,
    connections: CONNECTIONS,
  });
  rows.push(["PUT new version sqlite", write]);
  await sqlite.stop();

  await withPostgresDatabase("sv_bench", async (url) => {
    const postgres = await startVault({ ...UNLIMITED, DATABASE_URL: url });
    const seeded = await seedVault(postgres);
    rows.push(["read skt_ postgres", await readLoad(postgres, seeded.token)]);
    await postgres.stop();
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

  const decisions = measurePolicyDecisions([10, 1_000, 10_000]);

  const figure = (r: LoadResult) => ({ rps: r.requestsPerSecond, p50_ms: r.p50Ms, p99_ms: r.p99Ms, errors: r.errors, non2xx: r.non2xx });
  console.log(`\nScaiVault benchmark (${quick ? "quick" : "full"}: ${SECONDS}s per run, ${CONNECTIONS} connections)\n`);
  console.log("scenario                          req/s     p50 ms   p99 ms   ratio   errors");
  for (const [name, r] of rows) {
    const ratio = (r.requestsPerSecond / base.requestsPerSecond).toFixed(2);
    console.log(`${name.padEnd(32)} ${String(r.requestsPerSecond).padStart(7)} ${String(r.p50Ms).padStart(9)} ${String(r.p99Ms).padStart(8)} ${ratio.padStart(7)} ${String(r.errors + r.non2xx).padStart(8)}`);
    results[name.replace(/[^a-z0-9]+/gi, "_").toLowerCase()] = { ...figure(r), ratio_to_baseline: Number(ratio) };
  }
  for (const [rules, micros] of Object.entries(decisions)) console.log(`policy decision, ${rules} rules: ${micros.toFixed(2)} µs`);
  results.policy_decision_us = decisions;
  console.log(JSON.stringify(results));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
