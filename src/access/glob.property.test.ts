import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { CompiledPolicySet } from "./authorizer.js";
import { compileGlob, globProblem } from "./glob.js";

/** The plain reference: segment-wise backtracking, straight from SPEC §4's wording. */
function referenceMatch(pattern: string, path: string): boolean {
  const p = pattern.split("/");
  const s = path.split("/");
  const segment = (pat: string, text: string): boolean => {
    const go = (i: number, j: number): boolean => {
      if (i === pat.length) return j === text.length;
      if (pat[i] === "*") {
        for (let k = j; k <= text.length; k++) if (go(i + 1, k)) return true;
        return false;
      }
      if (j === text.length) return false;
      return (pat[i] === "?" || pat[i] === text[j]) && go(i + 1, j + 1);
    };
    return go(0, 0);
  };
  const walk = (pi: number, si: number): boolean => {
    if (pi === p.length) return si === s.length;
    if (p[pi] === "**") {
      for (let k = si; k <= s.length; k++) if (walk(pi + 1, k)) return true;
      return false;
    }
    return si < s.length && segment(p[pi], s[si]) && walk(pi + 1, si + 1);
  };
  return walk(0, 0);
}

const CHARS = ["a", "b", "c", "-", "."];
const pathSegment = fc.array(fc.constantFrom(...CHARS), { minLength: 1, maxLength: 3 }).map((c) => c.join(""));
const path = fc.array(pathSegment, { minLength: 1, maxLength: 5 }).map((s) => s.join("/"));
const patternSegment = fc.oneof(
  { weight: 2, arbitrary: fc.constant("**") },
  { weight: 6, arbitrary: fc.array(fc.constantFrom(...CHARS, "*", "?"), { minLength: 1, maxLength: 3 }).map((c) => c.join("")).filter((s) => !s.includes("**")) },
);
const pattern = fc.array(patternSegment, { minLength: 1, maxLength: 5 }).map((s) => s.join("/"));

/** A path the pattern must match: each wildcard replaced by something it stands for. */
const instance = (pat: string) =>
  fc
    .tuple(...pat.split("/").map((seg) =>
      seg === "**"
        ? fc.array(pathSegment, { maxLength: 2 })
        : fc.tuple(...[...seg].map((ch) => (ch === "*" ? fc.array(fc.constantFrom(...CHARS), { maxLength: 2 }).map((c) => c.join("")) : ch === "?" ? fc.constantFrom(...CHARS) : fc.constant(ch)))).map((parts) => [parts.join("")]),
    ))
    .map((parts) => parts.flat().join("/"));

describe("glob matcher against the reference implementation", () => {
  it("agrees with the reference on arbitrary patterns and paths", () => {
    fc.assert(
      fc.property(pattern, path, (pat, p) => {
        expect(globProblem(pat)).toBeNull();
        expect(compileGlob(pat).test(p)).toBe(referenceMatch(pat, p));
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

  it("reproduces the documented examples (with ** including zero segments, per SPEC §4)", () => {
    const cases: Array<[string, string, boolean]> = [
      ["app/db", "app/db", true],
      ["app/db", "app/db/password", false],
      ["app/db/*", "app/db/password", true],
      ["app/db/*", "app/db/primary/password", false],
      ["app/**", "app/db", true],
      ["app/**", "app/db/password", true],
      ["app/**", "other/app/db", false],
      ["**/ssl/*", "app/ssl/cert", true],
      ["**/ssl/*", "ssl/cert", true],
      ["secrets/*.key", "secrets/tls.key", true],
      ["secrets/*.key", "secrets/tls.pem", false],
      ["app/d?", "app/db", true],
      ["app/d?", "app/d", false],
    ];
    for (const [pat, p, expected] of cases) {
      expect([pat, p, compileGlob(pat).test(p)]).toEqual([pat, p, expected]);
      expect([pat, p, referenceMatch(pat, p)]).toEqual([pat, p, expected]);
    }
  });

  it("refuses malformed patterns", () => {
    for (const bad of ["/app", "app/", "app//db", "a**", "**b/c", "App", "app db", ""]) expect(globProblem(bad)).not.toBeNull();
  });
});
