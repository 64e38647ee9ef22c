import { describe, expect, it } from "vitest";
import { newId, newSortableId } from "./ids.js";

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

  it("sortable ids made in the same millisecond differ", () => {
    const now = Date.now();
    const ids = new Set(Array.from({ length: 10_000 }, () => newSortableId("req", now)));
    expect(ids.size).toBe(10_000);
  });
});
