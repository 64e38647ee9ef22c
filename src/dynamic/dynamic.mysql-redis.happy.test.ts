import { afterAll, beforeAll, expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { randomBytes } from "node:crypto";
import mysql from "mysql2/promise";
import { grantEngineRoot, MARIADB_URL, mariadb, mariaScratch, redisCli, redisScratch, until, type Scratch } from "./testing.js";

describeEachBackend("dynamic: mysql (MariaDB) and redis (ACL users) engines", (backend) => {
  const vault = useVault(backend);
  let maria: Scratch;
  let redis: Scratch & { prefix: string };
  const passwords: string[] = [];

  beforeAll(async () => {
    maria = await mariaScratch();
    redis = await redisScratch();
    passwords.push(maria.rootPassword, redis.rootPassword);
    await grantEngineRoot(vault().admin, "shop-db", "infra/mysql/shop/root", { username: maria.rootUser, password: maria.rootPassword });
    await grantEngineRoot(vault().admin, "cache", "infra/redis/cache/root", { username: redis.rootUser, password: redis.rootPassword });
  });
  afterAll(async () => {
    await maria?.drop();
    await redis?.drop();
  });

  it("mysql: a lease user reads the scratch database, may not write, and cannot log in once revoked", async () => {
    const { admin } = vault();
    const engine = await admin.post("/v1/dynamic/engines", { name: "shop-db", type: "database.mysql", config: { connection_url: maria.connectionUrl, root_credentials_path: "infra/mysql/shop/root" } });
    expect(engine.status, engine.text).toBe(201);
    expect(engine.body.config.plugin).toBe("mysql");
    const role = await admin.post("/v1/dynamic/engines/shop-db/roles", {
      name: "reader",
      creation_statements: [`CREATE USER '{{name}}'@'%' IDENTIFIED BY '{{password}}'; GRANT SELECT ON ${maria.database}.items TO '{{name}}'@'%'`],
    });
    expect(role.status, role.text).toBe(201);
    expect(role.body.revocation_statements).toEqual(["DROP USER IF EXISTS '{{name}}'@'%'"]);
    const lease = await admin.post("/v1/dynamic/engines/shop-db/creds/reader", { ttl: "5m" });
    expect(lease.status, lease.text).toBe(201);
    const { username, password } = lease.body.data;
    maria.track(username);
    passwords.push(password);
    expect((await mariadb(maria, username, password, "SELECT COUNT(*) FROM items")).stdout.trim()).toBe("2");
    const write = await mariadb(maria, username, password, "INSERT INTO items VALUES (3, 'x')");
    expect(write.code).not.toBe(0);
    expect(write.stderr).toMatch(/denied/i);

    const revoked = await admin.delete(`/v1/dynamic/leases/${lease.body.lease_id}`);
    expect(revoked.status, revoked.text).toBe(200);
    expect(revoked.body.state).toBe("revoked");
    const login = await mariadb(maria, username, password, "SELECT 1");
    expect(login.code).not.toBe(0);
    expect(login.stderr).toMatch(/Access denied/);
  });

  it("mysql: an expired lease's user cannot log in, with no call made", async () => {
    const { admin } = vault();
    const lease = await admin.post("/v1/dynamic/engines/shop-db/creds/reader", { ttl: "2s" });
    expect(lease.status, lease.text).toBe(201);
    const { username, password } = lease.body.data;
    maria.track(username);
    passwords.push(password);
    expect((await mariadb(maria, username, password, "SELECT COUNT(*) FROM items")).stdout.trim()).toBe("2");
    const ended = await until(() => admin.get(`/v1/dynamic/leases/${lease.body.lease_id}`), (r) => r.body.state === "expired");
    expect(ended.body.revoke_reason).toBe("expired");
    const login = await mariadb(maria, username, password, "SELECT 1");
    expect(login.code).not.toBe(0);
    expect(login.stderr).toMatch(/Access denied/);
  });

  it("mysql: a failing creation statement answers 502 naming the statement, with no lease and no user left behind", async () => {
    const { admin } = vault();
    // A role name of this run only: other runs on the shared server make users of their own.
    const broken = `broken_${randomBytes(3).toString("hex")}`;
    await admin.post("/v1/dynamic/engines/shop-db/roles", { name: broken, creation_statements: ["CREATE USER '{{name}}'@'%' IDENTIFIED BY '{{password}}'", "GRANT SELECT ON no_such_db_x.nothing TO '{{name}}'@'%'"] });
    const before = (await admin.get("/v1/dynamic/leases?engine=shop-db")).body.data.length;
    const failed = await admin.post(`/v1/dynamic/engines/shop-db/creds/${broken}`);
    expect(failed.status).toBe(502);
    expect(failed.body.error.code).toBe("backend_error");
    expect(failed.body.error.message).toMatch(/statement 2/);
    expect((await admin.get("/v1/dynamic/leases?engine=shop-db")).body.data.length).toBe(before);
    // The engine's root user may not read mysql.user: the server's admin looks (the CREATE USER did run).
    const admin2 = await mysql.createConnection({ uri: MARIADB_URL });
    try {
      const [rows] = await admin2.query("SELECT COUNT(*) AS n FROM mysql.user WHERE User LIKE ?", [`v\\_${broken}\\_%`]);
      expect(Number((rows as Array<{ n: number }>)[0].n)).toBe(0);
    } finally {
      await admin2.end();
    }
  });

  it("redis: an ACL user gets the role's rules only, and WRONGPASS after expiry", async () => {
    const { admin } = vault();
    const engine = await admin.post("/v1/dynamic/engines", { name: "cache", type: "database", config: { plugin: "redis", connection_url: redis.connectionUrl, root_credentials_path: "infra/redis/cache/root" } });
    expect(engine.status, engine.text).toBe(201);
    const role = await admin.post("/v1/dynamic/engines/cache/roles", { name: "cache-reader", creation_statements: [`~${redis.prefix}*`, "+get"] });
    expect(role.status, role.text).toBe(201);
    const lease = await admin.post("/v1/dynamic/engines/cache/creds/cache-reader", { ttl: "3s" });
    expect(lease.status, lease.text).toBe(201);
    const { username, password } = lease.body.data;
    redis.track(username);
    passwords.push(password);
    expect(username).toMatch(/^v_cache_reader_[a-z0-9]{10}$/);
    const read = await redisCli(redis, username, password, "GET", `${redis.prefix}a`);
    expect(read.stderr).not.toMatch(/WRONGPASS/);
    expect(read.stdout.trim()).toBe("alpha");
    expect((await redisCli(redis, username, password, "SET", `${redis.prefix}a`, "x")).stdout).toMatch(/NOPERM/);
    expect((await redisCli(redis, username, password, "GET", "other:key")).stdout).toMatch(/NOPERM/);

    await until(() => admin.get(`/v1/dynamic/leases/${lease.body.lease_id}`), (r) => r.body.state === "expired");
    // redis-cli reports the failed AUTH on stderr (and then carries on as the default user).
    expect((await redisCli(redis, username, password, "GET", `${redis.prefix}a`)).stderr).toMatch(/WRONGPASS/);
    expect((await redisCli(redis, redis.rootUser, redis.rootPassword, "ACL", "GETUSER", username)).stdout.trim()).toBe("");
  });

  it("redis: rules that would set the user's password or switch are refused", async () => {
    const { admin } = vault();
    for (const rule of [">known", "nopass", "resetpass", "off", "+get extra"]) {
      const refused = await admin.post("/v1/dynamic/engines/cache/roles", { name: "bad", creation_statements: [rule] });
      expect(refused.status, rule).toBe(400);
      expect(refused.body.error.details.reason).toBe("template");
    }
  });

  it("never writes a password into logs, audit entries or events", async () => {
    const { vault: v, logs } = vault();
    const stored = JSON.stringify(await v.db.all("SELECT * FROM audit_log")) + JSON.stringify(await v.db.all("SELECT * FROM events")) + logs.join("\n");
    expect(passwords.length).toBe(5);
    for (const secret of passwords) expect(stored.includes(secret)).toBe(false);
  });
});
