import { expect, it } from "vitest";
import { describeEachBackend, onlyOn } from "../testing/backends.js";
import { recordPgMessages } from "../testing/pg-messages.js";
import { useVault } from "../testing/harness.js";
import { ScheduleStore } from "./schedule-store.js";

/** The combined read a secret write makes (one round trip on PostgreSQL) answers as the two reads it replaces. */
describeEachBackend("rotation: schedule store", (backend) => {
  const vault = useVault(backend);

  it("watchAndSchedule answers exactly what getWatch and getSchedule answer, with rows and without", async () => {
    const { admin } = vault();
    const policy = (await admin.post("/v1/rotation/policies", { name: "store-30d", interval: "30d", grace_period: "1h" })).body;
    expect((await admin.put("/v1/secrets/store/both", { data: { a: "1" }, options: { expires_in: "7d", notify_before: "3d,1d", rotation_policy_id: policy.id } })).status).toBe(201);
    expect((await admin.put("/v1/secrets/store/watch-only", { data: { a: "1" }, options: { expires_in: "7d" } })).status).toBe(201);
    expect((await admin.put("/v1/secrets/store/neither", { data: { a: "1" } })).status).toBe(201);
    const db = vault().vault.db;
    const tenantId = (await db.get<{ tenant_id: string }>("SELECT tenant_id FROM secrets WHERE path = ?", ["store/both"]))!.tenant_id;
    const store = new ScheduleStore(db);
    const seen: Record<string, { watch?: unknown; schedule?: unknown }> = {};
    for (const path of ["store/both", "store/watch-only", "store/neither", "store/absent"]) {
      await db.transaction(async (tx) => {
        const combined = await store.watchAndSchedule(tx, tenantId, path);
        const separate = { watch: await store.getWatch(tx, tenantId, path), schedule: await store.getSchedule(tenantId, path, tx) };
        expect(combined).toEqual(separate);
        seen[path] = combined;
      });
    }
    // Rows of every column type came back (so the comparison above compared something).
    expect(seen["store/both"].watch).toMatchObject({ path: "store/both", notify_before: "3d,1d", expires_at: expect.any(Number) });
    expect(seen["store/both"].schedule).toMatchObject({ policy_id: policy.id, due_at: expect.any(Number), warned: 0, last_rotated_at: null });
    expect(seen["store/watch-only"]).toEqual({ watch: expect.objectContaining({ path: "store/watch-only" }), schedule: undefined });
    expect(seen["store/neither"]).toEqual({ watch: undefined, schedule: undefined });
  });

  it("the read sent ahead with the secret's row lock answers as watchAndSchedule does later in the transaction", async () => {
    const db = vault().vault.db;
    const tenantId = (await db.get<{ tenant_id: string }>("SELECT tenant_id FROM secrets WHERE path = ?", ["store/both"]))!.tenant_id;
    const store = new ScheduleStore(db);
    for (const path of ["store/both", "store/watch-only", "store/neither", "store/absent"]) {
      await db.transaction(async (tx) => {
        store.readAheadWatchAndSchedule(tx, tenantId, path);
        await tx.get("SELECT path FROM secrets WHERE tenant_id = ? AND path = ?", [tenantId, path]);
        const ahead = await store.watchAndSchedule(tx, tenantId, path);
        expect(ahead).toEqual({ watch: await store.getWatch(tx, tenantId, path), schedule: await store.getSchedule(tenantId, path, tx) });
      });
    }
  });

  onlyOn(backend, "postgres")("postgres only: a PUT sends the watch and schedule read with the secret's row lock, in one message", async () => {
    const { admin } = vault();
    const { sent, stop } = recordPgMessages();
    try {
      expect((await admin.put("/v1/secrets/store/both", { data: { a: "2" } })).status).toBe(200);
    } finally {
      stop();
    }
    // BEGIN, the lock (path once), the watch and schedule read (path twice), as text or EXECUTE.
    const first = sent.filter((text) => text.startsWith("BEGIN;") && text.includes("'store/both'"));
    expect(first).toHaveLength(1);
    expect(first[0].split("'store/both'")).toHaveLength(4);
  });
});
