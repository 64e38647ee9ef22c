import { expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { planOf, statementsDuring } from "../testing/plans.js";

/**
 * The policy list and a policy's bindings a page at a time: pages in order that never overlap or
 * skip, and reads bounded by the page (docs/benchmarks.md round 34).
 */
describeEachBackend("access: policy and binding lists", (backend) => {
  const vault = useVault(backend);

  it("pages through the tenant's and the partner's policies in id order, and no other tenant's", async () => {
    const { admin, vault: server } = vault();
    // Policies of other tenants of the partner, which no page of this tenant's may read.
    await server.db.run(
      `INSERT INTO policies (id, partner_id, tenant_id, scope, name, description, rules, builtin, is_active, created_at, updated_at)
        SELECT 'pol_other' || n, 'ptn_default', 'tnt_other' || n, 'tenant', 'other', NULL, '[]', 0, 1, 0, 0 FROM (${backend === "sqlite" ? "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 50) SELECT n FROM s" : "SELECT generate_series(1, 50) AS n"}) s`,
    );
    const made: string[] = [];
    for (const [name, scope] of [["list-a", "tenant"], ["list-b", "partner"], ["list-c", "tenant"], ["list-d", "partner"], ["list-e", "tenant"]] as const) {
      const created = await admin.post("/v1/policies", { name, scope, rules: [{ path_pattern: `${name}/**`, permissions: ["read"] }] });
      expect(created.status, created.text).toBe(201);
      made.push(created.body.id);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const read: { status: number; text: string; body: { policies: { id: string }[]; cursor: string | null } } = await admin.get(`/v1/policies?limit=2${cursor ? `&cursor=${cursor}` : ""}`);
      expect(read.status, read.text).toBe(200);
      seen.push(...read.body.policies.map((p) => p.id));
      cursor = read.body.cursor;
      pages++;
    } while (cursor && pages < 20);
    expect(seen).toEqual([...seen].sort());
    expect(seen.filter((id) => made.includes(id))).toEqual([...made].sort());
    expect(seen.some((id) => id.startsWith("pol_other"))).toBe(false);
  });

  it("lists a policy's bindings a page at a time in (created_at, id) order, and unbinds or deletes without reading them all", async () => {
    const { admin, vault: server } = vault();
    const policy = await admin.post("/v1/policies", { name: "many-bound", rules: [{ path_pattern: "bound/**", permissions: ["read"] }] });
    const numbers = backend === "sqlite" ? "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 25) SELECT n FROM s" : "SELECT generate_series(1, 25) AS n";
    // Five bindings share each creation time: the id orders them.
    await server.db.run(
      `INSERT INTO policy_bindings (id, policy_id, partner_id, tenant_id, identity_type, identity_id, expires_at, created_at, created_by)
        SELECT 'pbd_many' || (100 - n), ?, 'ptn_default', 'tnt_default', 'service_account', 'sa:bound' || n, NULL, 1000 + n / 5, NULL FROM (${numbers}) s`,
      [policy.body.id],
    );
    const seen: { id: string; created_at: string }[] = [];
    let cursor: string | null = null;
    let statements: { sql: string; params: readonly unknown[] }[] = [];
    for (let pages = 0; pages < 10; pages++) {
      const read = await statementsDuring(server.db, () => admin.get(`/v1/policies/${policy.body.id}/bindings?limit=10${cursor ? `&cursor=${cursor}` : ""}`));
      expect(read.value.status, read.value.text).toBe(200);
      seen.push(...read.value.body.data);
      statements = read.statements;
      cursor = read.value.body.cursor;
      if (!read.value.body.has_more) break;
    }
    // Bad paging input is the contract's error, with its code.
    for (const [query, status, code] of [["limit=0", 422, "validation_error"], ["limit=1001", 422, "validation_error"], ["cursor=not-a-cursor", 400, "invalid_cursor"], ["color=red", 422, "validation_error"]] as const) {
      const refused = await admin.get(`/v1/policies/${policy.body.id}/bindings?${query}`);
      expect({ status: refused.status, code: refused.body.error?.code }, query).toEqual({ status, code });
    }
    const ids = seen.map((b) => b.id);
    expect(ids).toHaveLength(25);
    expect(new Set(ids).size).toBe(25);
    const stored = await server.db.all<{ id: string }>("SELECT id FROM policy_bindings WHERE policy_id = ? ORDER BY created_at, id", [policy.body.id]);
    expect(ids).toEqual(stored.map((b) => b.id));
    const page = statements.find((s) => /FROM policy_bindings WHERE policy_id = \?/.test(s.sql))!;
    const plan = await planOf(server.db, page.sql, page.params);
    expect(plan, page.sql).toContain("policy_bindings_page");
    expect(plan, page.sql).not.toMatch(/TEMP B-TREE|Sort/);

    // Rows of this policy's bindings read, per distinct statement (the caller's own bindings are
    // read to authorize it too; PostgreSQL's adapter records a `get` and the read beneath it).
    const rowsOf = (list: { sql: string; params: readonly unknown[]; rows?: number }[]) => {
      const reads = list.filter((s) => /^SELECT .* FROM policy_bindings/s.test(s.sql) && s.params.includes(policy.body.id));
      return [...new Map(reads.map((s) => [`${s.sql}\0${JSON.stringify(s.params)}`, s.rows ?? 0])).values()].reduce((sum, n) => sum + n, 0);
    };
    const unbind = await statementsDuring(server.db, () => admin.delete(`/v1/policies/${policy.body.id}/bindings/${ids[3]}`), { writes: true });
    expect(unbind.value.status, unbind.value.text).toBe(200);
    expect(rowsOf(unbind.statements)).toBeLessThanOrEqual(2);
    const refused = await admin.delete(`/v1/policies/${policy.body.id}`);
    expect(refused.body.error).toMatchObject({ code: "policy_in_use", details: { binding_count: 24 } });
    const removed = await statementsDuring(server.db, () => admin.delete(`/v1/policies/${policy.body.id}?force=true`), { writes: true });
    expect(removed.value.body).toEqual({ id: policy.body.id, deleted: true, removed_bindings: 24 });
    expect(rowsOf(removed.statements)).toBeLessThanOrEqual(2);
  });
});
