import { expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { until } from "../testing/observe.js";

/** The fan-out pass's numbering state (`event_dispatch_state`, one row) is put back if it is lost. */
describeEachBackend("events: a lost dispatch state row", (backend) => {
  const vault = useVault(backend);

  it("neither stops dispatch nor numbers events again from 1", async () => {
    const { admin } = vault();
    const db = vault().vault.db;
    const undispatched = async () => Number((await db.get<{ n: number | string }>("SELECT COUNT(*) AS n FROM events WHERE dispatch_seq IS NULL"))?.n);
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
});
