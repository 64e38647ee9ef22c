import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { DynamicStore } from "./store.js";
import { pgEngineWithRole, pgRoleExists, until, type Scratch } from "./testing.js";

const ENGINE = "race-db";
const ROOT = "infra/race-db/root";
const OTHER_NODE = "node_othernode01";

/**
 * A renewal racing a revocation that another node has just claimed must not wipe that claim: the
 * claiming node would revoke at the source and then find its claim gone, leaving a lease that says
 * `active` for a user that no longer exists (and nobody recording the revocation).
 */
describeEachBackend("dynamic: renewals and revocation claims do not undo each other", (backend) => {
  const vault = useVault(backend);
  let target: Scratch;

  beforeAll(async () => {
    target = await pgEngineWithRole(vault().admin, ENGINE, ROOT, { name: "ro", creation_statements: [`CREATE ROLE "{{name}}" LOGIN PASSWORD '{{password}}'`] });
  });
  afterAll(async () => {
    await target?.drop();
  });

  const claimOf = async (id: string) =>
    vault().vault.db.get<{ claimed_by: string | null; expires_at: number | string }>("SELECT claimed_by, expires_at FROM dynamic_leases WHERE id = ?", [id]);

  it("a claim made while the renewal's transaction runs (PostgreSQL) or before it (SQLite) stands, and the renewal answers 410", async () => {
    const { admin, database } = vault();
    const made = await admin.post(`/v1/dynamic/engines/${ENGINE}/creds/ro`, { ttl: "10m" });
    expect(made.status, made.text).toBe(201);
    target.track(made.body.data.username);
    const id = made.body.lease_id as string;
    const claim = "UPDATE dynamic_leases SET claimed_until = $1, claimed_by = $2 WHERE id = $3";
    const holdUntil = () => Date.now() + 120_000;

    let renewal;
    if (backend === "postgres") {
      // Hold the lease row, let the renewal read it and block on its UPDATE, then commit another node's claim.
      const other = new pg.Client({ connectionString: database.url });
      await other.connect();
      try {
        await other.query("BEGIN");
        await other.query("SELECT id FROM dynamic_leases WHERE id = $1 FOR UPDATE", [id]);
        const pending = admin.post(`/v1/dynamic/leases/${id}/renew`, { increment: "30m" });
        // Watched from outside that transaction: pg_stat_activity is a snapshot within one.
        const watcher = new pg.Client({ connectionString: database.url });
        await watcher.connect();
        try {
          await until(
            () => watcher.query<{ n: string }>("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'UPDATE dynamic_leases%'"),
            (r) => Number(r.rows[0].n) === 1,
            20_000,
          );
        } finally {
          await watcher.end();
        }
        await other.query(claim, [holdUntil(), OTHER_NODE, id]);
        await other.query("COMMIT");
        renewal = await pending;
      } finally {
        await other.end();
      }
    } else {
      // SQLite runs one writer at a time: the nearest interleaving is a claim committed just before.
      await vault().vault.db.run(claim.replace(/\$\d/g, "?"), [holdUntil(), OTHER_NODE, id]);
      renewal = await admin.post(`/v1/dynamic/leases/${id}/renew`, { increment: "30m" });
    }
    expect(renewal.status, renewal.text).toBe(410);
    expect(renewal.body.error.code).toBe("lease_expired");
    const row = await claimOf(id);
    expect(row?.claimed_by).toBe(OTHER_NODE);
    expect(Number(row?.expires_at)).toBe(Date.parse(made.body.expires_at));

    // The other node "dies": once its claim is released, this vault revokes the lease as usual.
    await vault().vault.db.run("UPDATE dynamic_leases SET claimed_until = NULL, claimed_by = NULL WHERE id = ?", [id]);
    expect((await admin.post(`/v1/dynamic/leases/${id}/revoke`)).body.state).toBe("revoked");
    expect(await pgRoleExists(made.body.data.username)).toBe(false);
  });

  it("the expiry worker's claim takes only a lease that has ended: one renewed after it was seen due is left alone", async () => {
    const { admin } = vault();
    const store = new DynamicStore(vault().vault.db);
    const made = await admin.post(`/v1/dynamic/engines/${ENGINE}/creds/ro`, { ttl: "10m" });
    expect(made.status, made.text).toBe(201);
    target.track(made.body.data.username);
    const id = made.body.lease_id as string;
    // As if the worker listed it due just before a renewal committed: its claim must now miss.
    expect(await store.claim(id, OTHER_NODE, Date.now(), 120_000, "expiry")).toBe(false);
    expect((await claimOf(id))?.claimed_by).toBeNull();
    // An explicit revocation claims a live lease whatever its end.
    expect(await store.claim(id, OTHER_NODE, Date.now(), 120_000, "revocation")).toBe(true);
    await vault().vault.db.run("UPDATE dynamic_leases SET claimed_until = NULL, claimed_by = NULL WHERE id = ?", [id]);
    // Once ended, the worker's claim takes it.
    await vault().vault.db.run("UPDATE dynamic_leases SET expires_at = ? WHERE id = ?", [Date.now() - 1000, id]);
    expect(await store.claim(id, OTHER_NODE, Date.now(), 120_000, "expiry")).toBe(true);
    await vault().vault.db.run("UPDATE dynamic_leases SET claimed_until = NULL, claimed_by = NULL WHERE id = ?", [id]);
    await until(() => admin.get(`/v1/dynamic/leases/${id}`), (r) => r.body.state === "expired");
    expect(await pgRoleExists(made.body.data.username)).toBe(false);
  });

  it("a renewal of an unclaimed lease still extends it", async () => {
    const { admin } = vault();
    const made = await admin.post(`/v1/dynamic/engines/${ENGINE}/creds/ro`, { ttl: "10m" });
    target.track(made.body.data.username);
    const renewed = await admin.post(`/v1/dynamic/leases/${made.body.lease_id}/renew`, { increment: "30m" });
    expect(renewed.status, renewed.text).toBe(200);
    expect(Number((await claimOf(made.body.lease_id))?.expires_at)).toBe(Date.parse(renewed.body.expires_at));
    expect((await admin.post(`/v1/dynamic/leases/${made.body.lease_id}/revoke`)).body.state).toBe("revoked");
  });
});
