import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { globContains, globsIntersect, segmentContained, segmentsIntersect } from "./glob-relations.js";
import { instance, path, pattern, referenceMatch } from "./testing/glob-reference.js";

describe("glob containment and intersection (the no-escalation rule's view of patterns)", () => {
  it("containment is sound: when B is said to contain A, every path A matches, B matches", () => {
    fc.assert(
      fc.property(pattern, pattern, fc.array(path, { maxLength: 20 }), (a, b, extra) => {
        if (!globContains(b, a)) return;
        for (const p of extra) if (referenceMatch(a, p)) expect([a, b, p, referenceMatch(b, p)]).toEqual([a, b, p, true]);
      }),
      { numRuns: 5000 },
    );
    fc.assert(
      fc.property(pattern, pattern, (a, b) => {
        fc.pre(globContains(b, a));
        fc.assert(fc.property(instance(a), (p) => { if (p.split("/").includes("")) return; expect([a, b, p, referenceMatch(b, p)]).toEqual([a, b, p, true]); }), { numRuns: 20 });
      }),
      { numRuns: 400 },
    );
  });

  it("intersection is sound: when two globs are said not to overlap, no path matches both", () => {
    fc.assert(
      fc.property(pattern, pattern, (a, b) => {
        if (globsIntersect(a, b)) return;
        fc.assert(fc.property(instance(a), (p) => { if (p.split("/").includes("")) return; expect([a, b, p, referenceMatch(b, p)]).toEqual([a, b, p, false]); }), { numRuns: 20 });
      }),
      { numRuns: 1000 },
    );
  });

  it("decides the everyday cases exactly", () => {
    const contains: Array<[string, string, boolean]> = [
      ["**", "app/db/*", true],
      ["app/**", "app/db/*", true],
      ["app/**", "app/**", true],
      ["app/**", "app/db/**", true],
      ["app/**", "app", false],
      ["app/*", "app/**", false],
      ["app/db/*", "app/**", false],
      ["app/**", "**", false],
      ["**", "**/ssl/*", true],
      ["**/ssl/*", "app/ssl/cert", true],
      ["**/ssl/*", "ssl/cert", false],
      ["a/**/b", "a/b", true],
      ["a/**/b", "a/x/**/b", true],
      ["a/**/b", "a/**", false],
      ["app/*", "app/d?", true],
      ["app/d?", "app/*", false],
      ["app/*.key", "app/tls.key", true],
      ["app/*.key", "app/*", false],
      ["app/?*", "app/*", true],
      ["*/db", "app/db", true],
      ["app/db", "*/db", false],
    ];
    for (const [b, a, expected] of contains) expect([b, a, globContains(b, a)]).toEqual([b, a, expected]);
    const overlaps: Array<[string, string, boolean]> = [
      ["app/**", "app/db/*", true],
      ["app/**", "app", false],
      ["app/*", "other/*", false],
      ["**/ssl/*", "ssl/*", false],
      ["**/ssl/*", "*/ssl/x", true],
      ["a/**/b", "a/b", true],
      ["app/*.key", "app/*.pem", false],
      ["app/a*", "app/*b", true],
    ];
    for (const [a, b, expected] of overlaps) expect([a, b, globsIntersect(a, b)]).toEqual([a, b, expected]);
    expect(segmentContained("*", "?*")).toBe(true);
    expect(segmentContained("a*", "*a")).toBe(false);
    expect(segmentsIntersect("a*", "*b")).toBe(true);
    expect(segmentsIntersect("a?", "b*")).toBe(false);
  });

  it("stays bounded on the largest patterns (answers, refusing when unsure)", { timeout: 60_000 }, () => {
    const wide = Array.from({ length: 8 }, () => "*a*").join("/");
    const stars = Array.from({ length: 8 }, () => "**").join("/x/");
    expect(typeof globContains(wide, stars)).toBe("boolean");
    expect(typeof globContains(stars, wide)).toBe("boolean");
    expect(typeof globsIntersect(wide, stars)).toBe("boolean");
  });
});
