import { VaultError } from "../http/errors.js";

export const ACTION_WORDS = ["versions", "metadata", "rotate", "undelete", "destroy"] as const;
export type SecretAction = (typeof ACTION_WORDS)[number];
const RESERVED_SINGLE = ["batch", "expiring"];

const SEGMENT = /^[a-z0-9\-_.]+$/;
export const MAX_PATH_LENGTH = 512;
export const MAX_SEGMENTS = 10;

/** Why `path` is not a valid secret path, or null. */
export function pathProblem(path: string): string | null {
  if (path.length === 0) return "the path is empty";
  if (path.length > MAX_PATH_LENGTH) return `the path is longer than ${MAX_PATH_LENGTH} characters`;
  if (path.includes("%")) return "the path may not contain % escapes";
  if (path.startsWith("/") || path.endsWith("/")) return "the path may not start or end with /";
  const segments = path.split("/");
  if (segments.length > MAX_SEGMENTS) return `the path has more than ${MAX_SEGMENTS} segments`;
  for (const segment of segments) {
    if (segment === "") return "the path has an empty segment (//)";
    if (segment === "." || segment === "..") return "the path may not contain . or .. segments";
    if (!SEGMENT.test(segment)) return "paths use lower-case a-z, 0-9, -, _ and . only";
  }
  if ((ACTION_WORDS as readonly string[]).includes(segments[segments.length - 1])) {
    return `the last segment may not be one of ${ACTION_WORDS.join(", ")}`;
  }
  if (segments.length === 1 && RESERVED_SINGLE.includes(segments[0])) return `"${segments[0]}" is reserved`;
  return null;
}

export function requireValidPath(path: string): string {
  const problem = pathProblem(path);
  if (problem) throw new VaultError("invalid_path", `Invalid secret path: ${problem}`);
  return path;
}

/**
 * `%2F`/`%2f` read as `/` (SPEC §3), decoded exactly once, so generated OpenAPI clients (which
 * encode the path parameter) work. Every other escape stays in place and is refused by
 * pathProblem; `%252F` becomes nothing but itself, so it is refused too.
 */
export function decodeSlashes(rawPath: string): string {
  return rawPath.replace(/%2F/gi, "/");
}

/**
 * The secret path and trailing action of a `/v1/secrets/...` URL, read from the raw URL so that
 * percent-escapes are seen (and refused) rather than silently decoded — except `%2F` (decodeSlashes).
 */
export function splitSecretUrl(rawUrl: string, base: string): { path: string; action: SecretAction | null } {
  const pathname = rawUrl.split("?")[0];
  const rest = pathname.startsWith(base) ? pathname.slice(base.length) : "";
  const lastSlash = rest.lastIndexOf("/");
  const last = lastSlash >= 0 ? rest.slice(lastSlash + 1) : "";
  if (lastSlash > 0 && (ACTION_WORDS as readonly string[]).includes(last)) {
    return { path: decodeSlashes(rest.slice(0, lastSlash)), action: last as SecretAction };
  }
  return { path: decodeSlashes(rest), action: null };
}
