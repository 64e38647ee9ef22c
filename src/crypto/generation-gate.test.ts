import bcrypt from "bcryptjs";
import { describe, expect, it } from "vitest";
import { BcryptWorker } from "./bcrypt-worker.js";
import { GenerationGate } from "./generation-gate.js";

/** Work that runs until released, recording when it started. */
function held(log: string[], name: string) {
  let release!: () => void;
  const done = new Promise<void>((resolve) => (release = resolve));
  return { work: async () => { log.push(name); await done; return name; }, release };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe("GenerationGate", () => {
  it("runs at most `concurrency` at once and takes waiting tenants in turn", async () => {
    const gate = new GenerationGate({ concurrency: 1, maxWaitingPerTenant: 10, maxWaitMs: 60_000 });
    const log: string[] = [];
    const a = [1, 2, 3, 4].map((n) => held(log, `a${n}`));
    const b = held(log, "b1");
    const runs = [...a.map((x) => gate.run("tenant-a", x.work)), gate.run("tenant-b", b.work)];
    await settle();
    expect(log).toEqual(["a1"]);
    a[0].release();
    await settle();
    // Tenant a was waiting first: one of its own, then tenant b's, then a's again.
    expect(log).toEqual(["a1", "a2"]);
    a[1].release();
    await settle();
    expect(log).toEqual(["a1", "a2", "b1"]);
    b.release();
    a[2].release();
    a[3].release();
    expect(await Promise.all(runs)).toEqual(["a1", "a2", "a3", "a4", "b1"]);
    expect(log).toEqual(["a1", "a2", "b1", "a3", "a4"]);
  });

  it("refuses a tenant past its waiting bound at once with 503 generation_busy; other tenants still wait", async () => {
    const gate = new GenerationGate({ concurrency: 1, maxWaitingPerTenant: 1, maxWaitMs: 60_000 });
    const log: string[] = [];
    const first = held(log, "a1");
    const running = gate.run("tenant-a", first.work);
    const waiting = gate.run("tenant-a", async () => "a2");
    await expect(gate.run("tenant-a", async () => "a3")).rejects.toMatchObject({ code: "service_unavailable", retryAfterSeconds: 2, details: { reason: "generation_busy" } });
    const other = gate.run("tenant-b", async () => "b1");
    first.release();
    expect(await Promise.all([running, waiting, other])).toEqual(["a1", "a2", "b1"]);
  });

  it("refuses a wait past the deadline, which then never runs; a failure frees the turn", async () => {
    const gate = new GenerationGate({ concurrency: 1, maxWaitingPerTenant: 5, maxWaitMs: 50 });
    const log: string[] = [];
    const first = held(log, "a1");
    const running = gate.run("tenant-a", first.work);
    await expect(gate.run("tenant-b", async () => log.push("b1"))).rejects.toMatchObject({ details: { reason: "generation_busy" } });
    first.release();
    await running;
    await expect(gate.run("tenant-a", async () => { throw new Error("generation failed"); })).rejects.toThrow("generation failed");
    expect(await gate.run("tenant-b", async () => "b2")).toBe("b2");
    expect(log).toEqual(["a1"]);
  });

  it("drops waiting work whose request was abandoned: it never runs and the next tenant's takes its turn", async () => {
    const gate = new GenerationGate({ concurrency: 1, maxWaitingPerTenant: 5, maxWaitMs: 60_000 });
    const log: string[] = [];
    const first = held(log, "a1");
    const running = gate.run("tenant-a", first.work);
    const client = new AbortController();
    const abandoned = gate.run("tenant-a", async () => log.push("a2"), client.signal);
    const other = gate.run("tenant-b", async () => { log.push("b1"); return "b1"; });
    expect(gate.waitingCount).toBe(2);
    client.abort();
    await expect(abandoned).rejects.toMatchObject({ code: "service_unavailable", details: { reason: "client_gone" } });
    expect(gate.waitingCount).toBe(1);
    first.release();
    expect(await Promise.all([running, other])).toEqual(["a1", "b1"]);
    expect(log).toEqual(["a1", "b1"]);
    // Already abandoned on arrival: refused without a turn, even with the gate free.
    const gone = new AbortController();
    gone.abort();
    await expect(gate.run("tenant-a", async () => log.push("a3"), gone.signal)).rejects.toMatchObject({ details: { reason: "client_gone" } });
    expect(log).toEqual(["a1", "b1"]);
  });

  it("starts a tenant's newest work first once its oldest has waited past newestFirstAfterMs, oldest first again when fresh", async () => {
    const gate = new GenerationGate({ concurrency: 1, maxWaitingPerTenant: 10, maxWaitMs: 60_000, newestFirstAfterMs: 30 });
    const log: string[] = [];
    const first = held(log, "a1");
    const runs = [gate.run("tenant-a", first.work), ...["a2", "a3", "a4"].map((name) => gate.run("tenant-a", async () => { log.push(name); return name; }))];
    await new Promise((resolve) => setTimeout(resolve, 50));
    first.release();
    await Promise.all(runs);
    // a2 had waited 50 ms when the turn came: the tenant was behind, so a4 went first, then a3 (a2
    // still the oldest, still behind), then a2.
    expect(log).toEqual(["a1", "a4", "a3", "a2"]);
    const second = held(log, "b1");
    const fresh = [gate.run("tenant-a", second.work), ...["b2", "b3"].map((name) => gate.run("tenant-a", async () => { log.push(name); return name; }))];
    second.release();
    await Promise.all(fresh);
    expect(log.slice(4)).toEqual(["b1", "b2", "b3"]);
  });

  it("lets work that has started finish when its request is abandoned", async () => {
    const gate = new GenerationGate({ concurrency: 1, maxWaitingPerTenant: 5, maxWaitMs: 60_000 });
    const log: string[] = [];
    const client = new AbortController();
    const first = held(log, "a1");
    const running = gate.run("tenant-a", first.work, client.signal);
    await settle();
    client.abort();
    first.release();
    expect(await running).toBe("a1");
    expect(gate.waitingCount).toBe(0);
  });
});

describe("BcryptWorker", () => {
  it("hashes on its worker thread, and a stopped worker is replaced on the next hash", async () => {
    const worker = new BcryptWorker();
    try {
      const salt = bcrypt.genSaltSync(4);
      const hash = await worker.hash("correct horse", salt);
      expect(hash.startsWith(salt)).toBe(true);
      expect(bcrypt.compareSync("correct horse", hash)).toBe(true);
      const owed = worker.hash("battery staple", bcrypt.genSaltSync(12));
      await worker.close();
      await expect(owed).rejects.toThrow("the bcrypt worker stopped");
      expect(bcrypt.compareSync("staple", await worker.hash("staple", salt))).toBe(true);
    } finally {
      await worker.close();
    }
  });

  it("hashes on as many threads as it is given, starting them only when the others are busy", async () => {
    const pool = new BcryptWorker(2);
    try {
      const salt = bcrypt.genSaltSync(10);
      const one = await pool.hash("one", salt);
      expect(pool.threadsStarted).toBe(1);
      // One thread idle again: the next hash goes to it.
      const two = await pool.hash("two", salt);
      expect(pool.threadsStarted).toBe(1);
      // Two at once: the second starts the second thread.
      const both = await Promise.all([pool.hash("three", salt), pool.hash("four", salt)]);
      expect(pool.threadsStarted).toBe(2);
      expect([one, two, ...both].map((hash, i) => bcrypt.compareSync(["one", "two", "three", "four"][i], hash))).toEqual([true, true, true, true]);
    } finally {
      await pool.close();
    }
  });

  it("replaces a thread whose hash passes the deadline, refusing only that thread's hash", async () => {
    const pool = new BcryptWorker(2, 300);
    try {
      // 2^17 rounds: seconds of work, far past the 300 ms deadline; 2^4: a few milliseconds.
      const stuck = pool.hash("slow", bcrypt.genSaltSync(17));
      const quick = pool.hash("fast", bcrypt.genSaltSync(4));
      expect(bcrypt.compareSync("fast", await quick)).toBe(true);
      await expect(stuck).rejects.toThrow("the bcrypt worker stopped");
      expect(pool.threadsStarted).toBe(1);
      expect(bcrypt.compareSync("again", await pool.hash("again", bcrypt.genSaltSync(4)))).toBe(true);
    } finally {
      await pool.close();
    }
  });
});
