import { afterAll, describe, expect, it } from "vitest";
import { describeEachBackend, postgresAvailable, scratchDatabase, type ScratchDatabase } from "../testing/backends.js";
import { laterPassesRan, nodeSetup, outbox, startNode, waitFor, type Node } from "./testing.js";

/** Waits until the wall clock is past `iso` (a due time the vault stored): the condition itself, not a guess. */
async function pastMoment(iso: string): Promise<void> {
  const at = Date.parse(iso);
  expect(Number.isFinite(at)).toBe(true);
  await waitFor(`the clock past ${iso}`, async () => Date.now() > at + 50, 60_000);
}

/** The scheduler's state lives in the database: a restart resumes it, and nodes sharing it fire once. */
describeEachBackend("rotation: restarts", (backend) => {
  const cleanup: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const step of cleanup.reverse()) await step();
  });
  async function database(): Promise<ScratchDatabase> {
    const db = await scratchDatabase(backend);
    cleanup.push(() => db.drop());
    return db;
  }

  it("catches up a due that passed while the vault was down, exactly once", async () => {
    const setup = nodeSetup((await database()).url);
    let node: Node = await startNode(setup);
    // 6 s: far longer than attaching and stopping take, so the due comes while no node runs.
    const policy = (await node.admin.post("/v1/rotation/policies", { name: "auto", interval: "6s", grace_period: "1h", auto_generate: true })).body;
    await node.admin.put("/v1/secrets/app/db", { data: { password: "before" } });
    expect((await node.admin.post(`/v1/rotation/policies/${policy.id}/secrets`, { secret_path: "app/db" })).status).toBe(201);
    const before = (await node.admin.get("/v1/secrets/app/db")).body;
    expect(before.version).toBe(1);
    await node.close();

    await pastMoment(before.rotation.next_rotation_at); // the due passes while no node runs
    node = await startNode(setup);
    cleanup.push(() => node.close());
    const rotated = await waitFor("the missed rotation", async () => (await outbox(node.vault, "app/db")).find((e) => e.event_type === "secret.rotated"));
    await node.admin.post(`/v1/rotation/policies/${policy.id}/disable`);
    expect(rotated.data).toMatchObject({ old_version: 1, new_version: 2, auto_generated: true });
    const read = await node.admin.get("/v1/secrets/app/db");
    const rotations = (await outbox(node.vault, "app/db")).filter((e) => e.event_type === "secret.rotated");
    expect(read.body.version).toBe(rotations.length + 1);
    expect(rotations.filter((e) => e.data.old_version === 1)).toHaveLength(1);
  }, 90_000);

  it("resumes a cycle in the middle: the warning is not repeated, the due fires once after the restart", async () => {
    const setup = nodeSetup((await database()).url);
    let node: Node = await startNode(setup);
    // The warning comes 2 s after the attach and the due 6 s later: windows of seconds for a
    // scheduler polling every 200 ms.
    const policy = (await node.admin.post("/v1/rotation/policies", { name: "event", interval: "8s", warn_before: "6s", grace_period: "1h" })).body;
    await node.admin.put("/v1/secrets/ext/api", { data: { key: "k1" } });
    expect((await node.admin.post(`/v1/rotation/policies/${policy.id}/secrets`, { secret_path: "ext/api" })).status).toBe(201);
    const warning = await waitFor("the warning", async () => (await outbox(node.vault, "ext/api")).find((e) => e.event_type === "rotation.due"));
    await node.close();

    await pastMoment(warning.data.due_at); // the due time passes while down
    node = await startNode(setup);
    cleanup.push(() => node.close());
    await waitFor("the due after restart", async () => (await outbox(node.vault, "ext/api")).some((e) => e.event_type === "rotation.due" && e.data.due_now));
    await laterPassesRan(node.vault, node.admin, "after-restart-due");
    const due = (await outbox(node.vault, "ext/api")).filter((e) => e.event_type === "rotation.due");
    expect(due.map((e) => [e.data.due_now, e.data.threshold])).toEqual([
      [false, "6s"],
      [true, null],
    ]);
    expect((await node.admin.get("/v1/secrets/ext/api")).body.rotation.state).toBe("due");
  }, 90_000);
});

const onPostgres = postgresAvailable() ? describe : describe.skip;

