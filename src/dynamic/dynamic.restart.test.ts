import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeEachBackend, scratchDatabase, type ScratchDatabase } from "../testing/backends.js";
import { ApiClient, useSecondNode, useVault } from "../testing/harness.js";
import { exited, startVaultProcess, type VaultProcess } from "../testing/processes.js";
import pgDriver from "pg";
import { grantEngineRoot, PG_URL, pgRoleExists, pgScratch, until, type Scratch } from "./testing.js";

const ROLE = { name: "ro", creation_statements: [`CREATE ROLE "{{name}}" LOGIN PASSWORD '{{password}}'; GRANT SELECT ON items TO "{{name}}"`] };
/**
 * Each revocation that reaches the source leaves a row in the scratch database's revocations table
 * (in the same transaction as the DROP, so an attempt that failed leaves none): the test counts
 * revocations at the source, not only what the vault recorded.
 */
const COUNTED = {
  ...ROLE,
  revocation_statements: [`INSERT INTO revocations VALUES ('{{name}}')`, `REVOKE ALL PRIVILEGES ON ALL TABLES IN SCHEMA public FROM "{{name}}"; DROP ROLE IF EXISTS "{{name}}"`],
};

/** Runs `work` as the test server's superuser in the scratch database. */
async function inScratch<T>(target: Scratch, work: (client: pgDriver.Client) => Promise<T>): Promise<T> {
  const url = new URL(PG_URL);
  url.pathname = `/${target.database}`;
  const client = new pgDriver.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

async function revocationsAtSource(target: Scratch): Promise<Map<string, number>> {
  return inScratch(target, async (client) => {
    const rows = (await client.query<{ username: string; n: string }>("SELECT username, count(*) AS n FROM revocations GROUP BY username")).rows;
    return new Map(rows.map((r) => [r.username, Number(r.n)]));
  });
}

describeEachBackend("dynamic: expiry across nodes and restarts", (backend) => {
  const vault = useVault(backend);
  const second = useSecondNode(vault);
  let pg: Scratch;

  beforeAll(async () => {
    pg = await pgScratch();
    await inScratch(pg, async (client) => {
      await client.query("CREATE TABLE revocations (username TEXT NOT NULL)");
      await client.query(`GRANT INSERT ON revocations TO ${pg.rootUser}`);
    });
    await grantEngineRoot(vault().admin, "shared", "infra/shared/root", { username: pg.rootUser, password: pg.rootPassword });
    const created = await vault().admin.post("/v1/dynamic/engines", { name: "shared", type: "database", config: { plugin: "postgresql", connection_url: pg.connectionUrl, root_credentials_path: "infra/shared/root" } });
    if (created.status !== 201) throw new Error(created.text);
    const role = await vault().admin.post("/v1/dynamic/engines/shared/roles", COUNTED);
    if (role.status !== 201) throw new Error(role.text);
  });
  afterAll(async () => {
    await pg?.drop();
  });

  it("two nodes sharing the database revoke each expired lease exactly once", async () => {
    const { admin, vault: v } = vault();
    const ids: string[] = [];
    const users: string[] = [];
    for (let i = 0; i < 6; i++) {
      const client = i % 2 === 0 ? admin : second();
      const lease = await client.post("/v1/dynamic/engines/shared/creds/ro", { ttl: "2s" });
      expect(lease.status, lease.text).toBe(201);
      pg.track(lease.body.data.username);
      ids.push(lease.body.lease_id);
      users.push(lease.body.data.username);
    }
    for (const id of ids) await until(() => admin.get(`/v1/dynamic/leases/${id}`), (r) => r.body.state === "expired");
    const expired = await v.db.all<{ data: string }>("SELECT data FROM events WHERE event_type = 'lease.expired'");
    const perLease = ids.map((id) => expired.filter((e) => JSON.parse(e.data).lease_id === id).length);
    expect(perLease).toEqual([1, 1, 1, 1, 1, 1]);
    // A failed attempt (the loaded machine can time one out) is retried and audited too; the
    // revocation that succeeded is recorded once per lease, whichever node made it.
    const audit = await v.db.all<{ extra_data: string }>("SELECT extra_data FROM audit_log WHERE action = 'dynamic_expire' AND success = 1");
    expect(ids.map((id) => audit.filter((a) => a.extra_data.includes(id)).length)).toEqual([1, 1, 1, 1, 1, 1]);
    // And at the source: each user's revocation statements committed exactly once, whichever node ran them.
    const counted = await revocationsAtSource(pg);
    expect(users.map((u) => counted.get(u) ?? 0)).toEqual([1, 1, 1, 1, 1, 1]);
    for (const u of users) expect(await pgRoleExists(u)).toBe(false);
  });
});

describeEachBackend("dynamic: kill -9 before expiry", (backend) => {
  let db: ScratchDatabase;
  let pg: Scratch;
  let proc: VaultProcess | null = null;
  const env: Record<string, string> = { KMS_LOCAL_KEY: randomBytes(32).toString("base64"), SCAIVAULT_BOOTSTRAP_TOKEN: `skt_${randomBytes(32).toString("base64url")}` };

  beforeAll(async () => {
    db = await scratchDatabase(backend);
    pg = await pgScratch();
    env.DATABASE_URL = db.url;
  });
  afterAll(async () => {
    if (proc) await proc.stop();
    await pg?.drop();
    await db?.drop();
  });

  it("a lease whose vault was killed before its expiry is revoked at the source after the restart", async () => {
    proc = await startVaultProcess({ env, timeoutMs: 120_000 });
    let admin = new ApiClient(proc.baseUrl, proc.adminToken);
    await grantEngineRoot(admin, "crashy", "infra/crashy/root", { username: pg.rootUser, password: pg.rootPassword });
    expect((await admin.post("/v1/dynamic/engines", { name: "crashy", type: "database", config: { plugin: "postgresql", connection_url: pg.connectionUrl, root_credentials_path: "infra/crashy/root" } })).status).toBe(201);
    await admin.post("/v1/dynamic/engines/crashy/roles", ROLE);
    const lease = await admin.post("/v1/dynamic/engines/crashy/creds/ro", { ttl: "3s" });
    expect(lease.status, lease.text).toBe(201);
    pg.track(lease.body.data.username);

    proc.child.kill("SIGKILL");
    await exited(proc.child);
    proc = null;
    // Wait (on the clock, not asserting on it) until the lease has ended with no vault running.
    const endsAt = Date.parse(lease.body.expires_at);
    while (Date.now() < endsAt + 500) await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await pgRoleExists(lease.body.data.username)).toBe(true);

    proc = await startVaultProcess({ env, timeoutMs: 120_000 });
    admin = new ApiClient(proc.baseUrl, proc.adminToken);
    const ended = await until(() => admin.get(`/v1/dynamic/leases/${lease.body.lease_id}`), (r) => r.body.state === "expired");
    expect(ended.body.revoke_attempts).toBeGreaterThanOrEqual(1);
    expect(await pgRoleExists(lease.body.data.username)).toBe(false);
  }, 300_000);
});
