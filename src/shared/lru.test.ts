import { describe, expect, it } from "vitest";
import { LruMap } from "./lru.js";

describe("LruMap", () => {
  it("when full, forgets the entry used longest ago and keeps the ones in use", () => {
    const map = new LruMap<string, number>(3);
    map.set("a", 1);
    map.set("b", 2);
    map.set("c", 3);
    expect(map.get("a")).toBe(1);
    map.set("d", 4);
    expect([...map].map(([key]) => key)).toEqual(["c", "a", "d"]);
    expect(map.get("b")).toBeUndefined();
    map.set("c", 30);
    map.set("e", 5);
    expect([...map]).toEqual([["d", 4], ["c", 30], ["e", 5]]);
    expect(map.size).toBe(3);
  });

  it("deletes while iterating, and clears", () => {
    const map = new LruMap<number, number>(10);
    for (let i = 0; i < 6; i++) map.set(i, i);
    for (const [key] of map) if (key % 2 === 0) map.delete(key);
    expect([...map].map(([key]) => key)).toEqual([1, 3, 5]);
    map.clear();
    expect(map.size).toBe(0);
  });
});
