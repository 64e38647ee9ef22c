import { describe, expect, it } from "vitest";
import { freshRandomBytes } from "./random.js";

describe("pooled CSPRNG bytes", () => {
  it("never hands out the same bytes twice, across pool refills, and serves lengths larger than the pool", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 5000; i++) seen.add(freshRandomBytes(12).toString("hex"));
    expect(seen.size).toBe(5000);
    expect(freshRandomBytes(32)).toHaveLength(32);
    expect(freshRandomBytes(10_000)).toHaveLength(10_000);
    // Not a statistical test: a pool that handed out zeros (wiped bytes) would fail it.
    const sample = freshRandomBytes(4096);
    expect(sample.filter((byte) => byte === 0).length).toBeLessThan(64);
  });
});
