import { describe, expect, it } from "vitest";
import { SharedRuns } from "./shared-runs.js";

/** A run that ends when told, counting how many were started. */
function controlledRuns() {
  const started: { finish: (value: string) => void; fail: (error: Error) => void }[] = [];
  const work = () => new Promise<string>((resolve, reject) => started.push({ finish: resolve, fail: reject }));
  return { started, work };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe("SharedRuns", () => {
  it("runs once at a time per key; callers during a run share the next, started when it ends", async () => {
    const runs = new SharedRuns<string>();
    const { started, work } = controlledRuns();
    const first = runs.run("tenant-a", work);
    await settle();
    const during = [runs.run("tenant-a", work), runs.run("tenant-a", work), runs.run("tenant-a", work)];
    await settle();
    expect(started).toHaveLength(1);
    started[0].finish("walk 1");
    expect(await first).toBe("walk 1");
    await settle();
    // The three who came during the first run share a second, begun after they asked.
    expect(started).toHaveLength(2);
    started[1].finish("walk 2");
    expect(await Promise.all(during)).toEqual(["walk 2", "walk 2", "walk 2"]);
    // Nothing under way: the next caller starts its own.
    const later = runs.run("tenant-a", work);
    await settle();
    expect(started).toHaveLength(3);
    started[2].finish("walk 3");
    expect(await later).toBe("walk 3");
  });

  it("keeps keys apart, and a failed run fails only its own callers", async () => {
    const runs = new SharedRuns<string>();
    const { started, work } = controlledRuns();
    const a = runs.run("tenant-a", work);
    const b = runs.run("tenant-b", work);
    await settle();
    expect(started).toHaveLength(2);
    const following = runs.run("tenant-a", work);
    started[0].fail(new Error("storage unavailable"));
    await expect(a).rejects.toThrow("storage unavailable");
    await settle();
    started[2].finish("a again");
    started[1].finish("b");
    expect(await following).toBe("a again");
    expect(await b).toBe("b");
  });
});
