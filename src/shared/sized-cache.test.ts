import { describe, expect, it } from "vitest";
import { SizedCache } from "./sized-cache.js";

describe("SizedCache", () => {
  const sized = () => new SizedCache<string, Buffer>(10, (value) => value.length);

  it("keeps values until their total passes the bound, then drops those used longest ago", () => {
    const cache = sized();
    cache.set("a", Buffer.alloc(4));
    cache.set("b", Buffer.alloc(4));
    expect(cache.bytes).toBe(8);
    cache.set("c", Buffer.alloc(4));
    expect([cache.get("a"), cache.get("b")?.length, cache.get("c")?.length]).toEqual([undefined, 4, 4]);
    expect(cache.bytes).toBe(8);
  });

  it("counts a value set again once, at its new size, as the newest", () => {
    const cache = sized();
    cache.set("a", Buffer.alloc(4));
    cache.set("b", Buffer.alloc(4));
    cache.set("a", Buffer.alloc(2));
    expect(cache.bytes).toBe(6);
    cache.set("c", Buffer.alloc(5));
    expect([cache.get("a")?.length, cache.get("b"), cache.get("c")?.length]).toEqual([2, undefined, 5]);
  });

  it("keeps the value just set even when it alone is past the bound", () => {
    const cache = sized();
    cache.set("a", Buffer.alloc(3));
    expect(cache.set("big", Buffer.alloc(20)).length).toBe(20);
    expect([cache.get("a"), cache.get("big")?.length, cache.bytes]).toEqual([undefined, 20, 20]);
  });

  it("counts a value read as used: the one read survives, the one only set goes", () => {
    const cache = sized();
    cache.set("a", Buffer.alloc(4));
    cache.set("b", Buffer.alloc(4));
    expect(cache.get("a")?.length).toBe(4);
    cache.set("c", Buffer.alloc(4));
    expect([cache.get("a")?.length, cache.get("b"), cache.get("c")?.length]).toEqual([4, undefined, 4]);
  });
});
