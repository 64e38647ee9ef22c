import { beforeAll, expect, it } from "vitest";
import { PAGE_SCAN_LIMIT } from "../storage/bounded-page.js";
import { describeEachBackend } from "../testing/backends.js";
import { useVault, type ApiClient } from "../testing/harness.js";
import { everyPage } from "../testing/pages.js";
import { statementsDuring } from "../testing/plans.js";

/**
 * The secret lists in a large tenant (docs/benchmarks.md round 24): a caller who may list a few
 * secrets among many reads only the ranges its grants reach; where they reach everything (a grant
 * starting with a wildcard) a page looks at a bounded number of secrets (short pages with a cursor),
 * and each step of a walk reads on from where the last stopped.
 */
const OTHERS = PAGE_SCAN_LIMIT + 5_000;
const OWN = ["team-a/db", "team-a/queue"];

describeEachBackend("secret lists over many secrets the caller may not see", (backend) => {
  const vault = useVault(backend);
  let narrow: ApiClient;
  let wildcard: ApiClient;

  beforeAll(async () => {
    const { admin, anonymous, vault: server } = vault();
    for (const path of OWN) expect((await admin.put(`/v1/secrets/${path}`, { data: { password: "p" }, options: { expires_in: "7d" } })).status).toBe(201);
    const policy = await admin.post("/v1/policies", { name: "team-a-lister", rules: [{ path_pattern: "team-a/**", permissions: ["list"] }] });
    await admin.post(`/v1/policies/${policy.body.id}/bindings`, { identity_type: "service_account", identity_id: "sa:team-a" });
    narrow = anonymous.withToken((await admin.post("/v1/auth/tokens", { identity_id: "sa:team-a", scopes: ["secrets:list"] })).body.token);
    // A grant that starts with a wildcard reaches every path: its list has to look through them all.
    const anyDb = await admin.post("/v1/policies", { name: "any-db-lister", rules: [{ path_pattern: "*/db", permissions: ["list"] }] });
    await admin.post(`/v1/policies/${anyDb.body.id}/bindings`, { identity_type: "service_account", identity_id: "sa:any-db" });
    wildcard = anonymous.withToken((await admin.post("/v1/auth/tokens", { identity_id: "sa:any-db", scopes: ["secrets:list"] })).body.token);
    // Other teams' secrets, before and after team-a's in path order, expiring too: copies of a real row.
    const pad = backend === "sqlite" ? "printf('%06d', g)" : "lpad(g::text, 6, '0')";
    const copied = "tenant_id, partner_id, secret_type, metadata, max_versions, expires_in, expires_at, notify_before, current_version, created_at, created_by, updated_at";
    await server.db.run(
      `INSERT INTO secrets (path, ${copied}) WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < ${OTHERS})
       SELECT CASE WHEN g % 2 = 0 THEN 'aaa/' ELSE 'zzz/' END || ${pad}, ${copied} FROM secrets, s WHERE path = ?`,
      [OWN[0]],
    );
    if (backend === "postgres") await server.db.run("ANALYZE secrets");
  }, 120_000);

  /** Each page's paths and has_more, following the cursor (100 a page). */
  async function pathPages(url: string, client = narrow) {
    const pages = await everyPage<{ path: string }>(client, `${url}${url.includes("?") ? "&" : "?"}limit=100`);
    return pages.map((page) => ({ paths: page.items.map((item) => item.path), has_more: page.has_more }));
  }

  it("lists the two secrets a caller may list among 25,000 from the ranges its grants reach: one page", async () => {
    const { vault: server } = vault();
    const { statements, value: pages } = await statementsDuring(server.db, () => pathPages("/v1/secrets"));
    expect(pages).toEqual([{ paths: OWN, has_more: false }]);
    expect(statements.filter((s) => /FROM secrets\s+WHERE tenant_id = \? AND deleted_at IS NULL AND path/.test(s.sql)).length).toBeLessThanOrEqual(2);
    // Inside its range, or outside it: the same answer.
    expect(await pathPages("/v1/secrets?prefix=team-a/")).toEqual([{ paths: OWN, has_more: false }]);
    expect(await pathPages("/v1/secrets?prefix=aaa/")).toEqual([{ paths: [], has_more: false }]);
  }, 60_000);

  it("a grant starting with a wildcard: short pages with a cursor, together exactly what it may list", async () => {
    const pages = await pathPages("/v1/secrets", wildcard);
    expect(pages.map((page) => page.has_more)).toEqual([true, false]);
    expect(pages.flatMap((page) => page.paths)).toEqual(["team-a/db"]);
  }, 60_000);

  it("lists the expiring ones the same way", async () => {
    const pages = await pathPages("/v1/secrets/expiring?within=30d");
    expect(pages.map((page) => page.has_more)).toEqual([true, false]);
    expect([...pages.flatMap((page) => page.paths)].sort()).toEqual(OWN);
  }, 60_000);

  it("each step of a walk narrows the index by where the last one stopped, not by the prefix's start", async () => {
    const { vault: server } = vault();
    const { statements } = await statementsDuring(server.db, () => wildcard.get("/v1/secrets?prefix=aaa/&limit=10"));
    const steps = statements.filter((s) => /FROM secrets\s+WHERE tenant_id = \? AND deleted_at IS NULL/.test(s.sql));
    expect(steps.length).toBeGreaterThan(1);
    // SQLite narrows a range by one lower bound of two on the same column and took the prefix's.
    for (const step of steps.slice(1)) expect(step.sql).not.toMatch(/path >= \?[\s\S]*path > \?/);
  });
});
