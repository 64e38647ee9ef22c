import { createCipheriv, createDecipheriv, createHash } from "node:crypto";
import { freshRandomBytes } from "./random.js";

const FORMAT_V1 = 0x01;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class DecryptionError extends Error {
  constructor() {
    super("ciphertext failed authentication");
    this.name = "DecryptionError";
  }
}

/** AES-256-GCM: `[format][iv][tag][ciphertext]`, bound to `aad`. */
export function seal(key: Buffer, plaintext: Buffer, aad: string): Buffer {
  const iv = freshRandomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(Buffer.from(aad, "utf8"));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([Buffer.of(FORMAT_V1), iv, cipher.getAuthTag(), body]);
}

export function open(key: Buffer, sealed: Buffer, aad: string): Buffer {
  if (sealed.length < 1 + IV_BYTES + TAG_BYTES || sealed[0] !== FORMAT_V1) throw new DecryptionError();
  const iv = sealed.subarray(1, 1 + IV_BYTES);
  const tag = sealed.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES);
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, iv);
    decipher.setAAD(Buffer.from(aad, "utf8"));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(sealed.subarray(1 + IV_BYTES + TAG_BYTES)), decipher.final()]);
  } catch {
    throw new DecryptionError();
  }
}

/** A short public fingerprint of a key, used as its id on every wrap. */
export function keyFingerprint(key: Buffer): string {
  return createHash("sha256").update("scaivault key id").update(key).digest("hex").slice(0, 16);
}
