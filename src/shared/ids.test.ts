import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { newId, newSortableId, randomBase62 } from "./ids.js";

/** The time part as first written: 9 base-36 digits, most significant first. */
function referenceTimeText(now: number): string {
  let time = "";
  for (let rest = Math.floor(now), i = 0; i < 9; i++, rest = Math.floor(rest / 36)) time = "0123456789abcdefghijklmnopqrstuvwxyz"[rest % 36] + time;
  return time;
}

describe("ids", () => {
  it("random ids: a prefix and 20 base62 characters", () => {
    expect(newId("pol")).toMatch(/^pol_[0-9A-Za-z]{20}$/);
  });

  it("sortable ids keep that shape and sort byte-wise in creation order, up to the year 5000", () => {
    const times = [0, 1, 35, 36, 1_295, 1_296, Date.parse("2026-11-26T09:00:00Z"), Date.parse("2026-11-26T09:00:00.001Z"), Date.parse("5000-01-01T00:00:00Z")];
    const ids = times.map((time) => newSortableId("log", time));
    for (const id of ids) expect(id).toMatch(/^log_[0-9a-z]{9}[0-9A-Za-z]{11}$/);
    expect([...ids].sort()).toEqual(ids);
    // Lower-case and digits only in the time part: PostgreSQL's locale collations order it the same way.
    expect([...ids].sort((a, b) => a.slice(0, 13).localeCompare(b.slice(0, 13), "en-US"))).toEqual(ids);
  });

  it("sortable ids with microseconds keep the shape and sort by millisecond, then microsecond", () => {
    const ms = Date.parse("2026-12-02T14:00:00.123Z");
    const stamps: Array<[number, number]> = [[ms, 0], [ms, 1], [ms, 35], [ms, 36], [ms, 500], [ms, 999], [ms + 1, 0], [ms + 1, 7]];
    const ids = stamps.map(([t, us]) => newSortableId("log", t, us));
    for (const id of ids) expect(id).toMatch(/^log_[0-9a-z]{11}[0-9A-Za-z]{9}$/);
    expect([...ids].sort()).toEqual(ids);
    expect([...ids].sort((a, b) => a.slice(0, 15).localeCompare(b.slice(0, 15), "en-US"))).toEqual(ids);
  });

  it("the time part is the millisecond in 9 base-36 digits, whatever time came before (the last one is remembered)", () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 36 ** 9 - 1 }), { minLength: 1, maxLength: 8 }), (times) => {
      for (const time of [...times, ...times.reverse()]) expect(newSortableId("req", time + 0.5).slice(4, 13)).toBe(referenceTimeText(time));
    }));
  });

  it("random base62 text has the length asked for and uses the whole alphabet", () => {
    expect(randomBase62(0)).toBe("");
    expect(randomBase62(43)).toMatch(/^[0-9A-Za-z]{43}$/);
    const seen = new Set(Array.from({ length: 200 }, () => randomBase62(20)).join(""));
    expect(seen.size).toBe(62);
  });

  it("sortable ids made in the same millisecond differ", () => {
    const now = Date.now();
    const ids = new Set(Array.from({ length: 10_000 }, () => newSortableId("req", now)));
    expect(ids.size).toBe(10_000);
  });
});
