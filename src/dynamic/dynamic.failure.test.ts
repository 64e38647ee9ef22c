import { afterAll, beforeAll, expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault, type ApiClient } from "../testing/harness.js";
import { planOf, statementsDuring } from "../testing/plans.js";
import { FlakyProxy, grantEngineRoot, mariaScratch, pgRoleExists, pgScratch, redisScratch, until, type Scratch } from "./testing.js";

const ROOT = "infra/flaky/root";

/** A scratch PostgreSQL reached through a proxy the test can stall or stop, and an engine on it. */
async function engineBehindProxy(admin: ApiClient, name: string, config: Record<string, string> = {}): Promise<{ pg: Scratch; proxy: FlakyProxy }> {
  const pg = await pgScratch();
  const proxy = new FlakyProxy(pg.host, pg.port);
  await proxy.start();
  // Each engine its own root secret: engines of one suite reach different scratch databases.
  const root = `${ROOT}/${name}`;
  await grantEngineRoot(admin, name, root, { username: pg.rootUser, password: pg.rootPassword });
  const created = await admin.post("/v1/dynamic/engines", {
    name, type: "database",
    config: { plugin: "postgresql", connection_url: pg.connectionUrl.replace(`:${pg.port}/`, `:${proxy.port}/`), root_credentials_path: root, connect_timeout: "1s", ...config },
  });
  if (created.status !== 201) throw new Error(created.text);
  return { pg, proxy };
}

