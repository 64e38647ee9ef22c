import { LruMap } from "../shared/lru.js";
import { globTokens, type GlobToken } from "./glob.js";

/**
 * Relations between two globs, for the no-escalation rule (SPEC §4): containment ("every path A
 * matches, B matches too") and intersection ("some path matches both"). Both are decided on the
 * same tokens the matcher runs, over every non-empty segment of characters — a superset of valid
 * paths, so a containment found here holds for paths too, and an intersection missed here cannot
 * exist among paths.
 *
 * Containment walks A while tracking the set of B's states, letting an adversary choose each
 * segment (and, inside a segment, each character). Where the adversary's best move is not computed
 * exactly, it is approximated so that B's state set only shrinks: the answer may be a wrongful
 * "not contained" (the caller is refused), never a wrongful "contained". The search is bounded;
 * beyond the bound the answer is "not contained" (when unsure, refuse).
 */

const MAX_STATES = 20_000;

class Unsure extends Error {}

/** A character no literal of either pattern uses (an adversary's best choice for a wildcard). */
const FRESH = "\u0000";

function charClosure(h: string, states: Set<number>): Set<number> {
  for (const j of [...states].sort((a, b) => a - b)) {
    let k = j;
    while (k < h.length && h[k] === "*") states.add(++k);
  }
  return states;
}

function charStep(h: string, states: Set<number>, c: string): Set<number> {
  const next = new Set<number>();
  for (const j of states) {
    if (j >= h.length) continue;
    if (h[j] === "*") next.add(j);
    else if (h[j] === "?" || h[j] === c) next.add(j + 1);
  }
  return charClosure(h, next);
}

const key = (states: Set<number>) => [...states].sort((a, b) => a - b).join(",");

/** Every non-empty string the one-segment glob `g` matches, `h` matches too. */
export function segmentContained(g: string, h: string): boolean {
  if (g === h || h === "*") return true;
  const seen = new Set<string>();
  const stack: Array<{ i: number; s: Set<number>; nonEmpty: boolean }> = [{ i: 0, s: charClosure(h, new Set([0])), nonEmpty: false }];
  while (stack.length > 0) {
    const { i, s, nonEmpty } = stack.pop()!;
    const id = `${i}|${nonEmpty ? 1 : 0}|${key(s)}`;
    if (seen.has(id)) continue;
    if (seen.size >= MAX_STATES) throw new Unsure();
    seen.add(id);
    if (i === g.length) {
      if (nonEmpty && !s.has(h.length)) return false;
      continue;
    }
    const c = g[i];
    if (c === "*") {
      stack.push({ i: i + 1, s, nonEmpty });
      stack.push({ i, s: charStep(h, s, FRESH), nonEmpty: true });
    } else stack.push({ i: i + 1, s: charStep(h, s, c === "?" ? FRESH : c), nonEmpty: true });
  }
  return true;
}

/** Some non-empty string matches both one-segment globs (an exact product of the two automata). */
export function segmentsIntersect(g: string, h: string): boolean {
  const seen = new Set<string>();
  const stack: Array<[number, number, boolean]> = [[0, 0, false]];
  while (stack.length > 0) {
    const [i, j, nonEmpty] = stack.pop()!;
    const id = `${i},${j},${nonEmpty ? 1 : 0}`;
    if (seen.has(id)) continue;
    if (seen.size >= MAX_STATES) throw new Unsure();
    seen.add(id);
    if (i === g.length && j === h.length && nonEmpty) return true;
    if (g[i] === "*") stack.push([i + 1, j, nonEmpty]);
    if (h[j] === "*") stack.push([i, j + 1, nonEmpty]);
    if (i >= g.length || j >= h.length) continue;
    const gAny = g[i] === "*" || g[i] === "?";
    const hAny = h[j] === "*" || h[j] === "?";
    if (gAny || hAny || g[i] === h[j]) stack.push([g[i] === "*" ? i : i + 1, h[j] === "*" ? j : j + 1, true]);
  }
  return false;
}

function memo<T>(fn: (a: string, b: string) => T): (a: string, b: string) => T {
  const cache = new LruMap<string, T>(50_000);
  return (a, b) => {
    const k = `${a}/${b}`;
    let v = cache.get(k);
    if (v === undefined) {
      v = fn(a, b);
      cache.set(k, v);
    }
    return v;
  };
}
const contained = memo(segmentContained);
const intersects = memo(segmentsIntersect);

function tokenClosure(tokens: readonly GlobToken[], states: Set<number>): Set<number> {
  for (const j of [...states].sort((a, b) => a - b)) {
    let k = j;
    while (k < tokens.length && tokens[k].kind === "any") states.add(++k);
  }
  return states;
}

/** B's states after one segment that matches `g` (pessimistic: a `seg` state advances only when `g` ⊆ its glob). */
function tokenStep(tokens: readonly GlobToken[], states: Set<number>, g: string): Set<number> {
  const next = new Set<number>();
  for (const j of states) {
    if (j >= tokens.length) continue;
    const token = tokens[j];
    if (token.kind === "any") next.add(j);
    else if (contained(g, token.glob)) next.add(j + 1);
  }
  return tokenClosure(tokens, next);
}

/** Every path glob `a` matches, glob `b` matches too. Refuses (false) when the search is too large. */
export function globContains(b: string, a: string): boolean {
  if (a === b || b === "**") return true;
  try {
    const A = globTokens(a);
    const B = globTokens(b);
    const seen = new Set<string>();
    const stack: Array<{ i: number; s: Set<number> }> = [{ i: 0, s: tokenClosure(B, new Set([0])) }];
    while (stack.length > 0) {
      const { i, s } = stack.pop()!;
      const id = `${i}|${key(s)}`;
      if (seen.has(id)) continue;
      if (seen.size >= MAX_STATES) return false;
      seen.add(id);
      if (s.size === 0) return false;
      if (i === A.length) {
        if (!s.has(B.length)) return false;
        continue;
      }
      const token = A[i];
      if (token.kind === "any") {
        stack.push({ i: i + 1, s });
        stack.push({ i, s: tokenStep(B, s, "*") });
      } else stack.push({ i: i + 1, s: tokenStep(B, s, token.glob) });
    }
    return true;
  } catch (error) {
    if (error instanceof Unsure) return false;
    throw error;
  }
}

/** Some path matches both globs. Answers true when the search is too large (when unsure, assume overlap). */
export function globsIntersect(a: string, b: string): boolean {
  try {
    const A = globTokens(a);
    const B = globTokens(b);
    const seen = new Set<string>();
    const stack: Array<[number, number]> = [[0, 0]];
    while (stack.length > 0) {
      const [i, j] = stack.pop()!;
      const id = `${i},${j}`;
      if (seen.has(id)) continue;
      if (seen.size >= MAX_STATES) return true;
      seen.add(id);
      if (i === A.length && j === B.length) return true;
      const x = A[i];
      const y = B[j];
      if (x?.kind === "any") stack.push([i + 1, j]);
      if (y?.kind === "any") stack.push([i, j + 1]);
      if (!x || !y) continue;
      // One segment consumed by both: `any` absorbs any segment; two one-segment globs need a common string.
      if (x.kind === "any" && y.kind === "any") continue;
      if (x.kind === "any") stack.push([i, j + 1]);
      else if (y.kind === "any") stack.push([i + 1, j]);
      else if (intersects(x.glob, y.glob)) stack.push([i + 1, j + 1]);
    }
    return false;
  } catch (error) {
    if (error instanceof Unsure) return true;
    throw error;
  }
}
