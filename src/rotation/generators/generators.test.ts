import { describe, expect, it } from "vitest";
import { checkFields } from "./index.js";
import { CHARSETS, randomString } from "./random.js";

describe("generators", () => {
  it("draws every character of an alphabet equally often (no modulo bias from the bytes)", () => {
    // 94 characters: a plain `byte % 94` would give the first 68 three chances in 256 and the rest two.
    const alphabet = CHARSETS.ascii;
    const counts = new Map<string, number>();
    const perChar = 10_000;
    for (const ch of randomString(alphabet.length * perChar, alphabet)) counts.set(ch, (counts.get(ch) ?? 0) + 1);
    expect([...counts.keys()].sort().join("")).toBe([...alphabet].sort().join(""));
    // The standard deviation of each count is ~100: ±5 % is five of them, while a 3:2 bias is ±20 %.
    for (const [ch, n] of counts) expect(Math.abs(n - perChar), `${ch}: ${n}`).toBeLessThan(perChar * 0.05);
  });

  it("makes exactly the length asked for, from the alphabet only", () => {
    for (const [name, alphabet] of Object.entries(CHARSETS)) {
      for (const length of [1, 2, 31, 1024]) {
        const value = randomString(length, alphabet);
        expect(value.length, name).toBe(length);
        expect([...value].every((ch) => alphabet.includes(ch)), name).toBe(true);
      }
    }
  });

  it("refuses a recipe whose text fields could make more than 64 KiB together, counting each placeholder at its length", () => {
    const template = (name: string, text: string) => ({ name, generator: "template", config: { template: text } });
    const fourK = "{{random:1024}}".repeat(4);
    const sixteen = Array.from({ length: 16 }, (_, i) => template(`t${i}`, fourK));
    expect(() => checkFields(sixteen)).not.toThrow();
    expect(() => checkFields([...sixteen, template("x", "x")])).toThrow(/make up to 65537 characters; a recipe makes at most 65536/);
    // The review's shape: 273 placeholders of 1,024 in 4,096 characters of template, in one field.
    expect(() => checkFields([template("v", "{{random:1024}}".repeat(273))])).toThrow(/make up to 279552 characters/);
    // A uuid counts 36 characters, a bcrypt hash 60 beside its password, a static value its length.
    const big = { name: "s", generator: "static", config: { value: "v".repeat(65_536 - 36 - 60 - 8) } };
    expect(() => checkFields([big, { name: "u", generator: "uuid" }, { name: "b", generator: "bcrypt_hash", config: { length: 8, rounds: 4 } }])).not.toThrow();
    expect(() => checkFields([big, { name: "u", generator: "uuid" }, { name: "b", generator: "bcrypt_hash", config: { length: 9, rounds: 4 } }])).toThrow(/make up to 65537/);
  });
});
