import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { TestReceiver } from "../events/test-receiver.js";
import { PAGE_SCAN_LIMIT } from "../storage/bounded-page.js";
import { describeEachBackend } from "../testing/backends.js";
import { planOf, statementsDuring } from "../testing/plans.js";
import { useVault } from "../testing/harness.js";
import { everyPage } from "../testing/pages.js";
import { grantEngineRoot, PG_URL, pgRoleExists, pgScratch, psql, userWith, type Scratch } from "./testing.js";

const ENGINE = "lease-db";
const ROOT = "infra/lease-db/root";

/** The role's VALID UNTIL as PostgreSQL holds it (ms since the epoch), or null. */
async function validUntil(username: string): Promise<number | null> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    const row = (await client.query<{ until: Date | null }>("SELECT rolvaliduntil AS until FROM pg_roles WHERE rolname = $1", [username])).rows[0];
    return row?.until ? row.until.getTime() : null;
  } finally {
    await client.end();
  }
}

/** What the ended leases of the history test copy from a real one (all but id, role, state and creation time). */
const LEASE_HISTORY_COLUMNS = ["tenant_id", "partner_id", "engine_id", "engine_name", "identity_id", "username", "revocation", "renew", "serial", "expires_at", "max_expires_at", "revoke_attempts"];

const seconds = (iso: string) => Math.floor(Date.parse(iso) / 1000) * 1000;

