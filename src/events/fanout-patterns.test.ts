import { afterEach, expect, it, vi } from "vitest";
import { globMatcher } from "../access/glob.js";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { eventsAwaitingFanOut, until } from "../testing/observe.js";
import { Dispatcher } from "./dispatcher.js";

/**
 * A subscription's path patterns are matched once per (subscription, event) of a pass, before the
 * pass's transaction and in slices of the loop; the transaction only looks the answers up. Matched
 * inside it too (as before), one tenant's 100 subscriptions of long patterns held a SQLite node
 * 9.6 s per event, every other tenant's requests and writes waiting (docs/benchmarks.md round 37).
 */
describeEachBackend("events: subscription patterns are matched before the fan-out's transaction", (backend) => {
  const vault = useVault(backend);
  afterEach(() => vi.restoreAllMocks());

  it("matches each event once per subscription, never inside the transaction, and routes the same", async () => {
    const { admin, vault: server } = vault();
    const pattern = "routed/*-x";
    const sub = await admin.post("/v1/subscriptions", { name: "routed", paths: [pattern], events: ["secret.created"], delivery: { type: "polling" } });
    expect(sub.status).toBe(201);
    let inFanOut = 0;
    const calls: { path: string; inFanOut: boolean }[] = [];
    const compiled = globMatcher(pattern);
    const test = compiled.test.bind(compiled);
    vi.spyOn(compiled, "test").mockImplementation((path: string) => {
      calls.push({ path, inFanOut: inFanOut > 0 });
      return test(path);
    });
    const prototype = Dispatcher.prototype as unknown as { fanOut: (...args: unknown[]) => Promise<number> };
    const fanOut = prototype.fanOut;
    vi.spyOn(prototype, "fanOut").mockImplementation(async function (this: Dispatcher, ...args: unknown[]) {
      inFanOut++;
      try {
        return await fanOut.apply(this, args);
      } finally {
        inFanOut--;
      }
    });
    for (const name of ["a-x", "b-x", "c-y"]) expect((await admin.put(`/v1/secrets/routed/${name}`, { data: { v: 1 } })).status).toBe(201);
    await until("the writes dispatched", async () => Number(await eventsAwaitingFanOut(server.db)) === 0);
    const polled = await admin.get(`/v1/subscriptions/${sub.body.id}/poll?timeout=0`);
    expect(polled.status).toBe(200);
    expect(polled.body.events.map((e: { path: string }) => e.path).sort()).toEqual(["routed/a-x", "routed/b-x"]);
    expect(calls.filter((c) => c.inFanOut)).toEqual([]);
    expect(calls.map((c) => c.path).sort()).toEqual(["routed/a-x", "routed/b-x", "routed/c-y"]);
  });

  it("refuses a subscription whose patterns together pass 4,096 characters (a stream's query is bounded so already)", async () => {
    const { admin } = vault();
    const patterns = (count: number, length: number) => Array.from({ length: count }, (_, i) => `long/${String(i).padStart(3, "0")}*${"a".repeat(length - 9)}`);
    const atLimit = patterns(8, 512);
    expect(atLimit.join("").length).toBe(4096);
    expect((await admin.post("/v1/subscriptions", { name: "at-limit", paths: atLimit, events: ["secret.created"], delivery: { type: "polling" } })).status).toBe(201);
    const over = await admin.post("/v1/subscriptions", { name: "over", paths: [...atLimit, "x"], events: ["secret.created"], delivery: { type: "polling" } });
    expect(over.status).toBe(422);
    expect(over.body.error).toMatchObject({ code: "validation_error", details: { fields: { paths: expect.stringContaining("4096") } } });
    const created = await admin.post("/v1/subscriptions", { name: "grows", paths: ["x/**"], events: ["secret.created"], delivery: { type: "polling" } });
    const patched = await admin.patch(`/v1/subscriptions/${created.body.id}`, { paths: patterns(9, 500) });
    expect(patched.status).toBe(422);
  });
});
