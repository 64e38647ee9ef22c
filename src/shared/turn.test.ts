import { afterEach, describe, expect, it, vi } from "vitest";
import { LoopSlices, restAfter, SharedSlices } from "./turn.js";

describe("restAfter", () => {
  afterEach(() => vi.useRealTimers());

  it("rests as long as the work took, so a background loop leaves the node at least half of its time", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "setImmediate", "performance"] });
    const started = performance.now();
    vi.advanceTimersByTime(40); // the batch's work
    let rested = false;
    const rest = restAfter(started).then(() => void (rested = true));
    await vi.advanceTimersByTimeAsync(39);
    expect(rested).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await rest;
    expect(rested).toBe(true);
  });

  it("after work shorter than a millisecond, waits one turn of the event loop", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "setImmediate", "performance"] });
    let rested = false;
    const rest = restAfter(performance.now()).then(() => void (rested = true));
    expect(rested).toBe(false);
    await vi.runOnlyPendingTimersAsync();
    await rest;
    expect(rested).toBe(true);
  });
});

describe("LoopSlices", () => {
  afterEach(() => vi.useRealTimers());

  it("is due once a slice's time has run, read per 256 items, and a pause starts the next slice", async () => {
    vi.useFakeTimers({ toFake: ["setImmediate", "performance"] });
    const slices = new LoopSlices(8);
    vi.advanceTimersByTime(20);
    // The clock is read once per 256 items: 255 single items are not yet a reading.
    for (let i = 0; i < 255; i++) expect(slices.due()).toBe(false);
    expect(slices.due()).toBe(true);
    // A step of many items counts them all.
    expect(slices.due(300)).toBe(true);
    const paused = slices.pause();
    await vi.runOnlyPendingTimersAsync();
    await paused;
    expect(slices.due(256)).toBe(false);
    vi.advanceTimersByTime(8);
    expect(slices.due(256)).toBe(true);
  });
});

describe("SharedSlices", () => {
  afterEach(() => vi.useRealTimers());

  it("gives concurrent walks one slice at a time, in turn, and rests after each as long as it ran", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "setImmediate", "performance"] });
    const slices = new SharedSlices(1);
    const log: string[] = [];
    const walker = async (name: string, steps: number) => {
      const walk = await slices.walk();
      try {
        for (let step = 0; step < steps; step++) {
          log.push(`${name}${step}`);
          vi.advanceTimersByTime(5); // the slice's work
          await walk.pause();
        }
      } finally {
        walk.end();
      }
    };
    const walks = Promise.all([walker("a", 3), walker("b", 2)]);
    await vi.advanceTimersByTimeAsync(0);
    expect(log).toEqual(["a0"]);
    // b's slice waits for a's rest (as long as a's slice ran: 5 ms).
    await vi.advanceTimersByTimeAsync(4);
    expect(log).toEqual(["a0"]);
    await vi.advanceTimersByTimeAsync(1);
    expect(log).toEqual(["a0", "b0"]);
    await vi.advanceTimersByTimeAsync(100);
    await walks;
    expect(log).toEqual(["a0", "b0", "a1", "b1", "a2"]);
  });

  it("gives up a walk's slice while its statement's answer travels, so other walks go on meanwhile", async () => {
    const slices = new SharedSlices(1);
    const log: string[] = [];
    let answer!: (rows: string[]) => void;
    const network = new Promise<string[]>((resolve) => (answer = resolve));
    const reading = (async () => {
      const walk = await slices.walk();
      try {
        log.push("a asks");
        const rows = await walk.read(() => network);
        log.push(`a got ${rows.length}`);
      } finally {
        walk.end();
      }
    })();
    const other = (async () => {
      const walk = await slices.walk();
      log.push("b works");
      walk.end();
    })();
    await other;
    expect(log).toEqual(["a asks", "b works"]);
    answer(["row"]);
    await reading;
    expect(log).toEqual(["a asks", "b works", "a got 1"]);
  });

  it("rests after a walk's next slice as long as its statement's answer took, too", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "setImmediate", "performance"] });
    const slices = new SharedSlices(1);
    const walk = await slices.walk();
    const read = walk.read(() => new Promise<string>((resolve) => setTimeout(() => resolve("rows"), 20)));
    await vi.advanceTimersByTimeAsync(20);
    expect(await read).toBe("rows");
    vi.advanceTimersByTime(1); // the slice's work on those rows
    walk.end();
    let next = false;
    const other = slices.walk().then((w) => {
      next = true;
      w.end();
    });
    // The rest: the slice (1 ms) and the answer it waited for (20 ms).
    await vi.advanceTimersByTimeAsync(20);
    expect(next).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await other;
    expect(next).toBe(true);
  });

  it("lets the next walk in when a walk ends by failing", async () => {
    const slices = new SharedSlices(1);
    const failing = (async () => {
      const walk = await slices.walk();
      try {
        throw new Error("the walk failed");
      } finally {
        walk.end();
      }
    })();
    await expect(failing).rejects.toThrow("the walk failed");
    const next = await slices.walk();
    next.end();
  });

  it("is due once the slice has run its time, read every 32 items", () => {
    vi.useFakeTimers({ toFake: ["performance"] });
    return (async () => {
      const walk = await new SharedSlices(2).walk();
      vi.advanceTimersByTime(3);
      for (let i = 0; i < 31; i++) expect(walk.due()).toBe(false);
      expect(walk.due()).toBe(true);
      walk.end();
    })();
  });
});
