import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault, type ApiClient } from "../testing/harness.js";
import { planOf } from "../testing/plans.js";
import { PG_URL, pgEngineWithRole, userWith, type Scratch } from "./testing.js";

const ENGINE = "quota-db";
const ROOT = "infra/quota-db/root";

/** Users of the target the vault made for role `quotaro` (`v_quotaro_…`; no other test uses the name). */
async function leaseUsersAtTarget(): Promise<number> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    return Number((await client.query<{ n: string }>("SELECT COUNT(*) AS n FROM pg_roles WHERE rolname LIKE 'v\\_quotaro\\_%'")).rows[0].n);
  } finally {
    await client.end();
  }
}

/**
 * Each lease is a user at a target: a `dynamic:read` caller generating at its rate limit with a long
 * `max_ttl` kept tens of thousands alive. An identity holds at most SCAIVAULT_MAX_LEASES_PER_IDENTITY
 * active leases (two here); the refusal comes before the target is asked.
 */
describeEachBackend("dynamic: active leases per identity", (backend) => {
  const vault = useVault(backend, { env: { SCAIVAULT_MAX_LEASES_PER_IDENTITY: "2" } });
  let target: Scratch;
  let first: ApiClient;
  let second: ApiClient;

  beforeAll(async () => {
    const { admin } = vault();
    target = await pgEngineWithRole(admin, ENGINE, ROOT, {
      name: "quotaro", creation_statements: [`CREATE ROLE "{{name}}" LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}'`], default_ttl: "1h",
    });
    first = await userWith(admin, `quota-first-${backend}`, ["dynamic:read"], [`sys/dynamic/${ENGINE}/quotaro`]);
    second = await userWith(admin, `quota-second-${backend}`, ["dynamic:read"], [`sys/dynamic/${ENGINE}/quotaro`]);
  });

  afterAll(async () => {
    await vault().admin.post("/v1/dynamic/leases/revoke-prefix", { prefix: ENGINE });
    await target?.drop();
  });

  const generate = (client: ApiClient) => client.post(`/v1/dynamic/engines/${ENGINE}/creds/quotaro`, {});

  it("refuses an identity's lease past its quota before the target is asked; a revoked one frees its place; another identity has its own", async () => {
    const made: string[] = [];
    for (let i = 0; i < 2; i++) {
      const response = await generate(first);
      // The error alone on failure: a 201's body holds the generated password.
      expect(response.status, JSON.stringify(response.body?.error ?? null)).toBe(201);
      made.push(response.body.lease_id);
    }
    const usersBefore = await leaseUsersAtTarget();
    const refused = await generate(first);
    expect(refused.status, JSON.stringify(refused.body?.error ?? null)).toBe(409);
    expect(refused.body.error).toMatchObject({ code: "quota_exceeded", details: { resource: "leases", per: "identity", limit: 2 } });
    expect(await leaseUsersAtTarget()).toBe(usersBefore);

    expect((await generate(second)).status).toBe(201);
    expect((await first.post(`/v1/dynamic/leases/${made[0]}/revoke`, {})).status).toBe(200);
    expect((await generate(first)).status).toBe(201);
    expect((await generate(first)).status).toBe(409);
    // Counted along the active leases of the identity alone (SQLite's plan; PostgreSQL's follows its statistics).
    if (backend === "sqlite") {
      const plan = await planOf(vault().vault.db, "SELECT COUNT(*) AS n FROM dynamic_leases WHERE tenant_id = ? AND identity_id = ? AND state = 'active'", ["tnt_default", "user:x"]);
      expect(plan).toMatch(/dynamic_leases_identity_state/);
    }
  });
});
