/**
 * Policy path globs, anchored: `**` any number of whole segments (including none), `*` any run of
 * characters within one segment, `?` one character other than `/`. Compiled once to a RegExp.
 */
export function compileGlob(pattern: string): RegExp {
  // `**/**` means the same as `**`; collapsing keeps the expression linear.
  const segments = pattern.split("/").filter((segment, i, all) => !(segment === "**" && all[i - 1] === "**"));
  let source = "";
  segments.forEach((segment, index) => {
    const first = index === 0;
    const last = index === segments.length - 1;
    if (segment === "**") {
      if (first && last) source += ".*";
      else if (first) source += "(?:[^/]+/)*";
      else source += "(?:/[^/]+)*";
      return;
    }
    const afterLeadingGlobstar = index === 1 && segments[0] === "**";
    if (!first && !afterLeadingGlobstar) source += "/";
    source += segment.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*").replace(/\?/g, "[^/]");
  });
  return new RegExp(`^${source}$`);
}

const GLOB_CHARS = /^[a-z0-9\-_.*?/]+$/;

/** Why a pattern is not a valid glob, or null when it is. */
export function globProblem(pattern: string): string | null {
  if (typeof pattern !== "string" || pattern.length === 0) return "path_pattern must be a non-empty string";
  if (pattern.length > 512) return "path_pattern is longer than 512 characters";
  if (pattern.startsWith("/")) return "path_pattern must not start with /";
  if (pattern.endsWith("/")) return "path_pattern must not end with /";
  if (!GLOB_CHARS.test(pattern)) return "path_pattern may use a-z 0-9 - _ . / and the wildcards * ? **";
  for (const segment of pattern.split("/")) {
    if (segment === "") return "path_pattern has an empty segment";
    if (segment.includes("**") && segment !== "**") return "** must be a whole segment";
  }
  return null;
}
