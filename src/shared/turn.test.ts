import { afterEach, describe, expect, it, vi } from "vitest";
import { LoopSlices, restAfter } from "./turn.js";

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
