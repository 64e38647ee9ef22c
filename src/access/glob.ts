import { SizedCache } from "../shared/sized-cache.js";
/**
 * Policy path globs (SPEC §4), anchored, matched segment by segment without any regular expression:
 * `*` any run within one segment, `?` one character, `**` only as a whole segment. A leading `**/`
 * stands for one or more segments, a middle `/**\/` for zero or more, a trailing `/**` for one or
 * more, and `**` alone for every path.
 *
 * Why no RegExp: `*a*a*a*a*a*a*c` compiled to `[^/]*a[^/]*a…` backtracked for tens of seconds on a
 * 70-character path (issue 13). Here a segment is matched by the two-pointer greedy algorithm (it
 * only ever returns to the last `*`), and the segments by a set-of-states simulation: each
 * (pattern token, path segment) pair is tried at most once, so a match costs at most
 * O(|path| × |pattern|) character steps, whatever the pattern.
 */

export const MAX_GLOB_LENGTH = 512;
export const MAX_GLOB_WILDCARDS = 16;

/**
 * A compiled pattern: a list of tokens. `seg` matches exactly one path segment against a
 * one-segment glob; `any` matches zero or more whole segments. `**` in its positions becomes
 * `seg(*)` + `any` (one or more) or `any` alone (a middle one: zero or more).
 */
export type GlobToken = { kind: "seg"; glob: string; literal: boolean } | { kind: "any" };

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
  const one = (glob: string): GlobToken => ({ kind: "seg", glob, literal: isLiteral(glob) });
  segments.forEach((segment, index) => {
    if (segment !== "**") return void tokens.push(one(segment));
    const middle = index > 0 && index < segments.length - 1;
    // Leading, trailing or alone: at least one segment. In the middle: zero or more.
    if (middle) tokens.push(any());
    else tokens.push(one("*"), any());
  });
  return tokens;
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
      } else if (token.literal ? token.glob === segment : matchSegment(token.glob, segment)) {
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
const cache = new SizedCache<string, CompiledGlob>(GLOB_CACHE_BYTES, (compiled) => 128 + 2 * compiled.pattern.length + compiled.tokens.reduce((sum, token) => sum + 64 + (token.kind === "seg" ? 2 * token.glob.length : 0), 0));

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
