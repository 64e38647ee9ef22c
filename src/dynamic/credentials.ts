import { freshRandomByte } from "../crypto/random.js";

const LOWER = "abcdefghijklmnopqrstuvwxyz";
const UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const DIGITS = "0123456789";

/** A uniformly chosen character of `alphabet` (rejection sampling: no modulo bias). */
function pick(alphabet: string): string {
  const limit = 256 - (256 % alphabet.length);
  for (;;) {
    const byte = freshRandomByte();
    if (byte < limit) return alphabet[byte % alphabet.length];
  }
}

/** `v_<role>_<10 of a-z0-9>`: the role lower-cased, `-` as `_`, cut to 16 (contract D5). Fits PostgreSQL (63), MySQL (32) and Redis. */
export function newUsername(role: string): string {
  let suffix = "";
  for (let i = 0; i < 10; i++) suffix += pick(LOWER + DIGITS);
  return `v_${role.toLowerCase().replace(/-/g, "_").slice(0, 16)}_${suffix}`;
}

/** 32 of A-Za-z0-9 with each class present: no character any dialect would need to escape. */
export function newPassword(length = 32): string {
  for (;;) {
    let out = "";
    for (let i = 0; i < length; i++) out += pick(LOWER + UPPER + DIGITS);
    if (/[a-z]/.test(out) && /[A-Z]/.test(out) && /[0-9]/.test(out)) return out;
  }
}
