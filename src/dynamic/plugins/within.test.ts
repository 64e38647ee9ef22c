import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { BackendFailure, within } from "./types.js";

/**
 * How a target call's failure is told apart from its timeout: drivers reject a timeout with a bare
 * error, so the clock decides. Fake timers: the driver's own timer is simulated, never waited for.
 */
describe("dynamic: within (timeouts by the clock)", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** A driver call that rejects `atMs` after it started, with `error`. */
  function driverFailing(atMs: number, error: Error) {
    return new Promise<never>((_, reject) => setTimeout(() => reject(error), atMs));
  }

  async function outcome(deadlineMs: number, atMs: number, error: Error): Promise<BackendFailure | Error> {
    const settled = within(deadlineMs, driverFailing(atMs, error)).catch((e: Error) => e);
    await vi.advanceTimersByTimeAsync(atMs);
    return settled;
  }

  it("a bare error at the driver's deadline is a timeout, also when the driver's timer fired a little early", async () => {
    // Node's timers run against the event loop's cached time: a driver's 1 s timer can fire while
    // the wall clock says a few tens of milliseconds less have passed (seen on a loaded machine).
    for (const atMs of [1000, 990, 960]) {
      const failure = await outcome(1000, atMs, new Error("Connection terminated due to connection timeout"));
      expect(failure).toBeInstanceOf(BackendFailure);
      expect({ atMs, reason: (failure as BackendFailure).reason }).toEqual({ atMs, reason: "timeout" });
    }
  });

  it("an early bare error stays a failure, and a coded one keeps its reason", async () => {
    expect(await outcome(1000, 100, new Error("boom"))).not.toBeInstanceOf(BackendFailure);
    const refused = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
    expect(await outcome(1000, 5, refused)).toBe(refused);
  });

  it("a call that never settles is abandoned as timed out after its grace", async () => {
    const settled = within(1000, new Promise<never>(() => undefined), 2).catch((e: Error) => e);
    await vi.advanceTimersByTimeAsync(2000);
    expect(await settled).toMatchObject({ reason: "timeout", statement: 2 });
  });
});
