import fc from "fast-check";
import { expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault, type TestVault } from "../testing/harness.js";
import { planOf, statementsDuring } from "../testing/plans.js";
import { nextScheduledFire, storedThresholds, thresholdsPassed } from "./cycle.js";
import type { RotationPolicyRow } from "./policy-store.js";
import { DETACHED, ScheduleStore, type ScheduleRow } from "./schedule-store.js";

const DAY = 86_400_000;

/** `count` secrets linked to the policy with a scheduled cycle each, written straight to the tables. */
async function fillPolicy(server: TestVault["vault"], policyId: string, prefix: string, count: number, anchor: number): Promise<void> {
  const numbers =
    server.db.dialect === "sqlite"
      ? `WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < ${count}) SELECT n FROM s`
      : `SELECT generate_series(1, ${count}) AS n`;
  const metadata = JSON.stringify({ description: null, tags: [], owner: null, custom: {} });
  await server.db.run(
    `INSERT INTO secrets (tenant_id, path, partner_id, secret_type, metadata, max_versions, current_version, created_at, updated_at, rotation_policy_id)
      SELECT 'tnt_default', ? || n, 'ptn_default', 'kv', ?, 10, 1, 0, 0, ? FROM (${numbers}) s`,
    [prefix, metadata, policyId],
  );
  await server.db.run(
    `INSERT INTO rotation_schedules (tenant_id, path, partner_id, policy_id, anchor_at, due_at, state, warned, next_fire_at, updated_at)
      SELECT 'tnt_default', ? || n, 'ptn_default', ?, ?, ?, 'scheduled', 0, ?, 0 FROM (${numbers}) s`,
    [prefix, policyId, anchor, anchor + 30 * DAY, anchor + 30 * DAY],
  );
}

/** The statements that wrote rows of the policy's secrets, schedules or history (named by the policy or by a secret's path). */
const writesFor = (statements: { sql: string; params: readonly unknown[] }[], policyId: string, prefix: string) =>
  statements.filter(
    (s) =>
      /^\s*(UPDATE|DELETE|INSERT)/i.test(s.sql) &&
      /rotation_schedules|rotation_history|secrets/.test(s.sql) &&
      s.params.some((param) => param === policyId || (typeof param === "string" && param.startsWith(prefix))),
  );

/**
 * Changing a policy's interval or warnings reshapes every scheduled cycle of it, and deleting it
 * detaches every secret: in a handful of statements whatever the count (a statement or two per
 * secret held a SQLite node ~0.5 s for 20,000, docs/benchmarks.md round 34).
 */
