import { SizedCache } from "../shared/sized-cache.js";
/**
 * Policy path globs (SPEC §4), anchored, matched segment by segment without any regular expression:
 * `*` any run within one segment, `?` one character, `**` only as a whole segment. A leading `**/`
 * stands for one or more segments, a middle `/**\/` for zero or more, a trailing `/**` for one or
 * more, and `**` alone for every path.
 *
 * Why no RegExp: `*a*a*a*a*a*a*c` compiled to `[^/]*a[^/]*a…` backtracked for tens of seconds on a
 * 70-character path (issue 13). Here a segment is matched by the two-pointer greedy algorithm (it
 * only ever returns to the last `*`) or, for a long glob on a long segment, by a bit-parallel
 * automaton (32 glob positions per step); the segments by a set-of-states simulation: each
 * (pattern token, path segment) pair is tried at most once, so a match costs at most
 * O(|path| × |pattern|) character steps, and O(|path| × |pattern| / 32) word steps where long.
 */

export const MAX_GLOB_LENGTH = 512;
export const MAX_GLOB_WILDCARDS = 16;

/**
 * A compiled pattern: a list of tokens. `seg` matches exactly one path segment against a
 * one-segment glob; `any` matches zero or more whole segments. `**` in its positions becomes
 * `seg(*)` + `any` (one or more) or `any` alone (a middle one: zero or more).
 */
export type GlobToken = { kind: "seg"; glob: string; literal: boolean; automaton: SegmentAutomaton | null } | { kind: "any" };

export interface CompiledGlob {
  readonly pattern: string;
  readonly tokens: readonly GlobToken[];
  test(path: string): boolean;
}

const isLiteral = (segment: string) => !segment.includes("*") && !segment.includes("?");

export function globTokens(pattern: string): GlobToken[] {
  const segments = pattern.split("/");
  const tokens: GlobToken[] = [];
  const any = (): GlobToken => ({ kind: "any" });
  const one = (glob: string): GlobToken => {
    const literal = isLiteral(glob);
    return { kind: "seg", glob, literal, automaton: !literal && glob.length >= AUTOMATON_MIN_GLOB ? segmentAutomaton(glob) : null };
  };
  segments.forEach((segment, index) => {
    if (segment !== "**") return void tokens.push(one(segment));
    const middle = index > 0 && index < segments.length - 1;
    // Leading, trailing or alone: at least one segment. In the middle: zero or more.
    if (middle) tokens.push(any());
    else tokens.push(one("*"), any());
  });
  return tokens;
}

/**
 * Segment globs at least this long get an automaton: below it the greedy walk's worst case
 * (glob × segment, 16 × 512 steps) costs less than stepping the automaton.
 */
const AUTOMATON_MIN_GLOB = 16;
/** Glob × segment lengths up to which the greedy walk runs even where an automaton exists (the common short case). */
const GREEDY_MAX_STEPS = 4096;

/**
 * A one-segment glob as a bit-parallel automaton (Shift-And): bit j of the state says the glob's
 * first j characters can have matched the text read so far, and one character of text moves every
 * state at once, 32 to a word. A match costs |segment| × ⌈|glob| / 32⌉ word steps, where the greedy
 * walk's worst case is |segment| × |glob|: `*` + 253 × `a` + `b` against 500 × `a` took the walk
 * ~127,000 steps, and a subscription of 100 such patterns held the fan-out 22–58 ms per event
 * (docs/benchmarks.md round 37).
 */
export interface SegmentAutomaton {
  readonly length: number;
  readonly words: number;
  /** Per character of the glob: the positions it (or a `?`) is at. */
  readonly masks: ReadonlyMap<number, Uint32Array>;
  /** For characters the glob does not name: the `?` positions. */
  readonly other: Uint32Array;
  readonly stars: Uint32Array;
}

export function segmentAutomaton(glob: string): SegmentAutomaton {
  const words = (glob.length + 1 + 31) >>> 5;
  const set = (bits: Uint32Array, j: number) => void (bits[j >>> 5] |= 1 << (j & 31));
  const other = new Uint32Array(words);
  const stars = new Uint32Array(words);
  const masks = new Map<number, Uint32Array>();
  for (let j = 0; j < glob.length; j++) {
    const c = glob.charCodeAt(j);
    if (c === 42 /* * */) set(stars, j);
    else if (c === 63 /* ? */) set(other, j);
    else if (!masks.has(c)) masks.set(c, new Uint32Array(words));
  }
  for (const [c, mask] of masks) {
    for (let j = 0; j < glob.length; j++) if (glob.charCodeAt(j) === c) set(mask, j);
    for (let w = 0; w < words; w++) mask[w] |= other[w];
  }
  return { length: glob.length, words, masks, other, stars };
}

/** Sets state j + 1 wherever j is a `*` that is set: a `*` may match nothing (no two are adjacent in a segment glob). */
function passStars(state: Uint32Array, stars: Uint32Array): void {
  let carry = 0;
  for (let w = 0; w < state.length; w++) {
    const reached = state[w] & stars[w];
    state[w] |= (reached << 1) | carry;
    carry = reached >>> 31;
  }
}

export function runAutomaton(automaton: SegmentAutomaton, text: string): boolean {
  const { words, masks, other, stars } = automaton;
  let state = new Uint32Array(words);
  let next = new Uint32Array(words);
  state[0] = 1;
  passStars(state, stars);
  for (let t = 0; t < text.length; t++) {
    const mask = masks.get(text.charCodeAt(t)) ?? other;
    let carry = 0;
    let alive = 0;
    for (let w = 0; w < words; w++) {
      const moved = state[w] & mask[w];
      next[w] = (moved << 1) | carry | (state[w] & stars[w]);
      carry = moved >>> 31;
      alive |= next[w];
    }
    if (alive === 0) return false;
    passStars(next, stars);
    [state, next] = [next, state];
  }
  const end = automaton.length;
  return (state[end >>> 5] & (1 << (end & 31))) !== 0;
}

