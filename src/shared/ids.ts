import { randomBytes } from "node:crypto";

const ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/** Base62 text from CSPRNG bytes; rejection sampling keeps every character equally likely. */
export function randomBase62(length: number): string {
  let out = "";
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248) out += ALPHABET[byte % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

export type IdPrefix =
  | "ptn" | "tnt" | "pol" | "bnd" | "rot" | "sp" | "wh" | "sub"
  | "evt" | "del" | "log" | "tok" | "req" | "exp" | "hist" | "key";

/** Random, never sequential, ids: 20 base62 characters ≈ 119 bits. */
export function newId(prefix: IdPrefix): string {
  return `${prefix}_${randomBase62(20)}`;
}
