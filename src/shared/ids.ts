import { randomFillSync } from "node:crypto";

const ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

// CSPRNG bytes drawn 4 KiB at a time: every request makes several ids, and one call into the
// system generator per id cost more than the rest of id making. Each byte is used once.
const pool = Buffer.alloc(4096);
let poolOffset = pool.length;

function nextRandomByte(): number {
  if (poolOffset === pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  return pool[poolOffset++];
}

/** Base62 text from CSPRNG bytes; rejection sampling keeps every character equally likely. */
export function randomBase62(length: number): string {
  let out = "";
  while (out.length < length) {
    const byte = nextRandomByte();
    if (byte < 248) out += ALPHABET[byte % 62];
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
