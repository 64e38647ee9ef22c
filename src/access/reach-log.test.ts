import { describe, expect, it } from "vitest";
import { CounterCatchUp } from "./reach-log.js";

describe("CounterCatchUp", () => {
  it("does not trust a shared read begun before the counter was read: a second read applies what it missed", async () => {
    const committed: number[] = [1];
    const applied: number[] = [];
    let release!: () => void;
    let hold: Promise<void> | null = new Promise((resolve) => (release = resolve));
    const counter = new CounterCatchUp(
      async (seen) => {
        // A read answers what was committed when it began.
        const answer = committed.filter((seq) => seq > seen);
        if (hold) await hold;
        return answer;
      },
      (seqs: number[], seen) => {
        applied.push(...seqs);
        return Math.max(seen, ...seqs);
      },
    );
    counter.skipTo(0);
    const first = counter.catchUp(1);
    await new Promise((resolve) => setImmediate(resolve));
    // Change 2 commits after the shared read began; a request reads counter 2 and joins that read.
    committed.push(2);
    hold = null;
    const second = counter.catchUp(2);
    release();
    await Promise.all([first, second]);
    expect(applied).toEqual([1, 2]);
    expect(counter.position).toBe(2);
  });
});