/** One path segment against a one-segment glob token: the automaton for long globs on long segments, else the greedy walk. */
function matchSegmentToken(token: { glob: string; automaton: SegmentAutomaton | null }, text: string): boolean {
  if (token.automaton && token.glob.length * text.length > GREEDY_MAX_STEPS) return runAutomaton(token.automaton, text);
  return matchSegment(token.glob, text);
}

/** One path segment against a one-segment glob: greedy, returning only to the last `*` seen. */
export function matchSegment(glob: string, text: string): boolean {
  let g = 0;
  let t = 0;
  let star = -1;
  let mark = 0;
  while (t < text.length) {
    const c = glob.charCodeAt(g);
    if (g < glob.length && (c === 63 /* ? */ || c === text.charCodeAt(t))) {
      g++;
      t++;
    } else if (g < glob.length && c === 42 /* * */) {
      star = g++;
      mark = t;
    } else if (star >= 0) {
      g = star + 1;
      t = ++mark;
    } else return false;
  }
  while (g < glob.length && glob.charCodeAt(g) === 42) g++;
  return g === glob.length;
}

/** Adds the states reachable without consuming a segment (`any` may match none). */
function close(tokens: readonly GlobToken[], states: Uint8Array): void {
  for (let j = 0; j < tokens.length; j++) if (states[j] && tokens[j].kind === "any") states[j + 1] = 1;
}

export function matchTokens(tokens: readonly GlobToken[], path: string): boolean {
  const segments = path.split("/");
  let current = new Uint8Array(tokens.length + 1);
  let next = new Uint8Array(tokens.length + 1);
  current[0] = 1;
  close(tokens, current);
  for (const segment of segments) {
    next.fill(0);
    let alive = false;
    for (let j = 0; j < tokens.length; j++) {
      if (!current[j]) continue;
      const token = tokens[j];
      if (token.kind === "any") {
        next[j] = 1;
        alive = true;
      } else if (token.literal ? token.glob === segment : matchSegmentToken(token, segment)) {
        next[j + 1] = 1;
        alive = true;
      }
    }
    if (!alive) return false;
    [current, next] = [next, current];
    close(tokens, current);
  }
  return current[tokens.length] === 1;
}

/** Compiles a pattern that `globProblem` accepted. */
export function compileGlob(pattern: string): CompiledGlob {
  if (isLiteral(pattern)) return { pattern, tokens: globTokens(pattern), test: (path) => path === pattern };
  const tokens = globTokens(pattern);
  return { pattern, tokens, test: (path) => matchTokens(tokens, path) };
}

const GLOB_CACHE_BYTES = 64 * 1024 * 1024;

/**
 * Bounded by bytes, not by count: callers' own patterns pass through here too (batch metadata
 * wildcards, stream and subscription filters), and a review's 100,000 distinct 512-character,
 * 256-segment patterns kept 1.6 GB under the old 100,000-entry bound. The estimate counts the
 * pattern's UTF-16 characters and each token's object and segment string.
 */
const cache = new SizedCache<string, CompiledGlob>(GLOB_CACHE_BYTES, (compiled) => 128 + 2 * compiled.pattern.length + compiled.tokens.reduce((sum, token) => sum + 64 + (token.kind === "seg" ? 2 * token.glob.length + automatonBytes(token.automaton) : 0), 0));

/** An automaton's arrays (each with its object) and its map's entries. */
function automatonBytes(automaton: SegmentAutomaton | null): number {
  return automaton ? (automaton.masks.size + 2) * (96 + 4 * automaton.words) + 64 * automaton.masks.size : 0;
}

/** The one matcher for policies, the policy test, subscription and stream filters: compiled once per pattern. */
export function globMatcher(pattern: string): CompiledGlob {
  let compiled = cache.get(pattern);
  if (!compiled) {
    compiled = compileGlob(pattern);
    cache.set(pattern, compiled);
  }
  return compiled;
}

const GLOB_CHARS = /^[a-z0-9\-_.*?/]+$/;

/** `*`, `?` and whole-segment `**` together (SPEC §4 bounds them at 16). */
export function wildcardCount(pattern: string): number {
  let count = 0;
  for (const segment of pattern.split("/")) {
    if (segment === "**") count++;
    else for (const ch of segment) if (ch === "*" || ch === "?") count++;
  }
  return count;
}

/** Why a pattern is not a valid glob, or null when it is. Checked wherever a pattern is accepted. */
export function globProblem(pattern: unknown): string | null {
  if (typeof pattern !== "string" || pattern.length === 0) return "path_pattern must be a non-empty string";
  if (pattern.length > MAX_GLOB_LENGTH) return `path_pattern is longer than ${MAX_GLOB_LENGTH} characters`;
  if (pattern.startsWith("/")) return "path_pattern must not start with /";
  if (pattern.endsWith("/")) return "path_pattern must not end with /";
  if (!GLOB_CHARS.test(pattern)) return "path_pattern may use a-z 0-9 - _ . / and the wildcards * ? **";
  for (const segment of pattern.split("/")) {
    if (segment === "") return "path_pattern has an empty segment";
    if (segment.includes("**") && segment !== "**") return "** must be a whole segment";
  }
  if (wildcardCount(pattern) > MAX_GLOB_WILDCARDS) return `path_pattern has more than ${MAX_GLOB_WILDCARDS} wildcards (*, ** and ? together)`;
  return null;
}
