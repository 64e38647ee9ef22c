import { beforeAll, expect, it } from "vitest";
import { PAGE_SCAN_LIMIT } from "../storage/bounded-page.js";
import { describeEachBackend } from "../testing/backends.js";
import { type ApiClient, useVault } from "../testing/harness.js";
import { everyPage } from "../testing/pages.js";
import { planOf, statementsDuring } from "../testing/plans.js";
import { sharedTurns, statementTurns } from "../testing/turns.js";

/**
 * GET /v1/rotation/due over a tenant with many due secrets, asked by a caller that may rotate two
 * of them: one request used to walk and policy-check every due schedule (a statement per 200, all
 * in one turn of the event loop, each sorting the tenant's schedules). Now a page walks at most
 * PAGE_SCAN_LIMIT schedules along (tenant, due_at, path), a turn between statements, and says
 * where to go on.
 */
const BULK = PAGE_SCAN_LIMIT + 5_000;
const HOUR = 3_600_000;
const FAR = 4_102_444_800_000; // 2100: the rotation worker leaves these alone

interface Due {
  secret_path: string;
  due_at: string;
}

describeEachBackend("rotation: the due list over many due secrets", (backend) => {
  // No scheduler: its reconciliation removes schedules whose secret does not exist, as these have none.
  const vault = useVault(backend, { env: { SCAIVAULT_SCHEDULER: "false" } });
  let rare: ApiClient;

  beforeAll(async () => {
    const { admin, vault: server } = vault();
    const policy = (await admin.post("/v1/rotation/policies", { name: "bulk", interval: "30d" })).body as { id: string };
    const now = Date.now();
    const insert = (sql: string, params: (string | number)[]) =>
      server.db.run(
        `INSERT INTO rotation_schedules (tenant_id, path, partner_id, policy_id, anchor_at, last_rotated_at, due_at, state, warned, next_fire_at, pending_history_id, updated_at) ${sql}`,
        params,
      );
    // Due an hour ago and earlier, one millisecond apart, in path order too.
    await insert(
      `WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < ${BULK})
       SELECT 'tnt_default', 'bulk/s' || (100000 + g), 'ptn_default', ?, 0, NULL, ${now - HOUR - BULK} + g, 'due', 0, ${FAR}, NULL, 0 FROM s`,
      [policy.id],
    );
    // The two the caller may rotate: the latest due in the window, and a cycle marked due whose due_at lies past the window.
    await insert("VALUES ('tnt_default', 'rare/one', 'ptn_default', ?, 0, NULL, ?, 'due', 0, ?, NULL, 0)", [policy.id, now - 60_000, FAR]);
    await insert("VALUES ('tnt_default', 'rare/late', 'ptn_default', ?, 0, NULL, ?, 'due', 0, ?, NULL, 0)", [policy.id, now + 240 * HOUR, FAR]);
    if (backend === "postgres") await server.db.run("ANALYZE rotation_schedules");
    const grant = await admin.post("/v1/policies", { name: "rotate-rare", rules: [{ path_pattern: "rare/**", permissions: ["rotate"] }] });
    expect((await admin.post(`/v1/policies/${grant.body.id}/bindings`, { identity_type: "service_account", identity_id: "sa:rare" })).status).toBe(201);
    const issued = await admin.post("/v1/auth/tokens", { identity_id: "sa:rare", identity_type: "service_account", scopes: ["secrets:rotate"] });
    rare = admin.withToken(issued.body.token);
  }, 120_000);

  it("a caller that may rotate two of 25,000 due secrets: a short page where the bounded walk stopped, then both, in due order", async () => {
    const pages = await everyPage<Due>(rare, "/v1/rotation/due?limit=10");
    expect(pages.map((page) => page.has_more)).toEqual([true, false]);
    expect(pages[0].items).toEqual([]);
    expect(pages.flatMap((page) => page.items.map((due) => due.secret_path))).toEqual(["rare/one", "rare/late"]);
  });

  it("walks the schedules a window per turn of the event loop", async () => {
    const turns = await statementTurns(vault().vault.db, /ORDER BY (r\.)?due_at, (r\.)?path/, async () => {
      expect((await rare.get("/v1/rotation/due?limit=10")).status).toBe(200);
    });
    expect(turns.length).toBeGreaterThanOrEqual(PAGE_SCAN_LIMIT / 200);
    expect(sharedTurns(turns)).toEqual([]);
  });

  it("an admin pages through every due secret in (due_at, path) order", async () => {
    const { admin } = vault();
    const pages = await everyPage<Due>(admin, "/v1/rotation/due?limit=1000", "data", 40);
    const paths = pages.flatMap((page) => page.items.map((due) => due.secret_path));
    expect(paths).toHaveLength(BULK + 2);
    expect(paths.slice(0, 2)).toEqual(["bulk/s100001", "bulk/s100002"]);
    expect(paths.slice(-2)).toEqual(["rare/one", "rare/late"]);
    const times = pages.flatMap((page) => page.items.map((due) => Date.parse(due.due_at)));
    expect(times.every((time, i) => i === 0 || times[i - 1] <= time)).toBe(true);
  }, 60_000);

  it("each range reads its own index: due by the window's end, then unsettled past it", async () => {
    const db = vault().vault.db;
    const { statements } = await statementsDuring(db, () => everyPage<Due>(rare, "/v1/rotation/due?limit=10"));
    const last = (range: RegExp) => statements.filter((s) => /ORDER BY due_at, path/.test(s.sql) && range.test(s.sql)).at(-1)!;
    const due = last(/due_at <= \?/);
    const unsettled = last(/state <> 'scheduled'/);
    expect(await planOf(db, due.sql, due.params), due.sql).toMatch(/rotation_schedules_due/);
    expect(await planOf(db, unsettled.sql, unsettled.params), unsettled.sql).toMatch(/rotation_schedules_unsettled/);
  });
});