describeEachBackend("dynamic: targets that refuse or hang", (backend) => {
  // Failed revocations are retried after 1 s here (the default schedule starts at 5 s).
  const vault = useVault(backend, { env: { SCAIVAULT_LEASE_RETRY_SCHEDULE: "1s" } });
  let pg: Scratch;
  let proxy: FlakyProxy;

  beforeAll(async () => {
    ({ pg, proxy } = await engineBehindProxy(vault().admin, "flaky", { statement_timeout: "1s" }));
    await vault().admin.post("/v1/dynamic/engines/flaky/roles", { name: "ro", creation_statements: [`CREATE ROLE "{{name}}" LOGIN PASSWORD '{{password}}'; GRANT SELECT ON items TO "{{name}}"`] });
  });
  afterAll(async () => {
    await proxy?.stop();
    await pg?.drop();
  });

  it("an unreachable target gives 502 and revoke_failed (event, metric), then the retry succeeds once it is back", async () => {
    const { admin, vault: v } = vault();
    const lease = await admin.post("/v1/dynamic/engines/flaky/creds/ro");
    expect(lease.status, lease.text).toBe(201);
    pg.track(lease.body.data.username);
    await proxy.stop();
    const refused = await admin.post(`/v1/dynamic/leases/${lease.body.lease_id}/revoke`);
    expect(refused.status).toBe(502);
    expect(refused.body.error).toMatchObject({ code: "backend_error", details: { reason: "refused" } });
    const failed = await admin.get(`/v1/dynamic/leases/${lease.body.lease_id}`);
    expect(failed.body).toMatchObject({ state: "revoke_failed", revoke_reason: "revoked", revoke_attempts: 1 });
    expect(failed.body.last_error).toMatch(/refused/);
    expect(failed.body.next_retry_at).not.toBeNull();
    expect(await pgRoleExists(lease.body.data.username)).toBe(true);
    const events = await v.db.all<{ data: string }>("SELECT data FROM events WHERE event_type = 'lease.revoke_failed'");
    expect(events.length).toBeGreaterThanOrEqual(1);
    expect(JSON.parse(events[0].data)).toMatchObject({ lease_id: lease.body.lease_id, attempt: 1, engine: "flaky" });
    const metrics = await vault().anonymous.get("/v1/metrics");
    expect(metrics.text).toMatch(/scaivault_lease_revocations_failed_total\{engine="flaky"\} [1-9]/);
    expect((await admin.get("/v1/dynamic/engines/flaky/health")).body.status).toBe("unhealthy");

    await proxy.start();
    const done = await until(() => admin.get(`/v1/dynamic/leases/${lease.body.lease_id}`), (r) => r.body.state === "revoked");
    expect(done.body.revoke_attempts).toBeGreaterThanOrEqual(2);
    expect(done.body.last_error).toBeNull();
    expect(await pgRoleExists(lease.body.data.username)).toBe(false);
  });

  it("a lease that expires while the target is down ends expired once it is back", async () => {
    const { admin } = vault();
    const lease = await admin.post("/v1/dynamic/engines/flaky/creds/ro", { ttl: "2s" });
    expect(lease.status).toBe(201);
    pg.track(lease.body.data.username);
    await proxy.stop();
    const failed = await until(() => admin.get(`/v1/dynamic/leases/${lease.body.lease_id}`), (r) => r.body.state === "revoke_failed");
    expect(failed.body.revoke_reason).toBe("expired");
    await proxy.start();
    await until(() => admin.get(`/v1/dynamic/leases/${lease.body.lease_id}`), (r) => r.body.state === "expired");
    expect(await pgRoleExists(lease.body.data.username)).toBe(false);
  });

  it("a target that hangs answers 502 with reason timeout (connect and statement)", async () => {
    const { admin } = vault();
    proxy.mode = "hang";
    const hung = await admin.post("/v1/dynamic/engines/flaky/creds/ro");
    expect(hung.status).toBe(502);
    expect(hung.body.error).toMatchObject({ code: "backend_error", details: { reason: "timeout" } });
    const health = await admin.get("/v1/dynamic/engines/flaky/health");
    expect(health.body).toMatchObject({ status: "unhealthy", error: { reason: "timeout" } });
    proxy.mode = "forward";
    await admin.post("/v1/dynamic/engines/flaky/roles", { name: "slow", creation_statements: ["SELECT pg_sleep(30)"] });
    const slow = await admin.post("/v1/dynamic/engines/flaky/creds/slow");
    expect(slow.status).toBe(502);
    expect(slow.body.error).toMatchObject({ code: "backend_error", details: { reason: "timeout", statement: 1 } });
    expect((await admin.get("/v1/dynamic/leases?engine=flaky&role=slow")).body.data).toEqual([]);
  });

  it("requests past the engine's connections wait at most its connect timeout, and leave the queue when their client goes", async () => {
    const { admin, baseUrl, adminToken } = vault();
    const queued = await engineBehindProxy(admin, "queued", { statement_timeout: "6s" });
    try {
      await admin.post("/v1/dynamic/engines/queued/roles", { name: "slow", creation_statements: ["SELECT pg_sleep(30)"] });
      const before = queued.proxy.accepted;
      // The engine's four connections, each held by a statement for its 6 s timeout.
      const holding = Array.from({ length: 4 }, () => admin.post("/v1/dynamic/engines/queued/creds/slow"));
      await until(async () => queued.proxy.accepted, (n) => n >= before + 4);
      // A client that leaves while its request waits for a place: the request never reaches the target.
      const gone = new AbortController();
      const left = fetch(`${baseUrl}/v1/dynamic/engines/queued/creds/slow`, { method: "POST", headers: { authorization: `Bearer ${adminToken}` }, signal: gone.signal }).catch(() => null);
      await new Promise((resolve) => setTimeout(resolve, 300));
      gone.abort();
      await left;
      // One that stays waits the connect timeout (1 s), not for a place behind the 6 s statements.
      const waited = await admin.post("/v1/dynamic/engines/queued/creds/slow");
      expect(waited.status).toBe(502);
      expect(waited.body.error).toMatchObject({ code: "backend_error", details: { reason: "busy", statement: null } });
      for (const held of await Promise.all(holding)) expect(held.body.error).toMatchObject({ code: "backend_error", details: { reason: "timeout", statement: 1 } });
      // The four that held places and the undo of each (a statement had run): none for the two that waited.
      await until(async () => queued.proxy.accepted, (n) => n >= before + 8);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(queued.proxy.accepted - before).toBe(8);
    } finally {
      await queued.proxy.stop();
      await queued.pg.drop();
    }
  });

  it("refuses engine timeouts past their maximums", async () => {
    const { admin } = vault();
    const base = { plugin: "postgresql", connection_url: "postgresql://{{username}}:{{password}}@127.0.0.1:1/x", root_credentials_path: ROOT };
    const connect = await admin.post("/v1/dynamic/engines", { name: "slowpoke", type: "database", config: { ...base, connect_timeout: "24d" } });
    expect(connect.status).toBe(422);
    expect(connect.body.error.details.fields).toEqual({ "config.connect_timeout": "must be at most 60s" });
    const statement = await admin.post("/v1/dynamic/engines", { name: "slowpoke", type: "database", config: { ...base, statement_timeout: "301s" } });
    expect(statement.body.error.details.fields).toEqual({ "config.statement_timeout": "must be at most 300s" });
  });

  it("refuses to delete an engine with live leases unless forced, and force revokes them first", async () => {
    const { admin } = vault();
    const lease = await admin.post("/v1/dynamic/engines/flaky/creds/ro");
    expect(lease.status, lease.text).toBe(201);
    pg.track(lease.body.data.username);
    const refused = await admin.delete("/v1/dynamic/engines/flaky");
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe("engine_in_use");
    const { value: deleted, statements } = await statementsDuring(vault().vault.db, () => admin.delete("/v1/dynamic/engines/flaky?force=true"), { writes: true });
    expect(deleted.status).toBe(204);
    // The engine identity's bindings are found along their index, not among every tenant's bindings.
    const unbind = statements.find((st) => /DELETE FROM policy_bindings/.test(st.sql));
    expect(unbind).toBeDefined();
    if (backend === "sqlite") expect(await planOf(vault().vault.db, unbind!.sql, unbind!.params)).not.toMatch(/^SCAN policy_bindings$/m);
    expect((await admin.get(`/v1/dynamic/leases/${lease.body.lease_id}`)).body).toMatchObject({ state: "revoked", revoke_reason: "engine_deleted" });
    expect(await pgRoleExists(lease.body.data.username)).toBe(false);
    expect((await admin.get("/v1/dynamic/engines/flaky")).status).toBe(404);
    const bindings = await vault().vault.db.all("SELECT id FROM policy_bindings WHERE identity_id = 'dynamic:flaky'");
    expect(bindings).toEqual([]);
  });
});

