import { describe, expect, it } from "vitest";
import { eachLimited } from "./limited.js";

const tick = () => new Promise((resolve) => setTimeout(resolve, 1));

describe("eachLimited", () => {
  it("runs at most `limit` at a time and answers in the items' order", async () => {
    let running = 0;
    let most = 0;
    const results = await eachLimited(Array.from({ length: 20 }, (_, i) => i), 4, async (i) => {
      running++;
      most = Math.max(most, running);
      // Later items finish first: the order of the answer is the items', not the finishing order.
      await new Promise((resolve) => setTimeout(resolve, 20 - i));
      running--;
      return i * 2;
    });
    expect(results).toEqual(Array.from({ length: 20 }, (_, i) => i * 2));
    expect(most).toBe(4);
  });

  it("starts nothing after the first failure, lets the running ones end, and rejects with it", async () => {
    const started: number[] = [];
    let ended = 0;
    const run = eachLimited(Array.from({ length: 20 }, (_, i) => i), 3, async (i) => {
      started.push(i);
      await tick();
      if (i === 4) throw new Error("item 4 failed");
      await tick();
      ended++;
      return i;
    });
    await expect(run).rejects.toThrow("item 4 failed");
    expect(Math.max(...started)).toBeLessThan(8);
    expect(ended).toBe(started.length - 1);
  });

  it("answers an empty list with an empty list", async () => {
    expect(await eachLimited([], 4, async () => 1)).toEqual([]);
  });
});
