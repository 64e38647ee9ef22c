import { describe, expect, it } from "vitest";
import { checkRules, claimMatches, decodeJwt, type TrustLike } from "./jwt";

const b64 = (value: unknown) => btoa(JSON.stringify(value)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
const jwt = (claims: Record<string, unknown>) => `${b64({ alg: "RS256", kid: "k1" })}.${b64(claims)}.c2ln`;
const trust: TrustLike = { id: "trust_1", name: "ci", issuer: "https://issuer.example", audiences: ["scaivault"], enabled: true, rules: [
  { conditions: { repository: "acme/*", ref: ["refs/heads/main", "refs/tags/v*"] }, identity_id: "sa:deployer", scopes: ["secrets:read"] },
  { conditions: { "kubernetes.io": "x" }, identity_id: "sa:other", scopes: ["secrets:read"] },
] };

describe("Try a token: decode (not verify) and rule conditions", () => {
  it("decodes header and claims; refuses what is not a JWT", () => {
    const decoded = decodeJwt(jwt({ iss: "https://issuer.example", sub: "x" }));
    expect(decoded).toEqual({ header: { alg: "RS256", kid: "k1" }, claims: { iss: "https://issuer.example", sub: "x" } });
    expect(decodeJwt("abc")).toEqual({ error: expect.any(String) });
    expect(decodeJwt("a.b.c")).toEqual({ error: expect.any(String) });
  });

  it("globs match whole values, * any run, other characters literally", () => {
    expect(claimMatches("acme/*", "acme/api")).toBe(true);
    expect(claimMatches("acme/*", "acmex/api")).toBe(false);
    expect(claimMatches("a.c", "abc")).toBe(false);
    expect(claimMatches("main", "main2")).toBe(false);
  });

  it("names the conditions that fail, issuer and audience included", () => {
    const ok = checkRules({ iss: "https://issuer.example", aud: "scaivault", repository: "acme/api", ref: "refs/tags/v1.2" }, [trust]);
    expect(ok[0]).toEqual({ trust: "ci", rule: 1, identity_id: "sa:deployer", holds: true, failed: [] });
    expect(ok[1]).toMatchObject({ holds: false, failed: ["kubernetes.io"] });
    const bad = checkRules({ iss: "https://other.example", aud: ["x"], repository: "evil/api", ref: "refs/heads/main" }, [trust]);
    expect(bad[0]).toMatchObject({ holds: false, failed: ["iss", "aud", "repository"] });
    expect(checkRules({ iss: "https://issuer.example", aud: "scaivault", repository: "acme/api", ref: "refs/heads/main" }, [{ ...trust, enabled: false }])[0].failed).toEqual(["trust disabled"]);
  });
});
