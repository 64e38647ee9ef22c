import { randomBytes, randomInt } from "node:crypto";

const UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const LOWER = "abcdefghijklmnopqrstuvwxyz";
const DIGITS = "0123456789";
const PRINTABLE = Array.from({ length: 94 }, (_, i) => String.fromCharCode(33 + i)).join("");

export const CHARSETS = {
  alphanumeric: UPPER + LOWER + DIGITS,
  alpha: UPPER + LOWER,
  numeric: DIGITS,
  hex: "0123456789abcdef",
  safe: `${UPPER}${LOWER}${DIGITS}-_.~`,
  ascii: PRINTABLE,
} as const;
export type CharsetName = keyof typeof CHARSETS;

export const CLASSES = {
  require_upper: (c: string) => UPPER.includes(c),
  require_lower: (c: string) => LOWER.includes(c),
  require_digit: (c: string) => DIGITS.includes(c),
  require_symbol: (c: string) => !UPPER.includes(c) && !LOWER.includes(c) && !DIGITS.includes(c),
} as const;
export type Requirement = keyof typeof CLASSES;

/** Uniform characters from `alphabet`: `randomInt` is a CSPRNG without modulo bias. */
export function randomString(length: number, alphabet: string): string {
  let out = "";
  for (let i = 0; i < length; i++) out += alphabet[randomInt(alphabet.length)];
  return out;
}

/**
 * One character of each required class at a random position, the rest uniform over the whole
 * charset, then a Fisher–Yates shuffle so the forced characters do not sit at fixed places.
 */
export function randomWithRequirements(length: number, alphabet: string, required: readonly Requirement[]): string {
  const chars = randomString(length, alphabet).split("");
  required.forEach((requirement, i) => {
    const pool = [...alphabet].filter(CLASSES[requirement]).join("");
    chars[i] = pool[randomInt(pool.length)];
  });
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j], chars[i]];
  }
  return chars.join("");
}

export function randomHex(length: number): string {
  return randomBytes(Math.ceil(length / 2)).toString("hex").slice(0, length);
}

/** RFC 9562 UUIDv7: 48-bit Unix milliseconds, then random bits, with version and variant set. */
export function uuidV7(now = Date.now()): string {
  const bytes = randomBytes(16);
  bytes.writeUIntBE(now, 0, 6);
  bytes[6] = (bytes[6] & 0x0f) | 0x70;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