describeEachBackend("rotation: a policy's secrets changed together", (backend) => {
  const vault = useVault(backend);

  it("reshapes every scheduled cycle as the cycle rule says, due and overdue ones left alone", async () => {
    const { vault: server } = vault();
    const store = new ScheduleStore(server.db);
    const duration = fc.integer({ min: 1, max: 400 }).map((hours) => hours * 3_600_000);
    let round = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          interval: duration,
          thresholds: fc.array(duration, { maxLength: 5 }),
          cycles: fc.array(fc.record({ ageHours: fc.integer({ min: -100, max: 900 }), state: fc.constantFrom("scheduled", "scheduled", "due", "overdue") }), { minLength: 1, maxLength: 12 }),
        }),
        async ({ interval, thresholds, cycles }) => {
          const policyId = `rot_bulk_${backend}_${round++}`;
          const now = Date.now();
          const policy = { id: policyId, tenant_id: "tnt_default", interval_seconds: interval / 1000, warn_before: thresholds.length ? thresholds.map((ms) => `${ms / 3_600_000}h`).join(",") : null } as RotationPolicyRow;
          // Besides the drawn anchors, one at each warning's moment exactly and a millisecond either side of it.
          const anchors = [
            ...cycles.map((c) => ({ anchor: now - c.ageHours * 3_600_000, state: c.state })),
            ...thresholds.flatMap((ms) => [-1, 0, 1].map((off) => ({ anchor: now - interval + ms + off, state: "scheduled" }))),
          ];
          const before: ScheduleRow[] = anchors.map((c, i) => ({
            tenant_id: "tnt_default", path: `bulk/${policyId}/${String(i).padStart(2, "0")}`, partner_id: "ptn_default", policy_id: policyId, anchor_at: c.anchor,
            last_rotated_at: null, due_at: 1, state: c.state as ScheduleRow["state"], warned: 9, next_fire_at: c.state === "scheduled" ? 1 : null, pending_history_id: null, updated_at: 0,
          }));
          // Written, reshaped, read and removed in one transaction: the scheduler's sweep never sees these cycles without secrets.
          const { changed, stored } = await server.db.transaction(async (tx) => {
            for (const row of before) await store.putSchedule(tx, row);
            const changed = await store.reshapeCycles(tx, policy, now);
            const stored = await tx.all<ScheduleRow>("SELECT * FROM rotation_schedules WHERE policy_id = ? ORDER BY path", [policyId]);
            await tx.run("DELETE FROM rotation_schedules WHERE policy_id = ?", [policyId]);
            return { changed, stored };
          });
          const shape = storedThresholds(policy.warn_before);
          const expected = before
            .map((row) => {
              if (row.state !== "scheduled") return row;
              const dueAt = row.anchor_at + interval;
              const warned = thresholdsPassed(shape, dueAt, now);
              return { ...row, due_at: dueAt, warned, next_fire_at: nextScheduledFire(shape, dueAt, warned), updated_at: now };
            })
            .sort((a, b) => (a.path < b.path ? -1 : 1));
          expect(changed).toBe(before.filter((row) => row.state === "scheduled").length);
          expect(stored.map((row) => ({ ...row, anchor_at: Number(row.anchor_at), due_at: Number(row.due_at), next_fire_at: row.next_fire_at === null ? null : Number(row.next_fire_at), updated_at: Number(row.updated_at), warned: Number(row.warned) }))).toEqual(expected);
        },
      ),
      { numRuns: 40 },
    );
  });

  it("changes and deletes a policy in the same few statements for 20 secrets as for 400", async () => {
    const { admin, vault: server } = vault();
    const anchor = Date.now() - DAY;
    const writes: Record<string, { patch: number; remove: number }> = {};
    for (const count of [20, 400]) {
      const policy = (await admin.post("/v1/rotation/policies", { name: `bulk-${count}`, interval: "30d" })).body;
      await fillPolicy(server, policy.id, `bulk${count}/`, count, anchor);
      // One of them through the API, with a rotation pending that the delete must close.
      await admin.put(`/v1/secrets/bulk${count}/real`, { data: { v: "x" }, options: { rotation_policy_id: policy.id } });
      await server.db.run(
        `INSERT INTO rotation_history (id, tenant_id, policy_id, path, status, trigger_kind, auto_generated, created_at) VALUES (?, 'tnt_default', ?, ?, 'pending', 'schedule', 0, ?)`,
        [`rhi_pending_${count}`, policy.id, `bulk${count}/real`, anchor],
      );
      await server.db.run("UPDATE rotation_schedules SET state = 'due', pending_history_id = ? WHERE tenant_id = 'tnt_default' AND path = ?", [`rhi_pending_${count}`, `bulk${count}/real`]);

      const patch = await statementsDuring(server.db, () => admin.patch(`/v1/rotation/policies/${policy.id}`, { interval: "10d", warn_before: "2d" }), { writes: true });
      expect(patch.value.status, patch.value.text).toBe(200);
      expect(patch.value.body.secrets_count).toBe(count + 1);
      const reshaped = await server.db.all<{ due_at: number | string; warned: number; next_fire_at: number | string }>("SELECT due_at, warned, next_fire_at FROM rotation_schedules WHERE policy_id = ? AND state = 'scheduled'", [policy.id]);
      expect(reshaped).toHaveLength(count);
      for (const row of reshaped) expect([Number(row.due_at), Number(row.warned), Number(row.next_fire_at)]).toEqual([anchor + 10 * DAY, 0, anchor + 8 * DAY]);
      // The due cycle keeps its moment.
      expect((await admin.get(`/v1/secrets/bulk${count}/real`)).body.rotation.state).toBe("due");

      const remove = await statementsDuring(server.db, () => admin.delete(`/v1/rotation/policies/${policy.id}`), { writes: true });
      expect(remove.value.body).toEqual({ id: policy.id, deleted: true, secrets_detached: count + 1 });
      const left = await server.db.get<{ schedules: number | string; linked: number | string; touched: number | string }>(
        `SELECT (SELECT COUNT(*) FROM rotation_schedules WHERE policy_id = ?) AS schedules,
                (SELECT COUNT(*) FROM secrets WHERE rotation_policy_id = ?) AS linked,
                (SELECT COUNT(*) FROM secrets WHERE path LIKE ? AND updated_at = 0) AS touched`,
        [policy.id, policy.id, `bulk${count}/%`],
      );
      expect({ schedules: Number(left?.schedules), linked: Number(left?.linked), untouched: Number(left?.touched) }).toEqual({ schedules: 0, linked: 0, untouched: 0 });
      const history = await server.db.get<{ status: string; reason: string; completed_at: number | string | null }>("SELECT status, reason, completed_at FROM rotation_history WHERE id = ?", [`rhi_pending_${count}`]);
      expect(history).toMatchObject({ status: "failed", reason: DETACHED });
      expect(history?.completed_at).not.toBeNull();
      const plain = await admin.get(`/v1/secrets/bulk${count}/real`);
      expect([plain.body.rotation_policy_id, plain.body.rotation]).toEqual([null, null]);

      writes[count] = { patch: writesFor(patch.statements, policy.id, `bulk${count}/`).length, remove: writesFor(remove.statements, policy.id, `bulk${count}/`).length };
    }
    expect(writes[400]).toEqual(writes[20]);
    expect(writes[20].patch).toBeLessThanOrEqual(3);
    expect(writes[20].remove).toBeLessThanOrEqual(6);
  });

  it("finds the secrets that name a rotation or secret policy along their own index, not every secret of the tenant", async () => {
    const { admin, vault: server } = vault();
    const recipe = await admin.post("/v1/secret-policies", { name: "bulk-recipe", fields: [{ name: "password", generator: "hex", config: { length: 40 } }] });
    const policy = await admin.post("/v1/rotation/policies", { name: "bulk-linked", interval: "30d" });
    expect([recipe.status, policy.status]).toEqual([201, 201]);
    const { statements } = await statementsDuring(
      server.db,
      async () => {
        expect((await admin.delete(`/v1/secret-policies/${recipe.body.id}`)).status).toBe(200);
        expect((await admin.delete(`/v1/rotation/policies/${policy.body.id}`)).status).toBe(200);
      },
      { writes: true },
    );
    const cases = [
      { pattern: /FROM secrets WHERE tenant_id = \? AND secret_policy_id = \?/, index: "secrets_secret_policy" },
      { pattern: /^UPDATE secrets SET rotation_policy_id = NULL WHERE tenant_id = \? AND rotation_policy_id = \?/, index: "secrets_rotation_policy" },
    ];
    for (const { pattern, index } of cases) {
      const statement = statements.find((s) => pattern.test(s.sql));
      expect(statement, String(pattern)).toBeDefined();
      expect(await planOf(server.db, statement!.sql, statement!.params), statement!.sql).toContain(index);
    }
  });
});
