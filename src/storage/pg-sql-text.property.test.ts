import fc from "fast-check";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { literal, stringLiteral } from "./pg-sql-text.js";

/** Quotes, backslashes and an `E` are what the escaping is about; any other unit may sit beside them. */
const text = fc.string({ unit: fc.oneof(fc.constantFrom("'", "\\", "E", "x", " "), fc.string({ unit: "binary", minLength: 1, maxLength: 1 })), maxLength: 40 });

describe("PostgreSQL string literals", () => {
  it("are exactly pg.escapeLiteral's text, which they replace on the write path", () => {
    fc.assert(
      fc.property(text, (value) => {
        expect(stringLiteral(value)).toBe(pg.escapeLiteral(value));
      }),
      { numRuns: 5000 },
    );
  });

  it("decline a NUL, which would end the protocol's query string", () => {
    fc.assert(
      fc.property(text, text, (before, after) => {
        expect(literal(`${before}\0${after}`)).toBeNull();
      }),
    );
  });
});
