/**
 * One policy decision with 10 / 1,000 / 10,000 rules bound to the caller:
 *   - spread:   rules over many top-level folders (the first-segment index narrows the scan);
 *   - shared:   every rule under the same first segment as the path, the matching rule last
 *               (the trie of literal leading segments still narrows the scan);
 *   - wildcard: every rule starts with a wildcard, the matching rule last: nothing narrows the
 *               scan, every compiled RegExp is tested (the true worst case);
 *   - compile:  building the compiled set from scratch (a cache miss after a policy change);
 *   - request:  what a request pays on a cache hit: the access-epoch read + lookup + decision,
 *               on SQLite and (when reachable) PostgreSQL.
 * Run: npx tsx bench/policy-decision.ts
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { Authorizer, CompiledPolicySet } from "../src/access/authorizer.js";
import type { Policy, PolicyRule } from "../src/access/policy-model.js";
import { PolicyStore } from "../src/access/policy-store.js";
import { ALL_MIGRATIONS } from "../src/storage/migrations.js";
import { openDatabase } from "../src/storage/open.js";
import type { Database } from "../src/storage/contract.js";

const SIZES = [10, 1_000, 10_000];
const context = { sourceIp: "10.0.0.1", mfaVerifiedAt: null, now: Date.now() };

function policy(rules: PolicyRule[]): Policy {
  const now = Date.now();
  return { id: "pol_bench", partnerId: "ptn_bench", tenantId: "tnt_bench", scope: "tenant", name: "bench", description: null, rules, builtin: false, isActive: true, createdAt: now, updatedAt: now };
}

const spread = (n: number): PolicyRule[] =>
  Array.from({ length: n }, (_, i) => ({ path_pattern: `app-${i % 500}/svc-${i}/**`, permissions: ["read", "list"] }));
const shared = (n: number): PolicyRule[] => [
  ...Array.from({ length: n - 1 }, (_, i) => ({ path_pattern: `bench/team-${i}/**/db-*`, permissions: ["read"] as PolicyRule["permissions"] })),
  { path_pattern: "bench/**", permissions: ["read"] },
];

const wildcard = (n: number): PolicyRule[] => [
  ...Array.from({ length: n - 1 }, (_, i) => ({ path_pattern: `*/team-${i}/**/db-*`, permissions: ["read"] as PolicyRule["permissions"] })),
  { path_pattern: "**", permissions: ["read"] },
];

/** Microseconds per call: median of 7 timed batches after a warm-up batch. */
function micros(work: () => void, iterations: number): number {
  for (let i = 0; i < iterations; i++) work();
  const samples: number[] = [];
  for (let batch = 0; batch < 7; batch++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) work();
    samples.push(Number(process.hrtime.bigint() - start) / 1000 / iterations);
  }
  return samples.sort((a, b) => a - b)[3];
}

async function microsAsync(work: () => Promise<void>, iterations: number): Promise<number> {
  for (let i = 0; i < iterations; i++) await work();
  const samples: number[] = [];
  for (let batch = 0; batch < 5; batch++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) await work();
    samples.push(Number(process.hrtime.bigint() - start) / 1000 / iterations);
  }
  return samples.sort((a, b) => a - b)[2];
}

function decisions(): void {
  console.log("rules   | spread µs | shared µs | wildcard (worst) µs | compile ms");
  for (const n of SIZES) {
    const spreadSet = new CompiledPolicySet([policy(spread(n))]);
    const sharedSet = new CompiledPolicySet([policy(shared(n))]);
    const wildSet = new CompiledPolicySet([policy(wildcard(n))]);
    const target = `app-${(n - 1) % 500}/svc-${n - 1}/db/password`;
    if (!spreadSet.decide(target, "read", context).allowed || !sharedSet.decide("bench/app/secret", "read", context).allowed) throw new Error("expected allow");
    const iterations = Math.max(200, Math.floor(2_000_000 / n));
    const a = micros(() => void spreadSet.decide(target, "read", context), Math.max(20_000, iterations));
    const b = micros(() => void sharedSet.decide("bench/app/secret", "read", context), Math.max(20_000, iterations));
    if (!wildSet.decide("bench/app/secret", "read", context).allowed) throw new Error("expected allow");
    const w = micros(() => void wildSet.decide("bench/app/secret", "read", context), iterations);
    const rules = [policy(spread(n))];
    const c = micros(() => void new CompiledPolicySet(rules), Math.max(5, Math.floor(20_000 / n))) / 1000;
    console.log(`${String(n).padStart(7)} | ${a.toFixed(3).padStart(9)} | ${b.toFixed(3).padStart(9)} | ${w.toFixed(3).padStart(19)} | ${c.toFixed(3).padStart(10)}`);
  }
}

async function seed(db: Database, n: number): Promise<void> {
  await db.migrate(ALL_MIGRATIONS);
  const store = new PolicyStore(db);
  await db.transaction(async (tx) => {
    await store.insertPolicy({ ...policy(spread(n)), id: `pol_bench_${n}`, name: `bench-${n}` }, tx);
    await store.insertBinding({ id: `bnd_bench_${n}`, policyId: `pol_bench_${n}`, partnerId: "ptn_bench", tenantId: "tnt_bench", identityType: "service_account", identityId: `sa:bench-${n}`, expiresAt: null, createdAt: Date.now() }, tx);
  });
}

async function perRequest(label: string, db: Database): Promise<void> {
  const authorizer = new Authorizer(new PolicyStore(db));
  for (const n of SIZES) await seed(db, n);
  const row: string[] = [];
  for (const n of SIZES) {
    const target = `app-${(n - 1) % 500}/svc-${n - 1}/db/password`;
    const us = await microsAsync(async () => {
      const set = await authorizer.compiledFor("ptn_bench", "tnt_bench", [`sa:bench-${n}`]);
      if (!set.decide(target, "read", context).allowed) throw new Error("expected allow");
    }, 2000);
    row.push(`${n}: ${us.toFixed(1)} µs`);
  }
  console.log(`request on a cache hit (epoch read + lookup + decision), ${label}: ${row.join(", ")}`);
}

async function main(): Promise<void> {
  decisions();
  const dir = mkdtempSync(join(tmpdir(), "scaivault-bench-"));
  const sqlite = openDatabase(`sqlite:${join(dir, "bench.db")}`);
  try {
    await perRequest("SQLite", sqlite);
  } finally {
    await sqlite.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const adminUrl = process.env.SCAIVAULT_TEST_PG_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
  const name = `sv_bench_${process.pid}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  try {
    await admin.connect();
  } catch {
    console.log("PostgreSQL not reachable: skipped");
    return;
  }
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const postgres = openDatabase(url.toString(), { poolSize: 4 });
  try {
    await perRequest("PostgreSQL (local)", postgres);
  } finally {
    await postgres.close();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

await main();
