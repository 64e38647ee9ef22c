/**
 * Worst-case glob matching (issue 13): the patterns that made the old RegExp backtrack, and the
 * worst shapes for the segment matcher, at SPEC §4's limits (512-character pattern, 16 wildcards)
 * against 512-character paths. Not a test: prints microseconds per match and the slowest single
 * match. `npx tsx bench/glob-worst.ts [iterations]`.
 */
import { compileGlob, globProblem } from "../src/access/glob.js";
import { globContains, globsIntersect } from "../src/access/glob-relations.js";

const iterations = Number(process.argv[2] ?? 2000);
const pad = (text: string, length: number, fill = "a") => text + fill.repeat(Math.max(0, length - text.length));

/** 16 wildcards spread over one 512-character segment: `*a*a…*c` padded with literal a's. */
const starsOneSegment = pad("*a".repeat(15) + "*", 511) + "c";
/** The review's pattern, and the same spread over 16 segments. */
const review = "*a*a*a*a*a*a*c";
const perSegment = Array.from({ length: 16 }, () => "*").join("/");
const starsAndGlobstars = Array.from({ length: 8 }, () => "**/*a").join("/");
const longLiteralTail = pad("**/", 509, "a") + "/?c";

const oneSegmentPath = "a".repeat(512);
const manySegmentsPath = Array.from({ length: 16 }, () => "a".repeat(31)).join("/");

const cases: Array<[string, string, string]> = [
  ["review *a*a*a*a*a*a*c vs 512 a's", review, oneSegmentPath],
  ["16 stars in one 512-char segment vs 512 a's", starsOneSegment, oneSegmentPath],
  ["16 one-star segments vs 16 segments", perSegment, manySegmentsPath],
  ["8 x (**/*a) vs 16 segments", starsAndGlobstars, manySegmentsPath + "/b"],
  ["**/ + 500 literal + /?c vs 16 segments", longLiteralTail, manySegmentsPath],
];

const results: Record<string, { us_per_match: number; worst_us: number; matched: boolean }> = {};
for (const [name, pattern, path] of cases) {
  if (globProblem(pattern)) throw new Error(`${name}: ${globProblem(pattern)}`);
  const glob = compileGlob(pattern);
  let worst = 0;
  let matched = false;
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) {
    const t = process.hrtime.bigint();
    matched = glob.test(path);
    const took = Number(process.hrtime.bigint() - t) / 1000;
    if (took > worst) worst = took;
  }
  const total = Number(process.hrtime.bigint() - start) / 1000;
  results[name] = { us_per_match: Math.round((total / iterations) * 10) / 10, worst_us: Math.round(worst), matched };
}

// The no-escalation check's relations on the same patterns (once each; they are bounded searches).
const relations: Record<string, number> = {};
for (const [a, b] of [[starsOneSegment, review], [starsAndGlobstars, perSegment], [perSegment, starsAndGlobstars]]) {
  const t = process.hrtime.bigint();
  globContains(a, b);
  globsIntersect(a, b);
  relations[`${a.slice(0, 16)}… vs ${b.slice(0, 16)}…`] = Math.round(Number(process.hrtime.bigint() - t) / 1000);
}
console.log(JSON.stringify({ node: process.version, iterations, matches: results, relations_us: relations }, null, 2));
