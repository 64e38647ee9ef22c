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

/**
 * Uniform characters from `alphabet` (at most 256 of them), from the CSPRNG's bytes in bulk:
 * bytes at or above the largest multiple of the alphabet's size are dropped, so `byte % size` has
 * no modulo bias. A `randomInt` call per character cost ~0.3 µs each (a review's 14 MB recipe held
 * the loop 4 s).
 */
export function randomString(length: number, alphabet: string): string {
  const size = alphabet.length;
  const usable = 256 - (256 % size);
  const chars: string[] = [];
  while (chars.length < length) {
    // Enough bytes for what is left, with room for the dropped ones (at most 27 % for 94 characters).
    for (const byte of randomBytes(Math.ceil(((length - chars.length) * 256) / usable) + 16)) {
      if (byte >= usable) continue;
      chars.push(alphabet[byte % size]);
      if (chars.length === length) break;
    }
  }
  return chars.join("");
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
