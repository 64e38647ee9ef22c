import { afterEach, describe, expect, it, vi } from "vitest";
import { restAfter } from "./turn.js";

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
