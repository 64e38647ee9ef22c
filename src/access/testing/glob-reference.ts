import fc from "fast-check";

/**
 * The plain reference: segment-wise backtracking, written straight from SPEC §4's wording (a
 * leading, trailing or lone `**` stands for one or more segments, a middle one for zero or more).
 * Exponential in the worst case, so only for the small inputs generated here.
 */
export function referenceMatch(pattern: string, path: string): boolean {
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
      const middle = pi > 0 && pi < p.length - 1;
      for (let k = si + (middle ? 0 : 1); k <= s.length; k++) if (walk(pi + 1, k)) return true;
      return false;
    }
    return si < s.length && segment(p[pi], s[si]) && walk(pi + 1, si + 1);
  };
  return walk(0, 0);
}

export const CHARS = ["a", "b", "c", "-", "."];
export const pathSegment = fc.array(fc.constantFrom(...CHARS), { minLength: 1, maxLength: 3 }).map((c) => c.join(""));
export const path = fc.array(pathSegment, { minLength: 1, maxLength: 5 }).map((s) => s.join("/"));
export const patternSegment = fc.oneof(
  { weight: 2, arbitrary: fc.constant("**") },
  { weight: 6, arbitrary: fc.array(fc.constantFrom(...CHARS, "*", "?"), { minLength: 1, maxLength: 3 }).map((c) => c.join("")).filter((s) => !s.includes("**")) },
);
export const pattern = fc.array(patternSegment, { minLength: 1, maxLength: 5 }).map((s) => s.join("/"));

/** A path the pattern must match: each wildcard replaced by something it stands for. */
export const instance = (pat: string) =>
  fc
    .tuple(...pat.split("/").map((seg, index, all) =>
      seg === "**"
        ? fc.array(pathSegment, { minLength: index > 0 && index < all.length - 1 ? 0 : 1, maxLength: 2 })
        : fc.tuple(...[...seg].map((ch) => (ch === "*" ? fc.array(fc.constantFrom(...CHARS), { maxLength: 2 }).map((c) => c.join("")) : ch === "?" ? fc.constantFrom(...CHARS) : fc.constant(ch)))).map((parts) => [parts.join("")]),
    ))
    .map((parts) => parts.flat().join("/"));
