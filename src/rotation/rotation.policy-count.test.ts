import { expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { planOf, statementsDuring } from "../testing/plans.js";
import { statementTurns } from "../testing/turns.js";

const SCHEDULES = 25_000;

/**
 * A rotation policy's `secrets_count`, read with every view of the policy: counted along the
 * policy's index, on SQLite in stretches with turns of the loop between (one statement over a
 * million schedules held the node ~100 ms per read).
 */
describeEachBackend("rotation: a policy over many secrets", (backend) => {
  const vault = useVault(backend);

  it("counts its secrets exactly, along its index, on SQLite a stretch per turn of the loop", async () => {
    const { admin, vault: server } = vault();
    const policy = await admin.post("/v1/rotation/policies", { name: "everything", interval: "30d", auto_generate: true });
    expect(policy.status, policy.text).toBe(201);
    const other = await admin.post("/v1/rotation/policies", { name: "other", interval: "30d", auto_generate: true });
    const numbers = backend === "sqlite" ? `WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < ${SCHEDULES}) SELECT n FROM s` : `SELECT generate_series(1, ${SCHEDULES}) AS n`;
    // Every tenth schedule belongs to the other policy.
    await server.db.run(`INSERT INTO rotation_schedules (tenant_id, path, partner_id, policy_id, anchor_at, due_at, state, warned, updated_at)
      SELECT 'tnt_default', 'counted/' || n, 'ptn_default', CASE WHEN n % 10 = 0 THEN ? ELSE ? END, 0, 0, 'scheduled', 0, 0 FROM (${numbers}) s`, [other.body.id, policy.body.id]);

    const counting = /FROM rotation_schedules WHERE policy_id = \?/;
    const turns = await statementTurns(server.db, counting, async () => {
      const read = await admin.get(`/v1/rotation/policies/${policy.body.id}`);
      expect(read.status, read.text).toBe(200);
      expect(read.body.secrets_count).toBe(SCHEDULES - SCHEDULES / 10);
    });
    expect((await admin.get(`/v1/rotation/policies/${other.body.id}`)).body.secrets_count).toBe(SCHEDULES / 10);
    // A change (enable, disable, PATCH) counts after its transaction, as a read does: inside it, one
    // statement held SQLite's writer and loop for the whole count.
    const patchTurns = await statementTurns(server.db, counting, async () => {
      const disabled = await admin.post(`/v1/rotation/policies/${policy.body.id}/disable`);
      expect(disabled.status, disabled.text).toBe(200);
      expect(disabled.body).toMatchObject({ is_active: false, secrets_count: SCHEDULES - SCHEDULES / 10 });
    });
    // A page of policies: one statement on PostgreSQL, a policy after another on SQLite.
    const listTurns = await statementTurns(server.db, /FROM rotation_schedules WHERE (policy_id = \?|policy_id = ANY)/, async () => {
      const list = await admin.get("/v1/rotation/policies");
      expect(Object.fromEntries(list.body.data.map((p: { name: string; secrets_count: number }) => [p.name, p.secrets_count]))).toEqual({ everything: SCHEDULES - SCHEDULES / 10, other: SCHEDULES / 10 });
    });
    if (backend === "postgres") expect(listTurns).toHaveLength(1);
    if (backend === "sqlite") {
      // Two full stretches and the rest, the rest's two statements in one turn (it is shorter than a stretch).
      expect(turns.length).toBe(4);
      expect(new Set(turns).size).toBe(3);
      expect([patchTurns.length, new Set(patchTurns).size]).toEqual([4, 3]);
      expect(listTurns.length).toBe(6);
      // Each statement reads the policy's index entries only (no schedule rows, no other policy's).
      const { statements } = await statementsDuring(server.db, () => admin.get(`/v1/rotation/policies/${policy.body.id}`));
      for (const statement of statements.filter((s) => counting.test(s.sql))) {
        expect(await planOf(server.db, statement.sql, statement.params)).toMatch(/USING COVERING INDEX rotation_schedules_policy/);
      }
    }
  });
});
