import { beforeAll, describe, expect, it, vi } from "vitest";
import type { Database, Queryable } from "../storage/contract.js";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { LoopSlices } from "../shared/turn.js";
import { entriesOf, withKeys } from "./apply.js";
import type { TenantSnapshot } from "./directory-client.js";
import { bucketOf, entryKey, type DirectoryEntry } from "./store.js";
import { baseFixture, startupSync, syncNow, useStandIn, waitForSync } from "./testing/use-standin.js";

/**
 * A sync writes what changed (docs/benchmarks.md round 28): a sync runs per directory change, and
 * one that rewrote every entry and membership row of the tenant held a SQLite node for the whole
 * rewrite, and a PostgreSQL transaction for a round trip per row.
 */
const DIRECTORY_WRITE = /^\s*(INSERT INTO|UPDATE|DELETE FROM) directory_(identities|members)\b/;

/**
 * The directory-table writes of every transaction `db` runs while `work` runs (as their first three
 * words); `memberRowsRead` counts the membership rows those transactions read, `keysRead` the
 * stored entries read for comparison.
 */
async function directoryWrites(db: Database, work: () => Promise<unknown>): Promise<string[] & { memberRowsRead: number; keysRead: number }> {
  const writes = Object.assign([] as string[], { memberRowsRead: 0, keysRead: 0 });
  const original = db.transaction.bind(db);
  const counting = (tx: Queryable): Queryable =>
    new Proxy(tx, {
      get(target, property) {
        const value = Reflect.get(target, property, target) as unknown;
        if (property === "run") return (sql: string, params?: never) => (DIRECTORY_WRITE.test(sql) && writes.push(sql.trim().split(/\s+/).slice(0, 3).join(" ")), target.run(sql, params));
        if (property === "all") {
          return async (sql: string, params?: never) => {
            const rows = await target.all(sql, params);
            if (/FROM directory_members\b/.test(sql)) writes.memberRowsRead += rows.length;
            if (/AS key FROM directory_identities\b/.test(sql)) writes.keysRead += rows.length;
            return rows;
          };
        }
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  const spy = vi.spyOn(db, "transaction").mockImplementation(((fn: (tx: Queryable) => Promise<unknown>) => original((tx) => fn(counting(tx)))) as Database["transaction"]);
  try {
    await work();
  } finally {
    spy.mockRestore();
  }
  return writes;
}

describeEachBackend("identity sync writes only what changed", (backend) => {
  const { env, standIn } = useStandIn(() => {
    const base = baseFixture();
    // A user the next test deletes and makes again under a new id with the same email.
    base.users.push({ id: "usr_carol_old", tenant_id: "tnt_default", email: "carol@acme.example", display_name: "Carol", status: "ACTIVE", mfa_enabled: false, roles: [] });
    // Names holding the comparison key's separator, null mark and escape: the database's key and
    // the sync's must agree on them (else this entry would be rewritten by every sync).
    base.users.push({ id: "usr_ctrl", tenant_id: "tnt_default", email: "ctrl@acme.example", display_name: "a\u0001b\u0002c\u0003d", status: "ACTIVE", mfa_enabled: true, roles: ["tenant_admin"] });
    base.groups.push({ id: "grp_ctrl", tenant_id: "tnt_default", name: "ctrl", description: "\u0003\u0001", status: "ACTIVE" });
    return base;
  });
  const vault = useVault(backend, { env });

  beforeAll(async () => {
    const { admin } = vault();
    expect((await waitForSync(admin, (await startupSync(admin)).sync_id)).status).toBe("completed");
  });

  it("a sync that finds nothing new writes no entry or membership row; the views still show its time", async () => {
    const { admin, vault: server } = vault();
    const stored = () => server.db.get<{ last_synced_at: number | string }>("SELECT last_synced_at FROM directory_identities WHERE tenant_id = 'tnt_default' AND id = 'usr_alice'");
    const before = Number((await stored())!.last_synced_at);
    let sync: { stats: Record<string, number>; completed_at: string } | undefined;
    const writes = await directoryWrites(server.db, async () => (sync = await syncNow(admin)));
    expect([...writes]).toEqual([]);
    // Every group's and every bucket's digest is unchanged: no membership row or entry is even read.
    expect(writes.memberRowsRead).toBe(0);
    expect(writes.keysRead).toBe(0);
    expect(sync!.stats).toMatchObject({ added: 0, updated: 0, deleted: 0 });
    expect(Number((await stored())!.last_synced_at)).toBe(before);
    const alice = await admin.get("/v1/identity/resolve/user/usr_alice");
    const users = await admin.get("/v1/identity/tenants/tnt_default/users?q=alice");
    const tenant = await server.db.get<{ last_synced_at: number | string }>("SELECT last_synced_at FROM tenants WHERE id = 'tnt_default'");
    expect(Number(tenant!.last_synced_at)).toBeGreaterThan(before);
    for (const shown of [alice.body.last_synced_at, users.body.users[0].last_synced_at]) expect(Date.parse(shown)).toBe(Number(tenant!.last_synced_at));
  });

  it("a change writes its rows only; a deleted entry keeps the time it was deleted", async () => {
    const { admin, vault: server } = vault();
    standIn().edit((f) => {
      f.users.find((u) => u.id === "usr_bob")!.display_name = "Robert";
      f.memberships = f.memberships.filter((m) => m.member_id !== "app_ci");
      f.memberships.push({ group_id: "grp_sre", member_type: "user", member_id: "usr_bob" });
      f.users = f.users.filter((u) => u.id !== "usr_carol_old");
      f.users.push({ id: "usr_carol_new", tenant_id: "tnt_default", email: "carol@acme.example", display_name: "Carol", status: "ACTIVE", mfa_enabled: false, roles: [] });
    });
    const writes = await directoryWrites(server.db, () => syncNow(admin));
    // Only the buckets holding a change are read for comparison.
    const buckets = new Set(["usr_bob", "app_ci", "usr_carol_old", "usr_carol_new"].map(bucketOf));
    const cached = (await server.db.all<{ id: string }>("SELECT id FROM directory_identities WHERE tenant_id = 'tnt_default' AND id <> 'usr_carol_new'")).map((r) => r.id);
    expect(writes.keysRead).toBe(cached.filter((id) => buckets.has(bucketOf(id))).length);
    expect(writes.keysRead).toBeLessThan(cached.length);
    // bob (name and groups), ci (groups), the old carol (DELETED) updated, the new carol inserted;
    // one membership row deleted and one inserted.
    expect([...writes].sort()).toEqual([
      "DELETE FROM directory_members", "INSERT INTO directory_identities", "INSERT INTO directory_members",
      "UPDATE directory_identities SET", "UPDATE directory_identities SET", "UPDATE directory_identities SET",
    ]);
    expect((await admin.get("/v1/identity/groups/grp_sre/members")).body.members.map((m: { user_id: string }) => m.user_id)).toEqual(["usr_alice", "usr_bob"]);
    expect((await admin.get("/v1/identity/groups/grp_oncall/members")).body.members.map((m: { user_id: string }) => m.user_id)).toEqual(["usr_bob"]);
    const deletedAt = (await admin.get("/v1/identity/resolve/user/usr_carol_old")).body;
    expect(deletedAt.status).toBe("DELETED");
    await syncNow(admin);
    const later = (await admin.get("/v1/identity/resolve/user/usr_carol_old")).body;
    expect(later.last_synced_at).toBe(deletedAt.last_synced_at);
    expect(Date.parse((await admin.get("/v1/identity/resolve/user/usr_carol_new")).body.last_synced_at)).toBeGreaterThan(Date.parse(later.last_synced_at));
  });

  it("a cache applied before member digests is compared row by row once; a group gone takes its rows and digest", async () => {
    const { admin, vault: server } = vault();
    const digests = async () => (await server.db.all<{ group_id: string }>("SELECT group_id FROM directory_member_digests WHERE tenant_id = 'tnt_default' ORDER BY group_id")).map((r) => r.group_id);
    const rows = async (groupId: string) => (await server.db.all<{ member_id: string }>("SELECT member_id FROM directory_members WHERE tenant_id = 'tnt_default' AND group_id = ? ORDER BY member_id", [groupId])).map((r) => r.member_id);
    expect(await digests()).toEqual(["grp_ctrl", "grp_oncall", "grp_platform", "grp_sre"]);
    await server.db.run("DELETE FROM directory_member_digests WHERE tenant_id = 'tnt_default'");
    await server.db.run("INSERT INTO directory_members (tenant_id, group_id, member_type, member_id, added_at) VALUES ('tnt_default', 'grp_sre', 'user', 'usr_stray', NULL)");
    const legacy = await directoryWrites(server.db, () => syncNow(admin));
    expect([...legacy]).toEqual(["DELETE FROM directory_members"]);
    expect(await rows("grp_sre")).toEqual(["usr_alice", "usr_bob"]);
    expect(await digests()).toEqual(["grp_ctrl", "grp_oncall", "grp_platform", "grp_sre"]);
    standIn().edit((f) => {
      f.groups = f.groups.filter((g) => g.id !== "grp_oncall");
      f.memberships = f.memberships.filter((m) => m.group_id !== "grp_oncall");
    });
    await syncNow(admin);
    expect(await rows("grp_oncall")).toEqual([]);
    expect(await digests()).toEqual(["grp_ctrl", "grp_platform", "grp_sre"]);
    expect((await admin.get("/v1/identity/resolve/group/oncall")).body.status).toBe("DELETED");
  });

  it("a cache made before buckets is compared whole once, and its rows get their buckets", async () => {
    const { admin, vault: server } = vault();
    const cached = async () => server.db.all<{ id: string; bucket: number | string | null; status: string }>("SELECT id, bucket, status FROM directory_identities WHERE tenant_id = 'tnt_default'");
    await server.db.run("UPDATE directory_identities SET bucket = NULL WHERE tenant_id = 'tnt_default'");
    await server.db.run("DELETE FROM directory_entry_digests WHERE tenant_id = 'tnt_default'");
    // A row the directory no longer says: only a whole comparison finds it.
    await server.db.run("UPDATE directory_identities SET name = 'Stale' WHERE tenant_id = 'tnt_default' AND id = 'usr_alice'");
    const whole = await directoryWrites(server.db, () => syncNow(admin));
    const rows = await cached();
    expect(whole.keysRead).toBe(rows.length);
    expect((await admin.get("/v1/identity/resolve/user/usr_alice")).body.display_name).toBe("Alice");
    for (const row of rows) expect(Number(row.bucket), row.id).toBe(bucketOf(row.id));
    const live = new Set(rows.filter((r) => r.status !== "DELETED").map((r) => bucketOf(r.id)));
    const digests = await server.db.all<{ bucket: number | string }>("SELECT bucket FROM directory_entry_digests WHERE tenant_id = 'tnt_default'");
    expect(new Set(digests.map((d) => Number(d.bucket)))).toEqual(live);
    const again = await directoryWrites(server.db, () => syncNow(admin));
    expect([...again]).toEqual([]);
    expect(again.keysRead).toBe(0);
  });

  it("a credential naming an email that a deleted user and its successor share is the successor's", async () => {
    const { admin, anonymous } = vault();
    // Both entries were written by the same sync; the ones since wrote neither.
    const token = await admin.post("/v1/auth/tokens", { identity_id: "user:carol@acme.example", scopes: ["identity:read"] });
    expect(token.status).toBe(201);
    const read = await anonymous.withToken(token.body.token).get("/v1/identity/resolve/user/usr_carol_new");
    expect(read.status, read.text).toBe(200);
  });

  it("a group renamed renames it in its members' groups: a grant to the old name goes with it", async () => {
    const { admin, anonymous, vault: server } = vault();
    const token = await admin.post("/v1/auth/tokens", { identity_id: "user:alice@acme.example", scopes: ["identity:read"] });
    expect(token.status).toBe(201);
    const groupsOfAlice = async () => (await anonymous.withToken(token.body.token).get("/v1/auth/whoami")).body.groups as string[];
    expect(await groupsOfAlice()).toEqual(["group:platform", "group:sre"]);
    const members = (await admin.get("/v1/identity/groups/grp_sre/members")).body.members as unknown[];
    expect(members.length).toBeGreaterThan(0);
    standIn().edit((f) => {
      f.groups.find((g) => g.id === "grp_sre")!.name = "sre-retired";
    });
    // The group's entry (name, canonical id) and each member's (its groups' names) change; no membership does.
    const writes = await directoryWrites(server.db, () => syncNow(admin));
    expect([...writes]).toEqual(Array.from({ length: 1 + members.length }, () => "UPDATE directory_identities SET"));
    // Policies bind group names: the principal the gate builds must not keep the old one.
    expect(await groupsOfAlice()).toEqual(["group:platform", "group:sre-retired"]);
    expect((await admin.get("/v1/identity/resolve/user/usr_alice")).body.groups).toEqual(["group:platform", "group:sre-retired"]);
  });
});

describe("the sync's computation before its transaction", () => {
  const snapshot = (): TenantSnapshot => {
    const users = Array.from({ length: 3000 }, (_, i) => ({ id: `usr_${i}`, tenant_id: "t", email: `u${i}@x.example`, display_name: `U ${i}`, status: "ACTIVE" as const, mfa_enabled: false, roles: [] }));
    const groups = [{ id: "grp_a", tenant_id: "t", name: "a", description: null, status: "ACTIVE" as const }];
    const members = new Map([["grp_a", users.map((u) => ({ member_type: "user" as const, member_id: u.id, added_at: null }))]]);
    return { users, groups, members, applications: [] };
  };
  const tenant = { id: "t", partner_id: "p", name: "t", slug: null, status: "ACTIVE" } as Parameters<typeof entriesOf>[0];

  it("yields the loop as it goes: a large directory is not built in one piece", async () => {
    const slices = new LoopSlices(0);
    const pause = vi.spyOn(slices, "pause");
    const next = await withKeys(await entriesOf(tenant, snapshot(), 1, slices), slices);
    expect(next.entries).toHaveLength(3001);
    // 3,000 members, 3,001 entries and their buckets, each a slice per 256 items.
    expect(pause.mock.calls.length).toBeGreaterThanOrEqual(30);
  });

  it("gives a bucket the same digest whatever order the directory lists its entries in", async () => {
    const one = snapshot();
    const other = snapshot();
    other.users.reverse();
    const digests = async (s: TenantSnapshot) => {
      const next = await withKeys(await entriesOf(tenant, s, 1, new LoopSlices()), new LoopSlices());
      return new Map([...next.buckets].map(([bucket, b]) => [bucket, b.digest]));
    };
    const first = await digests(one);
    expect(first.size).toBeGreaterThan(200);
    expect(await digests(other)).toEqual(first);
    other.users[0]!.display_name = "changed";
    const changed = await digests(other);
    expect([...changed].filter(([bucket, digest]) => first.get(bucket) !== digest).map(([bucket]) => bucket)).toEqual([bucketOf(other.users[0]!.id)]);
  });
});

describe("entryKey", () => {
  it("tells apart entries whose fields would join to the same text", () => {
    const entry = (name: string, description: string | null): DirectoryEntry => ({
      tenantId: "t", id: "g", partnerId: "p", kind: "group", identityId: "group:g", email: null, clientId: null, name, description, status: "ACTIVE",
      mfaEnabled: false, roles: [], directGroups: [], groupIds: [], groups: [], lastSyncedAt: 0,
    });
    expect(entryKey(entry("a\u0001b", "c"))).not.toBe(entryKey(entry("a", "b\u0001c")));
    expect(entryKey(entry("a\u0001\u0002", null))).not.toBe(entryKey(entry("a", "\u0002\u0001\u0002")));
    expect(entryKey(entry("a", null))).not.toBe(entryKey(entry("a", "\u0002")));
  });
});
