import { randomFillSync } from "node:crypto";

/**
 * CSPRNG bytes for nonces, data keys and ids, drawn from the system generator 8 KiB at a time: one
 * `randomBytes` call per nonce, data key or id cost 3–5 µs each, a tenth of a secret write.
 * Each byte is handed out once and wiped from the pool as it is copied out.
 */
const pool = Buffer.alloc(8192);
let offset = pool.length;

export function freshRandomBytes(length: number): Buffer {
  if (length > pool.length) return randomFillSync(Buffer.alloc(length));
  if (offset + length > pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const out = Buffer.alloc(length);
  pool.copy(out, 0, offset, offset + length);
  pool.fill(0, offset, offset + length);
  offset += length;
  return out;
}

/** One byte from the same pool (ids draw a character at a time). */
export function freshRandomByte(): number {
  if (offset === pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const byte = pool[offset];
  pool[offset] = 0;
  offset += 1;
  return byte;
}