describeEachBackend("dynamic: failed revocations back off along the retry schedule", (backend) => {
  // First retry after 1 s, every later one after an hour: the second failure must wait the hour.
  const vault = useVault(backend, { env: { SCAIVAULT_LEASE_RETRY_SCHEDULE: "1s,1h" } });
  let pg: Scratch;
  let proxy: FlakyProxy;

  beforeAll(async () => {
    ({ pg, proxy } = await engineBehindProxy(vault().admin, "backoff"));
    await vault().admin.post("/v1/dynamic/engines/backoff/roles", { name: "ro", creation_statements: [`CREATE ROLE "{{name}}" LOGIN PASSWORD '{{password}}'`] });
  });
  afterAll(async () => {
    await proxy?.stop();
    await pg?.drop();
  });

  it("the first retry comes after the schedule's first delay, the next after its second; an explicit revoke still tries at once", async () => {
    const { admin, vault: v } = vault();
    const lease = await admin.post("/v1/dynamic/engines/backoff/creds/ro");
    expect(lease.status, lease.text).toBe(201);
    pg.track(lease.body.data.username);
    await proxy.stop();
    const first = await admin.post(`/v1/dynamic/leases/${lease.body.lease_id}/revoke`);
    expect(first.status).toBe(502);
    // The worker's retry (after 1 s) fails too; the one after it is scheduled an hour on.
    const second = await until(() => admin.get(`/v1/dynamic/leases/${lease.body.lease_id}`), (r) => r.body.revoke_attempts >= 2);
    expect(second.body).toMatchObject({ state: "revoke_failed", revoke_attempts: 2 });
    expect(Date.parse(second.body.next_retry_at) - Date.now()).toBeGreaterThan(30 * 60_000);
    const failures = (await v.db.all<{ data: string }>("SELECT data FROM events WHERE event_type = 'lease.revoke_failed'")).map((e) => JSON.parse(e.data));
    expect(failures.filter((d) => d.lease_id === lease.body.lease_id).map((d) => d.attempt)).toEqual([1, 2]);

    await proxy.start();
    const done = await admin.post(`/v1/dynamic/leases/${lease.body.lease_id}/revoke`);
    expect(done.status, done.text).toBe(200);
    expect(done.body).toMatchObject({ state: "revoked", revoke_attempts: 3, next_retry_at: null });
    expect(await pgRoleExists(lease.body.data.username)).toBe(false);
  });
});