onPostgres("rotation: two nodes on one PostgreSQL database", () => {
  const nodes: Node[] = [];
  let db: ScratchDatabase | undefined;
  afterAll(async () => {
    for (const node of nodes) await node.close();
    await db?.drop();
  });

  it("fires every due once across nodes", async () => {
    db = await scratchDatabase("postgres");
    const setup = nodeSetup(db.url);
    nodes.push(await startNode(setup));
    nodes.push(await startNode(setup, { SCAIVAULT_SCHEDULER_POLL: "150ms" }));
    const [a, b] = nodes;
    const auto = (await a.admin.post("/v1/rotation/policies", { name: "auto-1s", interval: "1s", grace_period: "1h", auto_generate: true })).body;
    const manual = (await b.admin.post("/v1/rotation/policies", { name: "event-6s", interval: "6s", warn_before: "4s", grace_period: "1s" })).body;
    const autoPaths = ["a/one", "a/two", "a/three", "a/four"];
    for (const path of autoPaths) {
      await a.admin.put(`/v1/secrets/${path}`, { data: { password: "p0", user: path } });
      await b.admin.post(`/v1/rotation/policies/${auto.id}/secrets`, { secret_path: path });
    }
    await a.admin.put("/v1/secrets/e/one", { data: { key: "k0" } });
    await a.admin.post(`/v1/rotation/policies/${manual.id}/secrets`, { secret_path: "e/one" });

    await waitFor("overdue on the event-driven secret", async () => (await outbox(a.vault, "e/one")).some((e) => e.event_type === "rotation.overdue"));
    await waitFor("three rotations of every auto secret", async () => {
      for (const path of autoPaths) if ((await b.admin.get(`/v1/secrets/${path}`)).body.version < 4) return false;
      return true;
    });
    expect((await b.admin.post(`/v1/rotation/policies/${auto.id}/disable`)).status).toBe(200);
    // A pass begun before the disable ends before its node starts another: a marker that expires
    // a second later has been announced only by a later pass.
    await laterPassesRan(a.vault, a.admin, "after-disable");

    for (const path of autoPaths) {
      const events = await outbox(a.vault, path);
      const rotated = events.filter((e) => e.event_type === "secret.rotated");
      const completed = events.filter((e) => e.event_type === "rotation.completed");
      const version = (await a.admin.get(`/v1/secrets/${path}`)).body.version;
      // One rotation per version written, each replacing a different version: no due fired twice.
      expect(rotated.length).toBe(version - 1);
      expect(completed.length).toBe(version - 1);
      expect(new Set(rotated.map((e) => e.data.old_version)).size).toBe(rotated.length);
      expect((await a.admin.get(`/v1/secrets/${path}`)).body.data.user).toBe(path);
    }
    // Every rotation has one audit entry, whichever node wrote it.
    const audited = await a.vault.db.all<{ secret_path: string; extra_data: string }>("SELECT secret_path, extra_data FROM audit_log WHERE action = 'rotate' AND identity_id = 'system:rotation-scheduler'");
    let rotations = 0;
    for (const path of autoPaths) rotations += (await outbox(a.vault, path)).filter((e) => e.event_type === "secret.rotated").length;
    expect(audited).toHaveLength(rotations);
    const byNode = new Map<string, number>();
    for (const row of audited) byNode.set(JSON.parse(row.extra_data).node, (byNode.get(JSON.parse(row.extra_data).node) ?? 0) + 1);
    const late = (await a.vault.db.all<{ created_at: number; data: string }>("SELECT created_at, data FROM events WHERE event_type = 'rotation.due' AND path = 'e/one'"))
      .map((e) => e.created_at - Date.parse(JSON.parse(e.data).due_at) + (JSON.parse(e.data).due_now ? 0 : 4000));
    // Each rotation was written by exactly one node: no (path, new version) twice, whichever node ran it.
    const written = audited.map((row) => `${row.secret_path}#${JSON.parse(row.extra_data).version}`);
    expect(new Set(written).size).toBe(written.length);
    expect([...byNode.values()].reduce((sum, n) => sum + n, 0)).toBe(rotations);
    expect([...byNode.keys()].every((node) => typeof node === "string" && node.length > 0)).toBe(true);
    // A due never fires before its moment (the warning 4 s before it).
    expect(late.length).toBeGreaterThan(0);
    for (const ms of late) expect(ms).toBeGreaterThanOrEqual(0);

    const events = await outbox(b.vault, "e/one");
    const warnings = events.filter((e) => e.event_type === "rotation.due" && !e.data.due_now);
    const dues = events.filter((e) => e.event_type === "rotation.due" && e.data.due_now);
    expect(warnings).toHaveLength(1);
    expect(dues).toHaveLength(1);
    expect(events.filter((e) => e.event_type === "rotation.overdue")).toHaveLength(1);
  }, 90_000);
});
