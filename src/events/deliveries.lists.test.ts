import { beforeAll, expect, it } from "vitest";
import { PAGE_SCAN_LIMIT } from "../storage/bounded-page.js";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { everyPage } from "../testing/pages.js";
import { planOf, statementsDuring } from "../testing/plans.js";

/**
 * A webhook's delivery log over a month of traffic (docs/benchmarks.md round 24): the failed
 * deliveries among many delivered are found by a bounded walk (short pages with a cursor), and
 * every page starts at its cursor along (target, created_at, id).
 */
const DELIVERED = PAGE_SCAN_LIMIT + 5_000;

interface DeliveryPage {
  status: number;
  body: { deliveries: { id: string; status: string }[]; cursor: string | null; has_more: boolean };
}

describeEachBackend("delivery lists over a long history", (backend) => {
  const vault = useVault(backend);
  let hookId: string;
  const failed = ["del_failed_1", "del_failed_2"];

  beforeAll(async () => {
    const { admin, vault: server } = vault();
    const hook = await admin.post("/v1/webhooks", { name: "busy", url: "http://not-yet-there.invalid/hook", secret: "s", events: ["secret.created"], filters: { path_prefix: "nothing-here/" } });
    expect(hook.status).toBe(201);
    hookId = hook.body.id;
    const me = (await admin.get("/v1/auth/whoami")).body;
    const now = Date.now();
    const pad = backend === "sqlite" ? "printf('%06d', g)" : "lpad(g::text, 6, '0')";
    // A month of delivered events, older and older, then the two that failed, newest.
    const columns = "id, partner_id, tenant_id, target_kind, target_id, event_id, event_type, ordering_key, dispatch_seq, status, attempts, next_attempt_at, created_at, updated_at";
    await server.db.run(
      `INSERT INTO event_deliveries (${columns}) WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < ${DELIVERED})
       SELECT 'del_' || ${pad}, ?, ?, 'webhook', ?, 'evt_' || ${pad}, 'secret.created', 'k', g, 'success', 1, 0, CAST(? AS BIGINT) - g * 1000, CAST(? AS BIGINT) - g * 1000 FROM s`,
      [me.partner_id, me.tenant_id, hookId, now, now],
    );
    for (const [i, id] of failed.entries()) {
      await server.db.run(`INSERT INTO event_deliveries (${columns}) VALUES (?, ?, ?, 'webhook', ?, ?, 'secret.created', 'k', ?, 'failed', 5, 0, ?, ?)`, [id, me.partner_id, me.tenant_id, hookId, `evt_f${i}`, DELIVERED + i + 1, now + i, now + i]);
    }
    if (backend === "postgres") await server.db.run("ANALYZE event_deliveries");
  }, 120_000);

  it("the two failed among 25,000 delivered: short pages with a cursor, together exactly those two", async () => {
    const pages = await everyPage<{ id: string }>(vault().admin, `/v1/webhooks/${hookId}/deliveries?status=failed&limit=50`, "deliveries");
    expect(pages.map((page) => page.has_more)).toEqual([true, false]);
    expect(pages.flatMap((page) => page.items.map((d) => d.id))).toEqual([...failed].reverse());
  }, 60_000);

  it("a later page starts at its cursor along the target's (created_at, id) index", async () => {
    const { admin, vault: server } = vault();
    const first: DeliveryPage = await admin.get(`/v1/webhooks/${hookId}/deliveries?limit=50`);
    const { statements, value } = await statementsDuring(server.db, () => admin.get<DeliveryPage["body"]>(`/v1/webhooks/${hookId}/deliveries?limit=50&cursor=${first.body.cursor}`));
    expect(value.body.deliveries).toHaveLength(50);
    expect(value.body.deliveries[0].id).not.toBe(first.body.deliveries[0].id);
    const list = statements.filter((s) => /FROM event_deliveries( INDEXED BY \w+)? WHERE/.test(s.sql) && /ORDER BY created_at DESC/.test(s.sql)).at(-1)!;
    // The keyset's bound reaches the index (SQLite: `created_at<?` in the search; PostgreSQL: in the Index Cond).
    expect(await planOf(server.db, list.sql, list.params), list.sql).toMatch(backend === "sqlite" ? /event_deliveries_target_list \(target_id=\? AND created_at<\?\)/ : /Index Cond: \(\(target_id = .*created_at <=/);
  });
});
