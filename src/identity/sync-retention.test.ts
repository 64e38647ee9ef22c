import { expect, it } from "vitest";
import { eventually } from "../events/test-receiver.js";
import { RetentionJob } from "../ops/retention.js";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { pruneStepPlan } from "../testing/plans.js";
import { emptyStats, FINISHED_SYNCS, SyncStore } from "./sync-store.js";

const HOUR = 3_600_000;

describeEachBackend("identity sync history retention", (backend) => {
  const vault = useVault(backend);

  it("prunes finished syncs past the window, keeping each scope's newest finished one and every unfinished one", async () => {
    const db = vault().vault.db;
    const store = new SyncStore(db);
    const now = Date.now() + 10 * HOUR;
    const cutoff = now - HOUR;
    /** One sync of the scope, started a minute before it finished (or still running). */
    const sync = async (tenantId: string, finishedAt: number, status: "completed" | "failed" | "running" = "completed") => {
      const { record } = await store.claim({ partnerId: "p_ret", scope: { partnerId: "p_ret", tenantId }, trigger: "webhook", triggeredBy: "scaikey", rerun: false }, finishedAt - 60_000);
      if (status !== "running") await store.finish(record.id, status, emptyStats(), [], finishedAt);
      return record.id;
    };
    const oldest = await sync("t_many", cutoff - 3 * HOUR, "failed");
    const older = await sync("t_many", cutoff - 2 * HOUR);
    const newestPastCutoff = await sync("t_many", cutoff - HOUR);
    const onlyOne = await sync("t_one", cutoff - 5 * HOUR);
    const pastCutoff = await sync("t_recent", cutoff - HOUR);
    const inWindow = await sync("t_recent", cutoff + 60_000);
    const finishedBeforeRunning = await sync("t_running", cutoff - 2 * HOUR);
    const running = await sync("t_running", now - 60_000, "running");

    const job = new RetentionJob(db, { job: "identity_syncs_retention", steps: FINISHED_SYNCS, windowMs: HOUR, intervalMs: 1000, log: () => {} });
    expect(await job.runIfDue(now)).toEqual({ identity_syncs: 3 });

    const left = (await db.all<{ id: string }>("SELECT id FROM identity_syncs WHERE partner_id = 'p_ret'")).map((row) => row.id).sort();
    expect(left).toEqual([newestPastCutoff, onlyOne, inWindow, finishedBeforeRunning, running].sort());
    expect(left).not.toContain(oldest);
    expect(left).not.toContain(older);
    expect(left).not.toContain(pastCutoff);
    // The history answers from what is left, its total included.
    expect((await store.list("p_ret", undefined, 20)).total).toBe(5);
  });

  it("finds the syncs to prune along the finished index and each scope's newer one along the scope index", async () => {
    const db = vault().vault.db;
    const [step] = FINISHED_SYNCS;
    const plan = await pruneStepPlan(db, step);
    expect(plan).toMatch(/identity_syncs_finished/);
    expect(plan).toMatch(/identity_syncs_scope/);
  });
});

describeEachBackend("identity sync history retention on a schedule", (backend) => {
  const vault = useVault(backend, { env: { SCAIVAULT_EVENTS_RETENTION: "1s", SCAIVAULT_RETENTION_INTERVAL: "300ms" } });

  it("a node prunes a finished sync once a newer one of its scope exists and it is past SCAIVAULT_EVENTS_RETENTION", async () => {
    const db = vault().vault.db;
    const store = new SyncStore(db);
    const scope = { partnerId: "p_sched", tenantId: "t_sched" };
    const finished = async (at: number) => {
      const { record } = await store.claim({ partnerId: "p_sched", scope, trigger: "manual", triggeredBy: "user:admin", rerun: false }, at - 1000);
      await store.finish(record.id, "completed", emptyStats(), [], at);
      return record.id;
    };
    const older = await finished(Date.now() - 3000);
    const newer = await finished(Date.now() - 2000);
    const left = async () => (await db.all<{ id: string }>("SELECT id FROM identity_syncs WHERE partner_id = 'p_sched'")).map((row) => row.id);
    expect(await eventually(left, (ids) => ids.length === 1, 30_000)).toEqual([newer]);
    expect(older).not.toBe(newer);
  }, 60_000);
});
