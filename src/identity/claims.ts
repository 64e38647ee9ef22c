import { globMatcher, type CompiledGlob } from "../access/glob.js";

/** `{claim: pattern | [patterns]}`: all claims must hold; a list is any-of (spec/identity.md §4). */
export type Conditions = Record<string, string | string[]>;

const MAX_PATTERN = 512;
const MAX_WILDCARDS = 16;
export const GITHUB_ACTIONS_ISSUER = "https://token.actions.githubusercontent.com";

/** Why a claim pattern is unusable (SPEC §4's bounds), or null. */
export function claimPatternProblem(pattern: string): string | null {
  if (typeof pattern !== "string" || pattern.length === 0) return "a pattern must be a non-empty string";
  if (pattern.length > MAX_PATTERN) return `a pattern may be at most ${MAX_PATTERN} characters`;
  if ((pattern.match(/\*\*|\*|\?/g) ?? []).length > MAX_WILDCARDS) return `a pattern may hold at most ${MAX_WILDCARDS} wildcards`;
  for (const segment of pattern.split("/")) if (segment.includes("**") && segment !== "**") return "** must be a whole segment";
  return null;
}

/** SPEC §4's one matcher, compiled once per pattern. */
function matcher(pattern: string): CompiledGlob {
  return globMatcher(pattern);
}

/** A claim by name, or by a `/`-path into nested objects (`kubernetes.io/serviceaccount/name`). */
export function claimAt(claims: Record<string, unknown>, name: string): unknown {
  if (Object.prototype.hasOwnProperty.call(claims, name)) return claims[name];
  const parts = name.split("/");
  // Object keys may themselves hold slashes' neighbours (`kubernetes.io`): walk greedily by whole parts.
  let node: unknown = claims;
  for (let i = 0; i < parts.length; ) {
    if (!node || typeof node !== "object" || Array.isArray(node)) return undefined;
    let advanced = false;
    for (let j = parts.length; j > i; j--) {
      const key = parts.slice(i, j).join("/");
      if (Object.prototype.hasOwnProperty.call(node, key)) {
        node = (node as Record<string, unknown>)[key];
        i = j;
        advanced = true;
        break;
      }
    }
    if (!advanced) return undefined;
  }
  return node;
}

const asText = (value: unknown): string | null => (typeof value === "string" ? value : typeof value === "number" || typeof value === "boolean" ? JSON.stringify(value) : null);

/** Every condition holds: the claim exists and (one of its elements) matches one of the patterns. */
export function conditionsHold(conditions: Conditions, claims: Record<string, unknown>): boolean {
  return Object.entries(conditions).every(([name, patterns]) => {
    const value = claimAt(claims, name);
    if (value === undefined || value === null) return false;
    const values = (Array.isArray(value) ? value : [value]).map(asText).filter((v): v is string => v !== null);
    const list = Array.isArray(patterns) ? patterns : [patterns];
    return values.some((v) => list.some((p) => matcher(p).test(v)));
  });
}

const literal = (text: string) => !/[*?]/.test(text);

/**
 * GitHub Actions tokens name any repository on GitHub: a rule must pin the owner — a `repository`
 * pattern whose owner (before the first `/`) is literal, or a literal `repository_owner` or `repository_id`.
 */
export function pinsGitHubOwner(conditions: Conditions): boolean {
  const all = (name: string, test: (p: string) => boolean) => {
    const value = conditions[name];
    if (value === undefined) return false;
    const list = Array.isArray(value) ? value : [value];
    return list.length > 0 && list.every(test);
  };
  return (
    all("repository", (p) => p.includes("/") && p.indexOf("/") > 0 && literal(p.slice(0, p.indexOf("/")))) ||
    all("repository_owner", literal) ||
    all("repository_id", literal)
  );
}
