import { afterAll, beforeAll, expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { everyStoredValue } from "../testing/stored-bytes.js";
import { grantEngineRoot, pgRoleExists, pgScratch, psql, until, userWith, type Scratch } from "./testing.js";

const ROOT_PATH = "infra/postgres/support/root";
const READONLY = {
  name: "readonly",
  creation_statements: [`CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}'; GRANT SELECT ON items TO "{{name}}"`],
  default_ttl: "1h",
  max_ttl: "2h",
};

describeEachBackend("dynamic: postgresql engine, role, lease lifecycle", (backend) => {
  const vault = useVault(backend);
  let pg: Scratch;
  const passwords: string[] = [];

  beforeAll(async () => {
    pg = await pgScratch();
    passwords.push(pg.rootPassword);
    await grantEngineRoot(vault().admin, "support-db", ROOT_PATH, { username: pg.rootUser, password: pg.rootPassword });
  });
  afterAll(async () => {
    await pg?.drop();
  });

  it("creates the engine as the docs show, reading the root credentials as dynamic:support-db (audited)", async () => {
    const { admin } = vault();
    const created = await admin.post("/v1/dynamic/engines", {
      name: "support-db", type: "database",
      config: { plugin: "postgresql", connection_url: pg.connectionUrl, root_credentials_path: ROOT_PATH },
      default_ttl: "1h", max_ttl: "24h",
    });
    expect(created.status, created.text).toBe(201);
    expect(created.body).toMatchObject({ name: "support-db", type: "database", identity_id: "dynamic:support-db", status: "healthy", leases_active: 0, default_ttl: "1h", max_ttl: "24h" });
    expect(created.body.id).toMatch(/^eng_[A-Za-z0-9]{20}$/);
    expect(created.body.config.connection_url).toBe(pg.connectionUrl);
    const logs = await admin.get(`/v1/audit/logs?identity_id=${encodeURIComponent("dynamic:support-db")}&action=read`);
    expect(logs.status).toBe(200);
    expect(logs.body.logs.length).toBeGreaterThanOrEqual(1);
    expect(logs.body.logs[0]).toMatchObject({ identity_type: "system", secret_path: ROOT_PATH, success: true });
    expect((await admin.post("/v1/dynamic/engines", { name: "support-db", type: "database", config: { plugin: "postgresql", connection_url: pg.connectionUrl, root_credentials_path: ROOT_PATH } })).status).toBe(409);
  });

  it("issues a lease whose user logs in and runs what the role grants and nothing more", async () => {
    const { admin } = vault();
    const role = await admin.post("/v1/dynamic/engines/support-db/roles", READONLY);
    expect(role.status, role.text).toBe(201);
    const lease = await admin.post("/v1/dynamic/engines/support-db/creds/readonly");
    expect(lease.status, lease.text).toBe(201);
    const { username, password } = lease.body.data;
    pg.track(username);
    passwords.push(password);
    expect(username).toMatch(/^v_readonly_[a-z0-9]{10}$/);
    expect(password).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(lease.body).toMatchObject({ engine: "support-db", role: "readonly", renewable: true, state: "active", lease_duration: 3600 });
    expect(lease.body.lease_id).toMatch(/^lease_/);

    expect((await psql(pg, username, password, "SELECT count(*) FROM items")).stdout.trim()).toBe("2");
    const write = await psql(pg, username, password, "INSERT INTO items VALUES (3, 'three')");
    expect(write.code).not.toBe(0);
    expect(write.stderr).toMatch(/permission denied/);
    expect((await psql(pg, username, password, "SELECT * FROM secrets_table")).stderr).toMatch(/permission denied/);

    const shown = await admin.get(`/v1/dynamic/leases/${lease.body.lease_id}`);
    expect(shown.status).toBe(200);
    expect(shown.body.data).toBeUndefined();
    expect(shown.body.identity_id).toBe((await admin.get("/v1/auth/whoami")).body.identity_id);
    expect(shown.body).toMatchObject({ state: "active", username, revoke_attempts: 0 });
    expect((await admin.get("/v1/dynamic/engines/support-db")).body.leases_active).toBe(1);
  });

  it("renews up to max_ttl only, then revokes at the source before answering", async () => {
    const { admin } = vault();
    const lease = await admin.post("/v1/dynamic/engines/support-db/creds/readonly", { ttl: "10m" });
    expect(lease.status).toBe(201);
    pg.track(lease.body.data.username);
    expect(lease.body.lease_duration).toBe(600);
    const id = lease.body.lease_id;
    const renewed = await admin.post(`/v1/dynamic/leases/${id}/renew`, { increment: "30m" });
    expect(renewed.status, renewed.text).toBe(200);
    expect(Date.parse(renewed.body.expires_at)).toBeGreaterThan(Date.parse(lease.body.expires_at));
    const capped = await admin.post(`/v1/dynamic/leases/${id}/renew`, { increment: "48h" });
    expect(capped.status).toBe(200);
    expect(capped.body.expires_at).toBe(capped.body.max_expires_at);
    expect(capped.body.renewable).toBe(false);
    expect(Date.parse(capped.body.max_expires_at) - Date.parse(lease.body.created_at)).toBe(2 * 3600_000);

    const revoked = await admin.post(`/v1/dynamic/leases/${id}/revoke`);
    expect(revoked.status, revoked.text).toBe(200);
    expect(revoked.body).toMatchObject({ state: "revoked", revoke_reason: "revoked" });
    expect(await pgRoleExists(lease.body.data.username)).toBe(false);
    expect((await psql(pg, lease.body.data.username, lease.body.data.password, "SELECT 1")).code).not.toBe(0);
    expect((await admin.post(`/v1/dynamic/leases/${id}/revoke`)).body.state).toBe("revoked");
    const again = await admin.post(`/v1/dynamic/leases/${id}/renew`);
    expect(again.status).toBe(410);
    expect(again.body.error.code).toBe("lease_revoked");
  });

  it("expires a lease at the source without any call", async () => {
    const { admin } = vault();
    const lease = await admin.post("/v1/dynamic/engines/support-db/creds/readonly", { ttl: "2s" });
    expect(lease.status).toBe(201);
    pg.track(lease.body.data.username);
    const ended = await until(() => admin.get(`/v1/dynamic/leases/${lease.body.lease_id}`), (r) => r.body.state === "expired");
    expect(ended.body).toMatchObject({ revoke_reason: "expired", revoke_attempts: 1 });
    expect(await pgRoleExists(lease.body.data.username)).toBe(false);
    const login = await psql(pg, lease.body.data.username, lease.body.data.password, "SELECT 1");
    expect(login.code).not.toBe(0);
    expect(login.stderr).toMatch(/does not exist/);
    // A hang detector, not a speed check: revoked after expires_at, and within 30 s of it (15× the 2 s poll target).
    const lag = Date.parse(ended.body.revoked_at) - Date.parse(ended.body.expires_at);
    expect(lag).toBeGreaterThanOrEqual(0);
    expect(lag).toBeLessThan(30_000);
  });

  it("needs read on sys/dynamic/<engine>/<role> as well as the scope, and hides other identities' leases", async () => {
    const { admin } = vault();
    const noPolicy = await userWith(admin, `np-${backend}`, ["dynamic:read"], []);
    const denied = await noPolicy.post("/v1/dynamic/engines/support-db/creds/readonly");
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe("access_denied");
    const missing = await noPolicy.post("/v1/dynamic/engines/nope/creds/readonly");
    expect(missing.status).toBe(403);
    const noScope = await userWith(admin, `ns-${backend}`, ["secrets:read"], ["sys/dynamic/support-db/*"]);
    expect((await noScope.post("/v1/dynamic/engines/support-db/creds/readonly")).body.error.code).toBe("insufficient_scope");
    const app = await userWith(admin, `app-${backend}`, ["dynamic:read"], ["sys/dynamic/support-db/*"]);
    const lease = await app.post("/v1/dynamic/engines/support-db/creds/readonly");
    expect(lease.status, lease.text).toBe(201);
    pg.track(lease.body.data.username);
    expect((await app.get(`/v1/dynamic/leases/${lease.body.lease_id}`)).body.identity_id).toBe(`user:app-${backend}`);
    const other = await userWith(admin, `other-${backend}`, ["dynamic:read"], ["sys/dynamic/support-db/*"]);
    const hidden = await other.get(`/v1/dynamic/leases/${lease.body.lease_id}`);
    expect(hidden.status).toBe(404);
    expect(hidden.body.error.code).toBe("lease_not_found");
    expect((await other.post(`/v1/dynamic/leases/${lease.body.lease_id}/revoke`)).status).toBe(404);
    const mine = await app.get("/v1/dynamic/leases");
    expect(mine.body.data.map((l: { lease_id: string }) => l.lease_id)).toEqual([lease.body.lease_id]);
    expect((await app.post(`/v1/dynamic/leases/${lease.body.lease_id}/revoke`)).body.state).toBe("revoked");
  });

  it("refuses an engine whose root secret the caller cannot read, or whose identity has no policy", async () => {
    const { admin } = vault();
    const manager = await userWith(admin, `mgr-${backend}`, ["dynamic:manage"], ["other/*"]);
    const redirected = await manager.post("/v1/dynamic/engines", { name: "evil", type: "database", config: { plugin: "postgresql", connection_url: "postgresql://{{username}}:{{password}}@attacker.example:5432/x", root_credentials_path: ROOT_PATH } });
    expect(redirected.status).toBe(403);
    expect(redirected.body.error).toMatchObject({ code: "access_denied", details: { reason: "grant_exceeds_caller" } });
    const patched = await manager.patch("/v1/dynamic/engines/support-db", { config: { connection_url: "postgresql://{{username}}:{{password}}@attacker.example:5432/x" } });
    expect(patched.status).toBe(403);
    expect(patched.body.error.details.reason).toBe("grant_exceeds_caller");
    const repointed = await manager.patch("/v1/dynamic/engines/support-db", { config: { root_credentials_path: "infra/someone-elses/root" } });
    expect(repointed.status).toBe(403);
    expect(repointed.body.error.details).toMatchObject({ reason: "grant_exceeds_caller", path: "infra/someone-elses/root" });
    // A TTL change needs only the scope; the connection stayed as it was.
    const ttl = await manager.patch("/v1/dynamic/engines/support-db", { default_ttl: "2h" });
    expect(ttl.status, ttl.text).toBe(200);
    expect(ttl.body.config).toMatchObject({ connection_url: pg.connectionUrl, root_credentials_path: ROOT_PATH });
    expect((await manager.patch("/v1/dynamic/engines/support-db", { default_ttl: "1h" })).status).toBe(200);

    const unbound = await admin.post("/v1/dynamic/engines", { name: "unbound", type: "database", config: { plugin: "postgresql", connection_url: pg.connectionUrl, root_credentials_path: ROOT_PATH } });
    expect(unbound.status).toBe(400);
    expect(unbound.body.error).toMatchObject({ code: "invalid_config", details: { reason: "root_credentials_denied" } });
    const denials = await admin.get(`/v1/audit/logs?identity_id=${encodeURIComponent("dynamic:unbound")}`);
    expect(denials.body.logs[0]).toMatchObject({ action: "read", success: false, secret_path: ROOT_PATH });

    await admin.put("/v1/secrets/infra/wrongpw/root", { data: { username: pg.rootUser, password: "wrong" } });
    const bad = await admin.post("/v1/dynamic/engines", { name: "later", type: "mongodb", config: {} });
    expect(bad.status).toBe(422);
  });

  it("never writes a password into logs, audit entries or events", async () => {
    const { vault: v, logs } = vault();
    const audit = JSON.stringify(await v.db.all("SELECT * FROM audit_log"));
    const events = JSON.stringify(await v.db.all("SELECT * FROM events"));
    const logText = logs.join("\n");
    expect(passwords.length).toBeGreaterThanOrEqual(2);
    for (const secret of passwords) {
      expect(audit.includes(secret)).toBe(false);
      expect(events.includes(secret)).toBe(false);
      expect(logText.includes(secret)).toBe(false);
    }
    // Nor anywhere in what is stored (the SQLite file or every PostgreSQL value): root passwords live
    // only encrypted in their secret, lease passwords nowhere.
    const stored = await everyStoredValue(vault());
    for (const secret of passwords) expect(stored.some((bytes) => bytes.includes(secret)), "stored in plaintext").toBe(false);
    // The scan does see the dynamic tables: the engine's URL template is stored as given.
    expect(stored.some((bytes) => bytes.includes(pg.connectionUrl))).toBe(true);
    const types = (await v.db.all<{ event_type: string }>("SELECT event_type FROM events WHERE event_type LIKE 'lease.%'")).map((e) => e.event_type);
    expect(types).toEqual(expect.arrayContaining(["lease.created", "lease.renewed", "lease.revoked", "lease.expired"]));
  });
});
