import { expect, it } from "vitest";
import { describeEachBackend, onlyOn } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { eventsAwaitingFanOut, until } from "../testing/observe.js";

/** The fan-out pass's numbering state (`event_dispatch_state`, one row) is put back if it is lost. */
describeEachBackend("events: a lost dispatch state row", (backend) => {
  const vault = useVault(backend);

  it("neither stops dispatch nor numbers events again from 1", async () => {
    const { admin } = vault();
    const db = vault().vault.db;
    const undispatched = () => eventsAwaitingFanOut(db);
    const numbers = async () => (await db.all<{ dispatch_seq: number | string }>("SELECT dispatch_seq FROM events WHERE dispatch_seq IS NOT NULL ORDER BY dispatch_seq")).map((r) => Number(r.dispatch_seq));

    expect((await admin.put("/v1/secrets/state/before", { data: { a: 1 } })).status).toBe(201);
    await until("the first write dispatched", async () => (await undispatched()) === 0);
    const before = await numbers();
    expect(before.length).toBeGreaterThan(0);

    await db.run("DELETE FROM event_dispatch_state");
    expect((await admin.put("/v1/secrets/state/after", { data: { a: 2 } })).status).toBe(201);
    await until("the write after the loss dispatched", async () => (await undispatched()) === 0);

    const after = await numbers();
    const highest = before[before.length - 1];
    // Contiguous from where numbering stood: no number given twice, none skipped.
    expect(after).toEqual([...before, ...after.slice(before.length).map((_, i) => highest + 1 + i)]);
    expect(after.length).toBeGreaterThan(before.length);
    const state = await db.get<{ last_seq: number | string }>("SELECT last_seq FROM event_dispatch_state WHERE id = 1");
    expect(Number(state?.last_seq)).toBe(after[after.length - 1]);
  });

  onlyOn(backend, "postgres")("postgres only: a pass that loses the lock to another node's pass leaves the state row alone", async () => {
    const { admin, vault: v } = vault();
    const undispatched = async () => Number((await v.db.get<{ n: number }>("SELECT COUNT(*)::int AS n FROM events WHERE dispatch_seq IS NULL"))?.n);
    const lastSeq = async () => Number((await v.db.get<{ last_seq: string }>("SELECT last_seq FROM event_dispatch_state WHERE id = 1"))?.last_seq);
    expect((await admin.put("/v1/secrets/state/first", { data: { a: 1 } })).status).toBe(201);
    await until("the first write dispatched", async () => (await undispatched()) === 0);
    const before = await lastSeq();

    // Another node's pass, in the middle of its transaction: it holds the fan-out lock.
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const holding = new Promise<void>((resolve) => (locked = resolve));
    const otherPass = v.db.transaction(async (tx) => {
      await tx.get("SELECT pg_advisory_xact_lock(7305001)");
      locked();
      await released;
    });
    await holding;
    try {
      expect((await admin.put("/v1/secrets/state/second", { data: { a: 2 } })).status).toBe(201);
      // Passes run on the write and on each poll; every one of them loses the lock meanwhile.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(await undispatched()).toBe(1);
      expect(await lastSeq()).toBe(before);
    } finally {
      release();
      await otherPass;
    }
    await until("the write dispatched once the lock is free", async () => (await undispatched()) === 0);
    expect(await lastSeq()).toBe(before + 1);
  });
});