describeEachBackend("dynamic: renew statements, revoke by prefix, audit and metrics of leases", (backend) => {
  const vault = useVault(backend, { env: { SCAIVAULT_EVENTS_POLL_INTERVAL: "100ms" } });
  let target: Scratch;
  const receiver = new TestReceiver();

  beforeAll(async () => {
    target = await pgScratch();
    await receiver.start();
    const { admin } = vault();
    await grantEngineRoot(admin, ENGINE, ROOT, { username: target.rootUser, password: target.rootPassword });
    const engine = await admin.post("/v1/dynamic/engines", { name: ENGINE, type: "database.postgresql", config: { connection_url: target.connectionUrl, root_credentials_path: ROOT }, max_ttl: "4h" });
    if (engine.status !== 201) throw new Error(engine.text);
    for (const name of ["ro", "other"]) {
      const role = await admin.post(`/v1/dynamic/engines/${ENGINE}/roles`, {
        name,
        creation_statements: [`CREATE ROLE "{{name}}" LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}'; GRANT SELECT ON items TO "{{name}}"`],
        renew_statements: [`ALTER ROLE "{{name}}" VALID UNTIL '{{expiration}}'`],
        default_ttl: "10m",
      });
      if (role.status !== 201) throw new Error(role.text);
    }
  });
  afterAll(async () => {
    await receiver.stop();
    await target?.drop();
  });

  async function lease(role: string, ttl = "10m") {
    const made = await vault().admin.post(`/v1/dynamic/engines/${ENGINE}/creds/${role}`, { ttl });
    expect(made.status, made.text).toBe(201);
    target.track(made.body.data.username);
    return made.body as { lease_id: string; expires_at: string; data: { username: string; password: string } };
  }

  it("renewal runs the role's renew statements at the source: VALID UNTIL follows the lease's new end", async () => {
    const { admin } = vault();
    const made = await lease("ro");
    expect(await validUntil(made.data.username)).toBe(seconds(made.expires_at));
    const renewed = await admin.post(`/v1/dynamic/leases/${made.lease_id}/renew`, { increment: "2h" });
    expect(renewed.status, renewed.text).toBe(200);
    expect(Date.parse(renewed.body.expires_at)).toBeGreaterThan(Date.parse(made.expires_at));
    expect(await validUntil(made.data.username)).toBe(seconds(renewed.body.expires_at));
    expect((await psql(target, made.data.username, made.data.password, "SELECT count(*) FROM items")).stdout.trim()).toBe("2");
    expect((await admin.post(`/v1/dynamic/leases/${made.lease_id}/revoke`)).body.state).toBe("revoked");
  });

  it("audits generate, renew and revoke with the lease id and username, never the password", async () => {
    const { admin } = vault();
    const made = await lease("ro");
    await admin.post(`/v1/dynamic/leases/${made.lease_id}/renew`, { increment: "20m" });
    await admin.post(`/v1/dynamic/leases/${made.lease_id}/revoke`);
    for (const action of ["dynamic_generate", "dynamic_renew", "dynamic_revoke"]) {
      const logs = (await admin.get(`/v1/audit/logs?action=${action}`)).body.logs as Array<Record<string, any>>;
      const mine = logs.filter((entry) => entry.extra_data?.lease_id === made.lease_id);
      expect(mine.length, action).toBe(1);
      expect(mine[0], action).toMatchObject({ success: true, extra_data: { engine: ENGINE, role: "ro", username: made.data.username } });
      expect(JSON.stringify(mine[0]).includes(made.data.password), action).toBe(false);
    }
  });

  it("revoke-prefix revokes an engine/role's live leases at the source, then a whole engine's; it needs dynamic:manage", async () => {
    const { admin } = vault();
    const ro = [await lease("ro"), await lease("ro")];
    const other = await lease("other");

    const reader = await userWith(admin, `prefix-reader-${backend}`, ["dynamic:read"], [`sys/dynamic/${ENGINE}/*`]);
    const forbidden = await reader.post("/v1/dynamic/leases/revoke-prefix", { prefix: ENGINE });
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error.code).toBe("insufficient_scope");
    expect((await admin.post("/v1/dynamic/leases/revoke-prefix", { prefix: `${ENGINE}/ro/x` })).body.error.code).toBe("validation_error");
    expect((await admin.post("/v1/dynamic/leases/revoke-prefix", { prefix: "no-such-engine" })).body.error.code).toBe("engine_not_found");

    const byRole = await admin.post("/v1/dynamic/leases/revoke-prefix", { prefix: `${ENGINE}/ro` });
    expect(byRole.status, byRole.text).toBe(200);
    expect(byRole.body).toMatchObject({ revoked: 2, failed: 0 });
    expect([...byRole.body.lease_ids].sort()).toEqual(ro.map((l) => l.lease_id).sort());
    for (const l of ro) {
      expect(await pgRoleExists(l.data.username)).toBe(false);
      expect((await admin.get(`/v1/dynamic/leases/${l.lease_id}`)).body).toMatchObject({ state: "revoked", revoke_reason: "prefix" });
    }
    expect(await pgRoleExists(other.data.username)).toBe(true);
    expect((await admin.get(`/v1/dynamic/leases/${other.lease_id}`)).body.state).toBe("active");

    const byEngine = await admin.post("/v1/dynamic/leases/revoke-prefix", { prefix: ENGINE });
    expect(byEngine.body).toEqual({ revoked: 1, failed: 0, lease_ids: [other.lease_id] });
    expect(await pgRoleExists(other.data.username)).toBe(false);
    const audit = (await admin.get("/v1/audit/logs?action=dynamic_revoke_prefix")).body.logs as Array<Record<string, any>>;
    expect(audit.find((entry) => entry.success && entry.extra_data?.role === null)?.extra_data.lease_ids).toEqual([other.lease_id]);
  });

  it("a webhook for lease.* receives the lease's events (with the lease id, never the password) and nothing else", async () => {
    const { admin } = vault();
    const hook = await admin.post("/v1/webhooks", { name: "leases", url: `${receiver.url}/leases`, secret: "whsec_leases", events: ["lease.*"] });
    expect(hook.status, hook.text).toBe(201);
    await admin.put("/v1/secrets/apps/not-a-lease", { data: { v: "x" }, secret_type: "json" });
    const made = await lease("ro");
    await admin.post(`/v1/dynamic/leases/${made.lease_id}/renew`, { increment: "20m" });
    await admin.post(`/v1/dynamic/leases/${made.lease_id}/revoke`);
    const mine = (all: typeof receiver.received) => all.filter((r) => r.path === "/leases" && r.event?.data?.lease_id === made.lease_id);
    await receiver.waitFor((all) => mine(all).some((r) => r.event.event_type === "lease.revoked"));
    await receiver.waitFor((all) => mine(all).length >= 3);
    expect(mine(receiver.received).map((r) => r.event.event_type).sort()).toEqual(["lease.created", "lease.renewed", "lease.revoked"]);
    expect(mine(receiver.received).find((r) => r.event.event_type === "lease.created")?.event.data).toMatchObject({ engine: ENGINE, role: "ro", username: made.data.username });
    for (const r of receiver.received) expect(r.raw.includes(made.data.password)).toBe(false);
    expect(receiver.received.filter((r) => r.path === "/leases").every((r) => r.event.event_type.startsWith("lease."))).toBe(true);
    expect((await admin.delete(`/v1/webhooks/${hook.body.id}`)).status).toBe(200);
  });

  it("metrics: leases active per engine (from the database) and leases generated per engine and role", async () => {
    const { admin, anonymous } = vault();
    const gauge = async () => {
      const text = (await anonymous.get("/v1/metrics")).text;
      const match = new RegExp(`^scaivault_leases_active\\{engine="${ENGINE}"\\} (\\d+)$`, "m").exec(text);
      return { active: match ? Number(match[1]) : 0, text };
    };
    expect((await gauge()).active).toBe(0);
    const made = [await lease("ro"), await lease("other")];
    const during = await gauge();
    expect(during.active).toBe(2);
    expect(during.text).toMatch(new RegExp(`^scaivault_leases_generated_total\\{engine="${ENGINE}",role="other"\\} [1-9]`, "m"));
    await admin.post(`/v1/dynamic/leases/${made[0].lease_id}/revoke`);
    expect((await gauge()).active).toBe(1);
    await admin.post(`/v1/dynamic/leases/${made[1].lease_id}/revoke`);
    expect((await gauge()).active).toBe(0);
  });

  it("lists the leases of a caller without dynamic:manage along its own, not the tenant's lease history", async () => {
    const { admin, vault: server } = vault();
    const own = await userWith(admin, `own-leases-${backend}`, ["dynamic:read"], []);
    const { statements, value: listed } = await statementsDuring(server.db, () => own.get("/v1/dynamic/leases"));
    expect(listed.body.data).toEqual([]);
    const list = statements.filter((s) => /FROM dynamic_leases( INDEXED BY \w+)? WHERE/.test(s.sql) && /ORDER BY created_at DESC/.test(s.sql)).at(-1)!;
    expect(list.sql).toMatch(/identity_id = \?/);
    expect(await planOf(server.db, list.sql, list.params), list.sql).toMatch(/dynamic_leases_identity/);
  });

  it("a role's leases among 25,000 ended ones of another: short pages with a cursor; the active ones along their state's index", async () => {
    const { admin, vault: server } = vault();
    const active = await lease("other");
    // An engine's history: ended leases of `ro`, copied from the real row with new ids, older and older.
    const random = backend === "sqlite" ? "lower(hex(randomblob(16)))" : "md5(random()::text || g::text)";
    const copied = LEASE_HISTORY_COLUMNS.join(", ");
    await server.db.run(
      `INSERT INTO dynamic_leases (id, role_name, state, created_at, ${copied})
       WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < ${PAGE_SCAN_LIMIT + 5_000})
       SELECT 'lease_' || ${random}, 'ro', 'expired', created_at - g, ${copied} FROM dynamic_leases, s WHERE id = ?`,
      [active.lease_id],
    );
    if (backend === "postgres") await server.db.run("ANALYZE dynamic_leases");
    const pages = await everyPage<{ lease_id: string; role: string }>(admin, "/v1/dynamic/leases?role=other&limit=100");
    expect(pages.map((page) => page.has_more)).toEqual([true, false]);
    expect(pages.flatMap((page) => page.items).every((item) => item.role === "other")).toBe(true);
    const others = await server.db.all<{ id: string }>("SELECT id FROM dynamic_leases WHERE role_name = 'other' ORDER BY created_at DESC, id DESC");
    expect(pages.flatMap((page) => page.items.map((item) => item.lease_id))).toEqual(others.map((row) => row.id));
    expect(others[0].id).toBe(active.lease_id);

    const { statements, value: live } = await statementsDuring(server.db, () => admin.get<{ data: { lease_id: string }[]; has_more: boolean }>("/v1/dynamic/leases?state=active"));
    expect(live.body).toMatchObject({ data: [{ lease_id: active.lease_id }], has_more: false });
    const list = statements.filter((s) => /FROM dynamic_leases( INDEXED BY \w+)? WHERE/.test(s.sql) && /ORDER BY created_at DESC/.test(s.sql)).at(-1)!;
    // SQLite is told the state's list index; PostgreSQL may also take another index led by state
    // and sort the one active lease: either way not a walk of the tenant's history.
    expect(await planOf(server.db, list.sql, list.params), list.sql).toMatch(backend === "sqlite" ? /dynamic_leases_state/ : /dynamic_leases_(state|due|retry)/);
    await admin.post(`/v1/dynamic/leases/${active.lease_id}/revoke`);
  }, 60_000);
});