describeEachBackend("dynamic: MariaDB and Redis targets that hang or refuse", (backend) => {
  const vault = useVault(backend);
  const targets: Array<{ name: string; scratch: Scratch; proxy: FlakyProxy }> = [];

  beforeAll(async () => {
    const { admin } = vault();
    for (const [name, plugin, scratch, rules] of [
      ["maria-flaky", "mysql", await mariaScratch(), null],
      ["redis-flaky", "redis", await redisScratch(), ["~x:*", "+get"]],
    ] as const) {
      const proxy = new FlakyProxy(scratch.host, scratch.port);
      await proxy.start();
      targets.push({ name, scratch, proxy });
      await grantEngineRoot(admin, name, `infra/${name}/root`, { username: scratch.rootUser, password: scratch.rootPassword });
      const url = scratch.connectionUrl.replace(`:${scratch.port}/`, `:${proxy.port}/`);
      const engine = await admin.post("/v1/dynamic/engines", { name, type: `database.${plugin}`, config: { connection_url: url, root_credentials_path: `infra/${name}/root`, connect_timeout: "1s", statement_timeout: "1s" } });
      if (engine.status !== 201) throw new Error(engine.text);
      const creation = rules ?? [`CREATE USER '{{name}}'@'%' IDENTIFIED BY '{{password}}'`];
      const role = await admin.post(`/v1/dynamic/engines/${name}/roles`, { name: "ro", creation_statements: creation });
      if (role.status !== 201) throw new Error(role.text);
    }
  });
  afterAll(async () => {
    for (const t of targets) {
      await t.proxy.stop();
      await t.scratch.drop();
    }
  });

  it("a hanging target answers 502 reason timeout, a refusing one 502 reason refused, and neither leaves a lease", async () => {
    const { admin } = vault();
    for (const { name, proxy } of targets) {
      proxy.mode = "hang";
      const hung = await admin.post(`/v1/dynamic/engines/${name}/creds/ro`);
      expect(hung.status, name).toBe(502);
      expect(hung.body.error, name).toMatchObject({ code: "backend_error", details: { reason: "timeout", statement: null } });
      await proxy.stop();
      proxy.mode = "forward";
      const refused = await admin.post(`/v1/dynamic/engines/${name}/creds/ro`);
      expect(refused.status, name).toBe(502);
      expect(refused.body.error, name).toMatchObject({ code: "backend_error", details: { reason: "refused" } });
      expect((await admin.get(`/v1/dynamic/engines/${name}/health`)).body.status, name).toBe("unhealthy");
      await proxy.start();
      expect((await admin.get(`/v1/dynamic/engines/${name}/health`)).body.status, name).toBe("healthy");
      expect((await admin.get(`/v1/dynamic/leases?engine=${name}`)).body.data, name).toEqual([]);
    }
  });
});
