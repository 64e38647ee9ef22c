import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { prefixEnd } from "./filters.js";

/** Byte-wise UTF-8 order: how SQLite's TEXT and PostgreSQL's COLLATE "C" compare secret paths. */
const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
/** Strings of whole code points (no lone surrogates), including the extremes of the range. */
const text = fc.string({ unit: fc.oneof(fc.constantFrom("a", "/", "~", "\u{d7ff}", "\u{e000}", "\u{ffff}", "\u{10ffff}"), fc.string({ unit: "binary", minLength: 1, maxLength: 1 })), maxLength: 8 });

describe("path_prefix as a byte-wise range [prefix, prefixEnd(prefix))", () => {
  it("holds exactly the strings that start with the prefix", () => {
    fc.assert(
      fc.property(text.filter((p) => p.length > 0), text, (prefix, other) => {
        const end = prefixEnd(prefix);
        const inRange = (s: string) => byteOrder(s, prefix) >= 0 && (end === null || byteOrder(s, end) < 0);
        expect(inRange(prefix + other)).toBe(true);
        expect(inRange(other)).toBe(other.startsWith(prefix));
      }),
      { numRuns: 2000 },
    );
  });

  it("raises the last code point, steps over the surrogates and drops trailing U+10FFFF", () => {
    expect(prefixEnd("bench/")).toBe("bench0");
    expect(prefixEnd("a\u{d7ff}")).toBe("a\u{e000}");
    expect(prefixEnd("a\u{ffff}")).toBe("a\u{10000}");
    expect(prefixEnd("ab\u{10ffff}\u{10ffff}")).toBe("ac");
    expect(prefixEnd("\u{10ffff}")).toBeNull();
  });
});
