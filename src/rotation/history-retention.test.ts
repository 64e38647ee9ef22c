import { expect, it } from "vitest";
import { eventually } from "../events/test-receiver.js";
import { RetentionJob } from "../ops/retention.js";
import { newId } from "../shared/ids.js";
import type { Database } from "../storage/contract.js";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { pruneStepPlan } from "../testing/plans.js";
import { FINISHED_ROTATIONS, ScheduleStore, type HistoryRow } from "./schedule-store.js";

const HOUR = 3_600_000;

/** One rotation of `path` under `policy`, finished at `finishedAt` (null: still pending). */
async function rotation(db: Database, tenantId: string, policyId: string, path: string, finishedAt: number | null): Promise<string> {
  const created = (finishedAt ?? Date.now()) - 60_000;
  const row: HistoryRow = {
    id: newId("hist"), tenant_id: tenantId, policy_id: policyId, path, status: finishedAt === null ? "pending" : "success", trigger_kind: "schedule",
    old_version: 1, new_version: finishedAt === null ? null : 2, auto_generated: 1, reason: null, due_at: created, created_at: created, completed_at: finishedAt,
  };
  await new ScheduleStore(db).insertHistory(db, row);
  return row.id;
}

describeEachBackend("rotation history retention", (backend) => {
  const vault = useVault(backend);

  it("prunes finished rotations past the window, keeping each secret's newest under its policy and every pending one", async () => {
    const db = vault().vault.db;
    const now = Date.now() + 10 * HOUR;
    const cutoff = now - HOUR;
    const oldest = await rotation(db, "t_rh", "rot_a", "db/one", cutoff - 3 * HOUR);
    const older = await rotation(db, "t_rh", "rot_a", "db/one", cutoff - 2 * HOUR);
    const newestPastCutoff = await rotation(db, "t_rh", "rot_a", "db/one", cutoff - HOUR);
    const otherPath = await rotation(db, "t_rh", "rot_a", "db/two", cutoff - 5 * HOUR);
    const otherPolicy = await rotation(db, "t_rh", "rot_b", "db/one", cutoff - 4 * HOUR);
    const otherTenant = await rotation(db, "t_rh2", "rot_a", "db/one", cutoff - 4 * HOUR);
    const pastCutoff = await rotation(db, "t_rh", "rot_c", "db/three", cutoff - HOUR);
    const inWindow = await rotation(db, "t_rh", "rot_c", "db/three", cutoff + 60_000);
    const pending = await rotation(db, "t_rh", "rot_c", "db/three", null);

    const job = new RetentionJob(db, { job: "rotation_history_retention", steps: FINISHED_ROTATIONS, windowMs: HOUR, intervalMs: 1000, log: () => {} });
    expect(await job.runIfDue(now)).toEqual({ rotation_history: 3 });

    const left = (await db.all<{ id: string }>("SELECT id FROM rotation_history WHERE tenant_id IN ('t_rh', 't_rh2')")).map((row) => row.id).sort();
    expect(left).toEqual([newestPastCutoff, otherPath, otherPolicy, otherTenant, inWindow, pending].sort());
    for (const gone of [oldest, older, pastCutoff]) expect(left).not.toContain(gone);
  });

  it("finds the rotations to prune along the finished index and each secret's newer one along the secret index", async () => {
    const [step] = FINISHED_ROTATIONS;
    const plan = await pruneStepPlan(vault().vault.db, step);
    expect(plan).toMatch(/rotation_history_finished/);
    expect(plan).toMatch(/rotation_history_secret/);
  });
});

describeEachBackend("rotation history retention on a schedule", (backend) => {
  const vault = useVault(backend, { env: { SCAIVAULT_ROTATION_HISTORY_RETENTION: "1s", SCAIVAULT_RETENTION_INTERVAL: "300ms" } });

  it("a node prunes a finished rotation once a newer one of its secret exists and it is past SCAIVAULT_ROTATION_HISTORY_RETENTION", async () => {
    const db = vault().vault.db;
    const older = await rotation(db, "t_rh_sched", "rot_s", "app/key", Date.now() - 3000);
    const newer = await rotation(db, "t_rh_sched", "rot_s", "app/key", Date.now() - 2000);
    const left = async () => (await db.all<{ id: string }>("SELECT id FROM rotation_history WHERE tenant_id = 't_rh_sched'")).map((row) => row.id);
    expect(await eventually(left, (ids) => ids.length === 1, 30_000)).toEqual([newer]);
    expect(older).not.toBe(newer);
  }, 60_000);
});
