import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { entryAllows } from "./names.js";

/** The label rule as a RegExp, as names.ts once compiled it per name and entry: the reference. */
function referenceLabel(pattern: string, label: string): boolean {
  if (pattern === "*") return true;
  if (!pattern.includes("*")) return pattern === label;
  return new RegExp(`^${pattern.split("*").map((part) => part.replace(/[.+?^${}()|[\]\\-]/g, "\\$&")).join("[a-z0-9_-]*")}$`).test(label);
}

const labelOf = (chars: string, max: number) => fc.array(fc.constantFrom(...chars), { minLength: 1, maxLength: max }).map((c) => c.join(""));

describe("pki: allowed-domain labels with `*` inside", () => {
  it("match exactly as the RegExp rule did, for any entry label and requested label", () => {
    fc.assert(fc.property(labelOf("ab-*", 7), fc.oneof(labelOf("ab-", 9), fc.constant("*")), (pattern, label) => {
      expect(entryAllows(`${pattern}.example.com`, `${label}.example.com`, false)).toBe(referenceLabel(pattern, label));
    }), { numRuns: 3000 });
  });

  it("keeps the cases the rule is for", () => {
    expect(entryAllows("web-*.example.com", "web-01.example.com", false)).toBe(true);
    expect(entryAllows("web-*.example.com", "web-.example.com", false)).toBe(true);
    expect(entryAllows("web-*.example.com", "api-01.example.com", false)).toBe(false);
    expect(entryAllows("a*b*a.example.com", "aba.example.com", false)).toBe(true);
    expect(entryAllows("a*b*a.example.com", "ab.example.com", false)).toBe(false);
    expect(entryAllows("a*b*a.example.com", "aa.example.com", false)).toBe(false);
    expect(entryAllows("ab*ba.example.com", "aba.example.com", false)).toBe(false);
    expect(entryAllows("x*.example.com", "*.example.com", false)).toBe(false);
    expect(entryAllows("*.example.com", "*.example.com", false)).toBe(true);
  });
});
