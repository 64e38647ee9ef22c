import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { CompiledPolicySet } from "./authorizer.js";
import { compileGlob, globMatcher, globProblem, matchSegment, runAutomaton, segmentAutomaton } from "./glob.js";
import { instance, path, pattern, referenceMatch } from "./testing/glob-reference.js";

describe("glob matcher against the reference implementation", () => {
  it("agrees with the reference on arbitrary patterns and paths", () => {
    fc.assert(
      fc.property(pattern, path, (pat, p) => {
        expect(globProblem(pat)).toBeNull();
        expect(compileGlob(pat).test(p)).toBe(referenceMatch(pat, p));
        expect(globMatcher(pat).test(p)).toBe(referenceMatch(pat, p));
      }),
      { numRuns: 5000 },
    );
  });

  it("matches every path built from the pattern itself", () => {
    fc.assert(
      fc.property(pattern.chain((pat) => fc.tuple(fc.constant(pat), instance(pat))), ([pat, p]) => {
        fc.pre(p.length > 0 && !p.split("/").includes(""));
        expect(referenceMatch(pat, p)).toBe(true);
        expect(compileGlob(pat).test(p)).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it("the compiled policy set (trie and literal pre-filter) decides as the plain matcher does", () => {
    const context = { sourceIp: null, mfaVerifiedAt: null, now: 0 };
    fc.assert(
      fc.property(fc.array(pattern, { minLength: 1, maxLength: 4 }), path, (patterns, p) => {
        const policy = { id: "pol_x", partnerId: "ptn_x", tenantId: "tnt_x", scope: "tenant" as const, name: "x", description: null, builtin: false, createdAt: 0, updatedAt: 0, rules: patterns.map((pat) => ({ path_pattern: pat, permissions: ["read" as const] })) };
        const expected = patterns.some((pat) => referenceMatch(pat, p));
        expect(new CompiledPolicySet([policy]).decide(p, "read", context).allowed).toBe(expected);
      }),
      { numRuns: 5000 },
    );
  });

  it("reproduces every row of the docs' glob table and every case SPEC §4 lists", () => {
    const cases: Array<[string, string, boolean]> = [
      // The policies page's table (reference/scaivault-docs/03-policies-audit-ops.md).
      ["app/db", "app/db", true],
      ["app/db", "app/db/password", false],
      ["app/db/*", "app/db/password", true],
      ["app/db/*", "app/db/user", true],
      ["app/db/*", "app/db/primary/password", false],
      ["app/**", "app/db", true],
      ["app/**", "app/db/password", true],
      ["app/**", "app/x/y/z/w", true],
      ["app/**", "other/app/db", false],
      ["**/ssl/*", "app/ssl/cert", true],
      ["**/ssl/*", "service/ssl/key", true],
      ["**/ssl/*", "ssl/cert", false],
      // SPEC §4: a trailing /** is one or more segments, not the prefix itself.
      ["app/**", "app", false],
      // A middle /**/ is zero or more (the docs' "including zero").
      ["a/**/b", "a/b", true],
      ["a/**/b", "a/x/b", true],
      ["a/**/b", "a/x/y/b", true],
      ["a/**/b", "a/x/y", false],
      ["a/**/b", "b", false],
      // ** alone: every path.
      ["**", "x", true],
      ["**", "a/b/c/d/e/f/g/h/i/j", true],
      // A leading **/ needs a parent; deeper parents too.
      ["**/ssl/*", "a/b/ssl/cert", true],
      ["**/ssl/*", "ssl/cert/x", false],
      // * and ? within one segment, never across /.
      ["secrets/*.key", "secrets/tls.key", true],
      ["secrets/*.key", "secrets/tls.pem", false],
      ["secrets/*.key", "secrets/a/tls.key", false],
      ["app/d?", "app/db", true],
      ["app/d?", "app/d", false],
      ["app/d?", "app/dbx", false],
      ["app/*", "app/a/b", false],
      ["a*", "a/b", false],
    ];
    for (const [pat, p, expected] of cases) {
      expect(globProblem(pat)).toBeNull();
      expect([pat, p, compileGlob(pat).test(p)]).toEqual([pat, p, expected]);
      expect([pat, p, referenceMatch(pat, p)]).toEqual([pat, p, expected]);
    }
  });

  it("refuses malformed patterns, ** inside a segment, and patterns over 512 characters or 16 wildcards", () => {
    for (const bad of ["/app", "app/", "app//db", "a**", "**.json", "**b/c", "app/**x", "App", "app db", ""]) expect([bad, globProblem(bad)]).not.toEqual([bad, null]);
    const longest = `a/${"b".repeat(510)}`;
    expect(globProblem(longest)).toBeNull();
    expect(globProblem(`${longest}c`)).toMatch(/512/);
    expect(globProblem("*".repeat(1) + "/?".repeat(15))).toBeNull();
    expect(globProblem(Array.from({ length: 17 }, () => "*").join("/"))).toMatch(/16 wildcards/);
    expect(globProblem(`${"a?".repeat(16)}`)).toBeNull();
    expect(globProblem(`${"a?".repeat(17)}`)).toMatch(/16 wildcards/);
    expect(globProblem(Array.from({ length: 17 }, () => "**").join("/"))).toMatch(/16 wildcards/);
  });

  it("answers the old pathological patterns promptly (a regex took 18-25 s on the first one)", { timeout: 30_000 }, () => {
    const path = `${"a".repeat(70)}`;
    expect(compileGlob("*a*a*a*a*a*a*c").test(path)).toBe(false);
    const long = Array.from({ length: 16 }, () => "a".repeat(31)).join("/");
    const worst = Array.from({ length: 5 }, () => "*a*a*c").join("/");
    expect(globProblem("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*c")).toMatch(/16 wildcards/);
    for (let i = 0; i < 200; i++) {
      expect(compileGlob("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*c").test("a".repeat(512))).toBe(false);
      expect(compileGlob("**/**/**/**/**/**/**/**/**/**/**/**/**/**/**/x").test(long)).toBe(false);
      expect(compileGlob(worst).test(long)).toBe(false);
    }
  });
});

it("keeps compiled patterns by their size: a caller's flood of long distinct patterns pushes out the oldest, not the ones in use", () => {
  // 256 segments each, the longest a pattern may be (~18 KB compiled): 5,000 of them are past the cache's 64 MB.
  const long = (i: number) => `*/${String(i).padStart(6, "0")}/${"a/".repeat(251)}b`;
  const first = globMatcher(long(0));
  const inUse = globMatcher("app/**");
  for (let i = 1; i < 5_000; i++) {
    globMatcher(long(i));
    if (i % 500 === 0) expect(globMatcher("app/**")).toBe(inUse);
  }
  expect(globMatcher("app/**")).toBe(inUse);
  expect(globMatcher(long(0))).not.toBe(first);
  expect(globMatcher(long(0)).test(`x/000000/${"a/".repeat(251)}b`)).toBe(true);
});

describe("the bit-parallel automaton of long segment globs", () => {
  // `size: "max"`: lengths up to the maximum (fast-check's default size keeps arrays to about ten).
  const segmentGlob = (max: number) =>
    fc.array(fc.constantFrom("a", "a", "b", "?", "*"), { minLength: 1, maxLength: max, size: "max" }).map((c) => c.join("").replace(/\*+/g, "*"));
  const text = (max: number) => fc.array(fc.constantFrom("a", "a", "b", "c"), { maxLength: max, size: "max" }).map((c) => c.join(""));

  it("agrees with the reference on short globs and segments", () => {
    fc.assert(fc.property(segmentGlob(12), text(12), (glob, segment) => {
      expect(runAutomaton(segmentAutomaton(glob), segment)).toBe(referenceMatch(glob, segment));
    }), { numRuns: 3000 });
  });

  it("agrees with the greedy walk on globs across several words (up to 200 positions) and long segments", () => {
    let longest = 0;
    let matched = 0;
    fc.assert(fc.property(segmentGlob(200), text(300), (glob, segment) => {
      longest = Math.max(longest, glob.length);
      const expected = matchSegment(glob, segment);
      if (expected) matched++;
      expect(runAutomaton(segmentAutomaton(glob), segment)).toBe(expected);
    }), { numRuns: 1500 });
    // The runs did reach several words, and some matched.
    expect(longest).toBeGreaterThan(64);
    expect(matched).toBeGreaterThan(0);
    // Matches that need the carries between words: a star's skip and a character's move across bit 31.
    for (const length of [30, 31, 32, 33, 63, 64, 65, 200]) {
      const glob = `${"a".repeat(length - 1)}*`;
      expect(runAutomaton(segmentAutomaton(glob), "a".repeat(length - 1))).toBe(true);
      expect(runAutomaton(segmentAutomaton(glob), `${"a".repeat(length - 1)}bbb`)).toBe(true);
      expect(runAutomaton(segmentAutomaton(glob), "a".repeat(length - 2))).toBe(false);
      expect(runAutomaton(segmentAutomaton(`*${"?".repeat(length)}b`), `${"c".repeat(400)}${"a".repeat(length)}b`)).toBe(true);
      expect(runAutomaton(segmentAutomaton(`*${"?".repeat(length)}b`), `${"c".repeat(400)}${"a".repeat(length - 1)}b`)).toBe(true);
      expect(runAutomaton(segmentAutomaton(`${"?".repeat(length)}b`), `${"a".repeat(length - 1)}b`)).toBe(false);
    }
  });

  it("is what a compiled pattern uses for a long glob on a long segment, with the same answers", () => {
    const glob = `team/*${"a".repeat(253)}b`;
    const compiled = compileGlob(glob);
    const token = compiled.tokens[1];
    expect(token.kind === "seg" && token.automaton !== null).toBe(true);
    expect(compiled.test(`team/${"a".repeat(500)}`)).toBe(false);
    expect(compiled.test(`team/${"a".repeat(500)}b`)).toBe(true);
    expect(compiled.test(`team/x${"a".repeat(253)}b`)).toBe(true);
    expect(compileGlob("team/app-*").tokens[1]).toMatchObject({ automaton: null });
  });
});
