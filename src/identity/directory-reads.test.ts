import { beforeAll, describe, expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { planOf, statementsDuring, type Statement } from "../testing/plans.js";
import { groupMembersPage, memberOrder } from "./group-members.js";
import type { GroupTreeMember } from "./store.js";
import { baseFixture, startupSync, useStandIn, waitForSync } from "./testing/use-standin.js";
import type { DirectoryFixture } from "./testing/scaikey-standin.js";

/**
 * The directory's reads cost what they answer, not the tenant's directory (docs/benchmarks.md
 * round 28): a group's members read its own tree, a group page counts its own groups' members, a
 * lookup by id is a point read, and a search scans the entries once (on SQLite in stretches).
 */
const BULK = 3_000;

function fixture(): DirectoryFixture {
  const base = baseFixture();
  const user = (id: string, status = "ACTIVE") => ({ id, tenant_id: "tnt_default", email: `${id}@tree.example`, display_name: id, status, mfa_enabled: false, roles: [] });
  const group = (id: string, status = "ACTIVE") => ({ id, tenant_id: "tnt_default", name: id.slice(4), description: id, status });
  const member = (group_id: string, member_type: "user" | "group" | "application", member_id: string) => ({ group_id, member_type, member_id });
  return {
    ...base,
    users: [...base.users, ...["usr_f", "usr_d", "usr_c", "usr_b", "usr_a", "usr_e"].map((id) => user(id))],
    groups: [...base.groups, group("grp_top"), group("grp_b"), group("grp_a"), group("grp_off", "DISABLED"), group("grp_deep"), group("grp_bulk")],
    applications: [...base.applications, { id: "app_x", tenant_id: "tnt_default", client_id: "x-bot", name: "X bot", type: "SERVICE", status: "ACTIVE" }],
    // Listed out of order on purpose: the answer's order must not depend on how rows were stored.
    memberships: [
      ...base.memberships,
      member("grp_top", "user", "usr_c"), member("grp_top", "group", "grp_off"), member("grp_top", "group", "grp_b"), member("grp_top", "group", "grp_a"), member("grp_top", "application", "app_x"),
      member("grp_a", "group", "grp_top"), member("grp_a", "user", "usr_b"), member("grp_a", "user", "usr_a"),
      member("grp_b", "user", "usr_d"), member("grp_b", "user", "usr_c"), member("grp_b", "user", "usr_a"), member("grp_b", "group", "grp_deep"),
      member("grp_deep", "user", "usr_f"), member("grp_off", "user", "usr_e"),
    ],
  };
}

const TREE = [
  ["app_x", "service_account", "DIRECT", null], ["usr_c", "user", "DIRECT", null],
  ["usr_a", "user", "INHERITED", "grp_a"], ["usr_b", "user", "INHERITED", "grp_a"],
  ["usr_d", "user", "INHERITED", "grp_b"], ["usr_f", "user", "INHERITED", "grp_b"],
];

const rowsFrom = (statements: Statement[], table: string) => statements.filter((s) => s.sql.includes(table)).reduce((sum, s) => sum + (s.rows ?? 0), 0);

describeEachBackend("identity directory reads at the size of their answer", (backend) => {
  const { env } = useStandIn(fixture);
  const vault = useVault(backend, { env });

  beforeAll(async () => {
    const { admin, vault: server } = vault();
    await waitForSync(admin, (await startupSync(admin)).sync_id);
    // The rest of a large directory: users the tree's reads must not touch, all in one group.
    const numbers = backend === "sqlite" ? `WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < ${BULK}) SELECT n FROM s` : `SELECT generate_series(1, ${BULK}) AS n`;
    await server.db.run(`INSERT INTO directory_identities (tenant_id, id, partner_id, kind, identity_id, email, name, status, last_synced_at)
      SELECT 'tnt_default', 'usr_bulk' || n, 'ptn_default', 'user', 'user:bulk' || n || '@tree.example', 'bulk' || n || '@tree.example', 'Bulk ' || n, 'ACTIVE', 0 FROM (${numbers}) s`);
    await server.db.run(`INSERT INTO directory_members (tenant_id, group_id, member_type, member_id, added_at)
      SELECT 'tnt_default', 'grp_bulk', 'user', 'usr_bulk' || n, NULL FROM (${numbers}) s`);
  });

  it("a group's members: nested groups breadth first, cycles and inactive groups ended, in one order on every read", async () => {
    const { admin, vault: server } = vault();
    const { value: all, statements } = await statementsDuring(server.db, () => admin.get("/v1/identity/groups/grp_top/members?page_size=50"));
    expect(all.status, all.text).toBe(200);
    expect(all.body.members.map((m: Record<string, unknown>) => [m.user_id, m.member_type, m.membership_type, m.via_group_id])).toEqual(TREE);
    expect(all.body.total).toBe(6);
    expect(all.body.members[0]).toMatchObject({ identity_id: "sa:x-bot", email: null });
    expect(all.body.members[2]).toMatchObject({ identity_id: "user:usr_a@tree.example", email: "usr_a@tree.example" });
    // The bulk group's 3,000 rows and users are not read.
    expect(rowsFrom(statements, "directory_members")).toBeLessThan(30);
    expect(rowsFrom(statements, "directory_identities")).toBeLessThan(30);
    const page = await admin.get("/v1/identity/groups/grp_top/members?page=2&page_size=4");
    expect(page.body).toMatchObject({ total: 6, page: 2, page_size: 4 });
    expect(page.body.members.map((m: { user_id: string }) => m.user_id)).toEqual(["usr_d", "usr_f"]);
    // A group nested in itself through another answers (the recursion ends), with itself not listed.
    const a = await admin.get("/v1/identity/groups/grp_a/members");
    expect(a.body.members.map((m: Record<string, unknown>) => [m.user_id, m.membership_type, m.via_group_id])).toEqual([
      ["usr_a", "DIRECT", null], ["usr_b", "DIRECT", null], ["app_x", "INHERITED", "grp_top"], ["usr_c", "INHERITED", "grp_top"], ["usr_d", "INHERITED", "grp_top"], ["usr_f", "INHERITED", "grp_top"],
    ]);
    expect((await admin.get("/v1/identity/groups/grp_bulk/members?page_size=2")).body).toMatchObject({ total: BULK, members: [{ user_id: "usr_bulk1" }, { user_id: "usr_bulk10" }] });
  });

  it("a large group's members: on SQLite a stretch of its rows per statement, on PostgreSQL the group in one", async () => {
    const { admin, vault: server } = vault();
    const { value, statements } = await statementsDuring(server.db, () => admin.get("/v1/identity/groups/grp_bulk/members?page=3&page_size=100"));
    expect(value.status, value.text).toBe(200);
    expect(value.body).toMatchObject({ total: BULK, page: 3, page_size: 100 });
    const ids = Array.from({ length: BULK }, (_, i) => `usr_bulk${i + 1}`).sort();
    expect(value.body.members.map((m: { user_id: string }) => m.user_id)).toEqual(ids.slice(200, 300));
    const reads = statements.filter((s) => /FROM directory_members m LEFT JOIN/.test(s.sql));
    expect(reads.length).toBe(backend === "sqlite" ? BULK / 1000 + 1 : 1);
    expect(Math.max(...reads.map((s) => s.rows ?? 0))).toBe(backend === "sqlite" ? 1000 : BULK);
  });

  it("a page of groups counts the members of its own groups only", async () => {
    const { admin, vault: server } = vault();
    const { value: page, statements } = await statementsDuring(server.db, () => admin.get("/v1/identity/tenants/tnt_default/groups?page_size=3"));
    expect(page.status, page.text).toBe(200);
    expect(page.body.groups.map((g: { id: string; member_count: number }) => [g.id, g.member_count])).toEqual([["grp_a", 3], ["grp_b", 4], ["grp_bulk", BULK]]);
    expect(page.body.total).toBe(9);
    // grp_bulk's count is one counted row, not its 3,000 member rows.
    expect(rowsFrom(statements, "directory_members")).toBeLessThan(10);
  });

  it("a plain page of users counts and skips along the kind's index a stretch at a time on SQLite, with no COUNT of the whole kind", async () => {
    const { admin, vault: server } = vault();
    const size = 25_000;
    const numbers = backend === "sqlite" ? `WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < ${size}) SELECT n FROM s` : `SELECT generate_series(1, ${size}) AS n`;
    await server.db.run(`INSERT INTO directory_identities (tenant_id, id, partner_id, kind, identity_id, email, name, status, last_synced_at)
      SELECT 'tnt_default', 'usr_plain' || n, 'ptn_default', 'user', 'user:plain' || n || '@x.example', 'plain' || n || '@x.example', 'Plain ' || n, 'ACTIVE', 0 FROM (${numbers}) s`);
    try {
      const all = (await server.db.all<{ id: string }>("SELECT id FROM directory_identities WHERE tenant_id = 'tnt_default' AND kind = 'user'")).map((r) => r.id).sort();
      // A page deep in the list, and one across the first stretch's end (the 10,000th entry).
      for (const [page, pageSize] of [[2_300, 10], [100, 100], [1, 5]]) {
        const { value, statements } = await statementsDuring(server.db, () => admin.get(`/v1/identity/tenants/tnt_default/users?page=${page}&page_size=${pageSize}`));
        expect(value.status, value.text).toBe(200);
        expect(value.body.total).toBe(all.length);
        expect(value.body.users.map((u: { id: string }) => u.id)).toEqual(all.slice((page - 1) * pageSize, page * pageSize));
        if (backend === "sqlite") {
          expect(statements.filter((s) => /COUNT\(\*\) AS n FROM directory_identities WHERE tenant_id = \? AND kind = \?$/.test(s.sql))).toHaveLength(0);
          // Each statement along the kind reads at most a stretch: bounded by an id on both sides but the last.
          const along = statements.filter((s) => /FROM directory_identities WHERE tenant_id = \? AND kind = \?/.test(s.sql));
          expect(along.length).toBeGreaterThanOrEqual(3);
          expect(along.filter((s) => / OFFSET (\d{5,}|\?)/.test(s.sql) && Number(s.params[s.params.length - 1]) >= 10_000)).toHaveLength(0);
        }
      }
    } finally {
      await server.db.run("DELETE FROM directory_identities WHERE id LIKE 'usr_plain%'");
    }
  });

  it("a page of groups counts a large group's members a stretch at a time on SQLite, every group in one statement on PostgreSQL", async () => {
    const { admin, vault: server } = vault();
    const size = 25_000;
    const numbers = backend === "sqlite" ? `WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < ${size}) SELECT n FROM s` : `SELECT generate_series(1, ${size}) AS n`;
    await server.db.run(`INSERT INTO directory_identities (tenant_id, id, partner_id, kind, identity_id, name, status, last_synced_at) VALUES ('tnt_default', 'grp_zzhuge', 'ptn_default', 'group', 'group:zzhuge', 'zzhuge', 'ACTIVE', 0)`);
    await server.db.run(`INSERT INTO directory_members (tenant_id, group_id, member_type, member_id, added_at) SELECT 'tnt_default', 'grp_zzhuge', 'user', 'usr_huge' || n, NULL FROM (${numbers}) s`);
    try {
      const { value: page, statements } = await statementsDuring(server.db, () => admin.get("/v1/identity/tenants/tnt_default/groups?page_size=500"));
      expect(page.status, page.text).toBe(200);
      const counts = Object.fromEntries(page.body.groups.map((g: { id: string; member_count: number }) => [g.id, g.member_count]));
      expect(counts).toMatchObject({ grp_a: 3, grp_b: 4, grp_bulk: BULK, grp_zzhuge: size });
      const counting = statements.filter((s) => /FROM directory_members WHERE tenant_id = \? AND group_id = \?/.test(s.sql) && s.params.includes("grp_zzhuge"));
      // Two stretches of 10,000 found by their ends, and the rest counted: no statement reads more than a stretch.
      expect(counting.length).toBe(backend === "sqlite" ? 4 : 0);
      if (backend === "postgres") expect(statements.filter((s) => /GROUP BY group_id/.test(s.sql))).toHaveLength(1);
    } finally {
      await server.db.run("DELETE FROM directory_members WHERE group_id = 'grp_zzhuge'");
      await server.db.run("DELETE FROM directory_identities WHERE id = 'grp_zzhuge'");
    }
  });

  it("a lookup by id or canonical id is a point read; a search scans the entries once", async () => {
    const { admin, anonymous, vault: server } = vault();
    const byEmail = await statementsDuring(server.db, () => admin.get("/v1/identity/resolve/user/bulk77@tree.example"));
    expect(byEmail.value.body).toMatchObject({ id: "usr_bulk77", identity_id: "user:bulk77@tree.example" });
    const token = await admin.post("/v1/auth/tokens", { identity_id: "user:bulk78@tree.example", scopes: ["identity:read"] });
    const asBulk = await statementsDuring(server.db, () => anonymous.withToken(token.body.token).get("/v1/identity/resolve/user/usr_bulk78"));
    expect(asBulk.value.status, asBulk.value.text).toBe(200);
    const lookups = [...byEmail.statements, ...asBulk.statements].filter((s) => /FROM directory_identities WHERE .*identity_id = \?/s.test(s.sql));
    expect(lookups.length).toBeGreaterThanOrEqual(3);
    if (backend === "sqlite") {
      // The OR forms walked the tenant's entries (of the kind) along `directory_identities_kind`.
      for (const lookup of lookups) expect(await planOf(server.db, lookup.sql, lookup.params), lookup.sql).not.toMatch(/directory_identities_kind \(tenant_id=\?( AND kind=\?)?\)$/m);
    }

    const one = await statementsDuring(server.db, () => admin.get("/v1/identity/tenants/tnt_default/users?q=BULK77&page_size=50"));
    expect(one.value.body.users.map((u: { id: string }) => u.id)).toEqual(["usr_bulk77", "usr_bulk770", "usr_bulk771", "usr_bulk772", "usr_bulk773", "usr_bulk774", "usr_bulk775", "usr_bulk776", "usr_bulk777", "usr_bulk778", "usr_bulk779"]);
    expect(one.value.body.total).toBe(11);
    expect(one.statements.filter((s) => /COUNT\(\*\) AS n FROM directory_identities/.test(s.sql))).toHaveLength(0);
    // A full page counts its matches in the same pass. On SQLite the pass goes in stretches of
    // 1,000 entries (each bounded by an id), so no statement holds the loop for the whole directory.
    const full = await statementsDuring(server.db, () => admin.get("/v1/identity/tenants/tnt_default/users?q=bulk77&page_size=5"));
    expect(full.value.body).toMatchObject({ total: 11, page_size: 5 });
    expect(full.statements.filter((s) => /COUNT\(\*\) AS n FROM directory_identities/.test(s.sql))).toHaveLength(0);
    const scans = full.statements.filter((s) => /FROM directory_identities WHERE .* LIKE \?/s.test(s.sql));
    expect(scans.length).toBe(backend === "sqlite" ? Math.ceil((BULK + 8) / 1000) : 1);
    if (backend === "sqlite") expect(scans.slice(0, -1).every((s) => s.sql.includes("id <= ?"))).toBe(true);
    expect((await admin.get("/v1/identity/tenants/tnt_default/users?q=bulk77&page=3&page_size=5")).body).toMatchObject({ total: 11, users: [{ id: "usr_bulk779" }] });
    expect((await admin.get("/v1/identity/tenants/tnt_default/users?q=bulk77&page=4&page_size=5")).body).toMatchObject({ total: 11, users: [] });
    expect((await admin.get("/v1/identity/tenants/tnt_default/users?q=%25_&page_size=1")).body.total).toBe(BULK + 8);
    expect((await admin.get("/v1/identity/tenants/tnt_default/users?q=TREE.EXAMPLE&page_size=1")).body.total).toBe(BULK + 6);
  });
});

describe("groupMembersPage", () => {
  const row = (group_id: string, member_type: string, member_id: string, status: string | null = "ACTIVE", identity_id: string | null = `user:${member_id}`): GroupTreeMember =>
    ({ group_id, member_type, member_id, added_at: null, identity_id, email: null, status });
  const rowsFrom = (rows: GroupTreeMember[]) => async (groupId: string, visit: (row: GroupTreeMember) => void) => {
    for (const r of rows.filter((r) => r.group_id === groupId).sort(memberOrder)) visit(r);
  };

  it("skips a member with no entry; a group reached twice keeps its first path (g3 directly, not through g2)", async () => {
    const rows = [row("g1", "group", "g2"), row("g1", "group", "g3"), row("g2", "group", "g3"), row("g3", "user", "u1"), row("g2", "user", "ghost", null, null), row("g3", "group", "g1")];
    const out = await groupMembersPage("g1", rowsFrom(rows), { offset: 0, limit: 50 });
    expect(out).toEqual({ total: 1, members: [{ user_id: "u1", identity_id: "user:u1", member_type: "user", email: null, membership_type: "INHERITED", via_group_id: "g3", added_at: null }] });
  });

  it("counts every member once and keeps only the page's", async () => {
    const rows = [row("g1", "user", "u1"), row("g1", "group", "g2"), row("g2", "user", "u1"), row("g2", "user", "u2"), row("g2", "user", "u3"), row("g1", "user", "u4")];
    const all = await groupMembersPage("g1", rowsFrom(rows), { offset: 0, limit: 50 });
    expect(all.members.map((m) => [m.user_id, m.membership_type])).toEqual([["u1", "DIRECT"], ["u4", "DIRECT"], ["u2", "INHERITED"], ["u3", "INHERITED"]]);
    const page = await groupMembersPage("g1", rowsFrom(rows), { offset: 1, limit: 2 });
    expect(page).toEqual({ total: 4, members: all.members.slice(1, 3) });
    expect((await groupMembersPage("g1", rowsFrom(rows), { offset: 4, limit: 2 })).members).toEqual([]);
  });
});
