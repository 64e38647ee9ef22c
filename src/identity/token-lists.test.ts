import { beforeAll, expect, it } from "vitest";
import { PAGE_SCAN_LIMIT } from "../storage/bounded-page.js";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { everyPage } from "../testing/pages.js";
import { planOf, statementsDuring } from "../testing/plans.js";

/**
 * A tenant's token list when the tenant has a long history of exchanged tokens (every exchange
 * leaves one): a filter that matches few walks a bounded number of them per page, and the lists
 * walk the index that orders them (docs/benchmarks.md round 24).
 */
const HISTORY = PAGE_SCAN_LIMIT + 5_000;

describeEachBackend("token lists over a long history", (backend) => {
  const vault = useVault(backend);
  const personal: string[] = [];

  beforeAll(async () => {
    const { admin, anonymous, vault: server } = vault();
    const issued = await admin.post("/v1/auth/tokens", { identity_id: "user:alice@acme.example", scopes: ["secrets:read"] });
    const alice = anonymous.withToken(issued.body.token);
    for (let i = 0; i < 3; i++) personal.push((await alice.post("/v1/auth/tokens", { description: `laptop ${i}` })).body.id);
    const robot = await admin.post("/v1/auth/tokens", { identity_id: "sa:pods", scopes: ["secrets:read"] });
    // Exchanged tokens, as a workload leaves them, copied from a real row with new ids and hashes.
    const random = backend === "sqlite" ? "lower(hex(randomblob(16)))" : "md5(random()::text || g::text)";
    await server.db.run(
      `INSERT INTO tokens (id, token_hash, partner_id, tenant_id, identity_id, identity_type, scopes, roles, description, created_by, created_at, expires_at, revoked_at, kind, trust_id, subject)
       WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < ${HISTORY})
       SELECT 'tok_' || ${random}, ${random} || ${random}, partner_id, tenant_id, identity_id, identity_type, scopes, roles, 'exchange', created_by, created_at, expires_at, NULL, 'exchange', 'trs_x', 'pod'
       FROM tokens, s WHERE id = ?`,
      [robot.body.id],
    );
    // As autovacuum would after such a history: the planner's estimates are what the plans below depend on.
    if (backend === "postgres") await server.db.run("ANALYZE tokens");
  }, 120_000);

  it("kind=personal among 25,000 exchanged tokens: short pages with a cursor, together exactly the personal tokens", async () => {
    const pages = await everyPage<{ id: string; kind: string }>(vault().admin, "/v1/auth/tokens?kind=personal&limit=100");
    // One page looked at PAGE_SCAN_LIMIT tokens at most and said where to go on; the second the rest.
    expect(pages.map((page) => page.has_more)).toEqual([true, false]);
    expect(pages.flatMap((page) => page.items.map((token) => token.kind))).toEqual(["personal", "personal", "personal"]);
    expect(pages.flatMap((page) => page.items.map((token) => token.id)).sort()).toEqual([...personal].sort());
  }, 60_000);

  it("the tenant's list and one identity's walk the indexes that order them by id", async () => {
    const { admin, vault: server } = vault();
    // An empty identity_id names no identity: the tenant's list, as before.
    const cases = [["", "tokens_tenant_list", 100], ["?identity_id=", "tokens_tenant_list", 100], ["?identity_id=user:alice@acme.example", "tokens_identity_list", 4]] as const;
    for (const [query, index, count] of cases) {
      const { statements, value } = await statementsDuring(server.db, () => admin.get<{ data: unknown[]; has_more: boolean }>(`/v1/auth/tokens${query}`));
      expect(value.body).toMatchObject({ has_more: count === 100 });
      expect(value.body.data).toHaveLength(count);
      const list = statements.find((s) => /FROM tokens/.test(s.sql) && /ORDER BY id/.test(s.sql))!;
      expect(await planOf(server.db, list.sql, list.params), list.sql).toMatch(new RegExp(index));
    }
  });
});
