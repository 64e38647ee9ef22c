import { afterAll, beforeAll, expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { grantEngineRoot, pgScratch, psql, scramCluster, until, type Scratch } from "./testing.js";

/** Password checks need a cluster that checks them: one scram-sha-256 cluster for this file, on its own port. */
let cluster: Awaited<ReturnType<typeof scramCluster>>;
beforeAll(async () => {
  cluster = await scramCluster();
}, 120_000);
afterAll(async () => {
  await cluster?.stop();
});

describeEachBackend("dynamic: passwords checked by scram-sha-256, root rotation", (backend) => {
  const vault = useVault(backend);
  let pg: Scratch;
  const ROOT = "infra/scram/root";

  beforeAll(async () => {
    pg = await pgScratch(cluster.adminUrl);
    await grantEngineRoot(vault().admin, "scram", ROOT, { username: pg.rootUser, password: pg.rootPassword });
    const created = await vault().admin.post("/v1/dynamic/engines", { name: "scram", type: "database", config: { plugin: "postgresql", connection_url: pg.connectionUrl, root_credentials_path: ROOT } });
    if (created.status !== 201) throw new Error(created.text);
    await vault().admin.post("/v1/dynamic/engines/scram/roles", { name: "ro", creation_statements: [`CREATE ROLE "{{name}}" LOGIN PASSWORD '{{password}}'; GRANT SELECT ON items TO "{{name}}"`] });
  });
  afterAll(async () => {
    await pg?.drop();
  });

  it("a lease's password is the one the cluster checks, and only that one", async () => {
    const { admin } = vault();
    const lease = await admin.post("/v1/dynamic/engines/scram/creds/ro");
    expect(lease.status, lease.text).toBe(201);
    const { username, password } = lease.body.data;
    expect((await psql(pg, username, password, "SELECT count(*) FROM items")).stdout.trim()).toBe("2");
    // One character changed: never to the one it was (a password ending in "x" made this pass 1 time in 62).
    const wrong = await psql(pg, username, `${password.slice(0, -1)}${password.endsWith("x") ? "y" : "x"}`, "SELECT 1");
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/password authentication failed/);
    await admin.post(`/v1/dynamic/leases/${lease.body.lease_id}/revoke`);
    expect((await psql(pg, username, password, "SELECT 1")).stderr).toMatch(/password authentication failed|does not exist/);
  });

  it("rotate-root sets a new password at the source and writes it as the root secret's next version", async () => {
    const { admin, vault: v } = vault();
    const rotated = await admin.post("/v1/dynamic/engines/scram/rotate-root");
    expect(rotated.status, rotated.text).toBe(200);
    expect(rotated.body).toMatchObject({ engine: "scram", version: 2 });
    const secret = await admin.get(`/v1/secrets/${ROOT}`);
    expect(secret.body.version).toBe(2);
    const fresh = secret.body.data.password as string;
    expect(fresh).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(secret.body.data.username).toBe(pg.rootUser);
    expect((await psql(pg, pg.rootUser, pg.rootPassword, "SELECT 1")).stderr).toMatch(/password authentication failed/);
    expect((await psql(pg, pg.rootUser, fresh, "SELECT 1")).stdout.trim()).toBe("1");
    // The engine reads the new version at once.
    const lease = await admin.post("/v1/dynamic/engines/scram/creds/ro");
    expect(lease.status, lease.text).toBe(201);
    await admin.post(`/v1/dynamic/leases/${lease.body.lease_id}/revoke`);
    const events = await v.db.all<{ data: string; identity_id: string }>("SELECT data, identity_id FROM events WHERE event_type = 'engine.root_rotated'");
    expect(events.map((e) => JSON.parse(e.data))).toEqual([expect.objectContaining({ engine: "scram", version: 2 })]);
    const writes = await admin.get(`/v1/audit/logs?identity_id=${encodeURIComponent("dynamic:scram")}&action=rotate`);
    expect(writes.body.logs[0]).toMatchObject({ secret_path: ROOT, success: true });
    const all = JSON.stringify(await v.db.all("SELECT * FROM audit_log")) + JSON.stringify(await v.db.all("SELECT * FROM events")) + vault().logs.join("");
    expect(all.includes(fresh)).toBe(false);
  });

  it("rotates on schedule (root_rotation_interval), and refuses when the engine's policy grants neither rotate nor write", async () => {
    const { admin } = vault();
    expect((await admin.patch("/v1/dynamic/engines/scram", { config: { root_rotation_interval: "1s" } })).status).toBe(200);
    const rotated = await until(() => admin.get(`/v1/secrets/${ROOT}`), (r) => r.body.version >= 3);
    expect((await admin.patch("/v1/dynamic/engines/scram", { config: { root_rotation_interval: null } })).status).toBe(200);
    const latest = (await admin.get(`/v1/secrets/${ROOT}`)).body;
    expect(latest.version).toBeGreaterThanOrEqual(rotated.body.version);
    expect((await psql(pg, pg.rootUser, latest.data.password, "SELECT 1")).stdout.trim()).toBe("1");
    expect((await admin.get("/v1/dynamic/engines/scram")).body.last_root_rotation_at).not.toBeNull();

    await grantEngineRoot(admin, "readonly-root", "infra/scram/ro-root", { username: pg.rootUser, password: latest.data.password }, ["read"]);
    expect((await admin.post("/v1/dynamic/engines", { name: "readonly-root", type: "database", config: { plugin: "postgresql", connection_url: pg.connectionUrl, root_credentials_path: "infra/scram/ro-root" } })).status).toBe(201);
    const refused = await admin.post("/v1/dynamic/engines/readonly-root/rotate-root");
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatchObject({ code: "invalid_config", details: { reason: "root_credentials_denied" } });
    expect((await psql(pg, pg.rootUser, latest.data.password, "SELECT 1")).stdout.trim()).toBe("1");
  });
});
