import { beforeAll, expect, it } from "vitest";
import { PAGE_SCAN_LIMIT } from "../storage/bounded-page.js";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { everyPage } from "../testing/pages.js";
import { planOf, statementsDuring } from "../testing/plans.js";

/**
 * A rotation policy's history over many rotations (a row per secret per rotation; docs/benchmarks.md
 * round 24): the failed ones among many successes are found by a bounded walk (short pages with a
 * cursor), and each page starts at its cursor along (tenant, policy, created_at, id).
 */
const ROTATIONS = PAGE_SCAN_LIMIT + 5_000;

interface HistoryPage {
  status: number;
  body: { data: { id?: string; status: string; secret_path: string }[]; cursor: string | null; has_more: boolean };
}

describeEachBackend("rotation history over many rotations", (backend) => {
  const vault = useVault(backend);
  let policyId: string;

  beforeAll(async () => {
    const { admin, vault: server } = vault();
    const policy = await admin.post("/v1/rotation/policies", { name: "busy", interval: "1d" });
    expect(policy.status).toBe(201);
    policyId = policy.body.id;
    await admin.put("/v1/secrets/app/busy", { data: { password: "x" }, options: { rotation_policy_id: policyId } });
    expect((await admin.post(`/v1/rotation/policies/${policyId}/rotate`, {})).status).toBeLessThan(300);
    const seed = await server.db.get<{ id: string }>("SELECT id FROM rotation_history WHERE policy_id = ?", [policyId]);
    const pad = backend === "sqlite" ? "printf('%06d', g)" : "lpad(g::text, 6, '0')";
    const copied = "tenant_id, policy_id, path, trigger_kind, old_version, new_version, auto_generated, reason, due_at, completed_at";
    // Older successful rotations, and two failures amid them: copies of the real row.
    await server.db.run(
      `INSERT INTO rotation_history (id, status, created_at, ${copied}) WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < ${ROTATIONS})
       SELECT 'rot_' || ${pad}, CASE WHEN g IN (10, ${ROTATIONS - 10}) THEN 'failed' ELSE 'success' END, created_at - g * 1000, ${copied} FROM rotation_history, s WHERE id = ?`,
      [seed!.id],
    );
    if (backend === "postgres") await server.db.run("ANALYZE rotation_history");
  }, 120_000);

  it("the two failures among 25,000 rotations: short pages with a cursor, together exactly those two", async () => {
    const pages = await everyPage<{ status: string }>(vault().admin, `/v1/rotation/policies/${policyId}/history?status=failed&limit=100`);
    expect(pages.map((page) => [page.items.map((item) => item.status), page.has_more])).toEqual([[["failed"], true], [["failed"], false]]);
  }, 60_000);

  it("a later page starts at its cursor along the policy's history index", async () => {
    const { admin, vault: server } = vault();
    const first: HistoryPage = await admin.get(`/v1/rotation/policies/${policyId}/history?limit=50`);
    const { statements, value } = await statementsDuring(server.db, () => admin.get<HistoryPage["body"]>(`/v1/rotation/policies/${policyId}/history?limit=50&cursor=${first.body.cursor}`));
    expect(value.body.data).toHaveLength(50);
    const list = statements.filter((s) => /FROM rotation_history( INDEXED BY \w+)? WHERE/.test(s.sql) && /ORDER BY created_at DESC/.test(s.sql)).at(-1)!;
    expect(await planOf(server.db, list.sql, list.params), list.sql).toMatch(backend === "sqlite" ? /rotation_history_list \(tenant_id=\? AND policy_id=\? AND created_at<\?\)/ : /Index Cond: .*created_at <=/);
  });
});
