/**
 * "Try a token" (Access → Token Exchange): decodes — never verifies — a pasted JWT in the browser
 * and says which trusts' rules would match its claims. The vault alone verifies signatures.
 */
export interface TrustLike {
  id: string;
  name: string;
  issuer: string;
  audiences: string[];
  enabled: boolean;
  rules: Array<{ conditions: Record<string, string | string[]>; identity_id: string; scopes: string[] }>;
}

export interface RuleCheck {
  trust: string;
  rule: number;
  identity_id: string;
  holds: boolean;
  failed: string[];
}

function base64url(text: string): string {
  const padded = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
  const binary = atob(padded);
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

/** The header and claims of a compact JWT, or an error message (nothing is verified). */
export function decodeJwt(token: string): { header: Record<string, unknown>; claims: Record<string, unknown> } | { error: string } {
  const parts = token.trim().split(".");
  if (parts.length !== 3) return { error: "A JWT has three dot-separated parts" };
  try {
    const header = JSON.parse(base64url(parts[0]));
    const claims = JSON.parse(base64url(parts[1]));
    if (typeof claims !== "object" || claims === null || Array.isArray(claims)) return { error: "The payload is not a JSON object" };
    return { header, claims };
  } catch {
    return { error: "The header or payload is not base64url JSON" };
  }
}

/** A claim pattern: `*` matches any run of characters, everything else literally. */
export function claimMatches(pattern: string, value: string): boolean {
  const source = pattern.split("*").map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*");
  return new RegExp(`^${source}$`, "s").test(value);
}

function claimValue(claims: Record<string, unknown>, name: string): unknown {
  if (name in claims) return claims[name];
  return name.split(".").reduce<unknown>((at, key) => (at && typeof at === "object" ? (at as Record<string, unknown>)[key] : undefined), claims);
}

/** For each rule of each trust: whether its issuer, audience and conditions hold for these claims. */
export function checkRules(claims: Record<string, unknown>, trusts: TrustLike[]): RuleCheck[] {
  const out: RuleCheck[] = [];
  const aud = Array.isArray(claims.aud) ? claims.aud.map(String) : claims.aud === undefined ? [] : [String(claims.aud)];
  for (const trust of trusts) {
    const trustFailed: string[] = [];
    if (!trust.enabled) trustFailed.push("trust disabled");
    if (claims.iss !== trust.issuer) trustFailed.push("iss");
    if (!aud.some((a) => trust.audiences.includes(a))) trustFailed.push("aud");
    trust.rules.forEach((rule, index) => {
      const failed = [...trustFailed];
      for (const [name, patterns] of Object.entries(rule.conditions)) {
        const value = claimValue(claims, name);
        const values = Array.isArray(value) ? value.map(String) : value === undefined || value === null ? [] : [String(value)];
        const list = Array.isArray(patterns) ? patterns : [patterns];
        if (!values.some((v) => list.some((p) => claimMatches(p, v)))) failed.push(name);
      }
      out.push({ trust: trust.name, rule: index + 1, identity_id: rule.identity_id, holds: failed.length === 0, failed });
    });
  }
  return out;
}
