import { describe, expect, it } from "vitest";
import { listRanges } from "./reader.js";

describe("the path ranges a secret list reads", () => {
  it("reads the request's prefix when a grant covers it, the grants inside it otherwise, nothing when they do not meet", () => {
    expect(listRanges([""], "team-a/")).toEqual(["team-a/"]);
    expect(listRanges(["team"], "team-a/")).toEqual(["team-a/"]);
    expect(listRanges(["team-a", "team-b/db"], "")).toEqual(["team-a", "team-b/db"]);
    expect(listRanges(["team-a", "team-b/db"], "team-b")).toEqual(["team-b/db"]);
    expect(listRanges(["team-a"], "zeta/")).toEqual([]);
  });

  it("reads the prefix whole, bounded, rather than one statement per range for more than 64 grants", () => {
    const grants = Array.from({ length: 65 }, (_, i) => `team-${String(i).padStart(3, "0")}`);
    expect(listRanges(grants.slice(0, 64), "")).toEqual(grants.slice(0, 64));
    expect(listRanges(grants, "")).toEqual([""]);
  });
});
