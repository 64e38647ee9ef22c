import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from "node:crypto";
import { isoMicros } from "../shared/time.js";

/** What a checkpoint asserts: the chain had `entries` entries, the last one hashing to `head_hash`. */
export interface CheckpointClaim {
  chain: string;
  entries: number;
  head_hash: string;
  /** Epoch milliseconds; signed as the RFC 3339 text the API shows. */
  timestamp: number;
}

// PKCS#8 DER header of an Ed25519 private key; the 32-byte seed follows.
const ED25519_PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

/**
 * The exact bytes signed: the JSON of `{chain, entries, head_hash, timestamp}` in that key order,
 * `timestamp` as shown by the API. Anyone holding the public key can check a copy kept elsewhere.
 */
export function signedMessage(claim: CheckpointClaim): Buffer {
  return Buffer.from(JSON.stringify({ chain: claim.chain, entries: claim.entries, head_hash: claim.head_hash, timestamp: isoMicros(claim.timestamp) }), "utf8");
}

/**
 * Ed25519 over checkpoints. The private key is the 32-byte seed of a keyring system key (random,
 * made once, stored wrapped under the root key), so every node derives the same key pair and no
 * private key ever exists unwrapped on disk.
 */
export class CheckpointSigner {
  private readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** First 16 hex digits of SHA-256 over the raw public key. */
  readonly keyId: string;
  readonly publicKeyPem: string;

  constructor(seed: Buffer) {
    if (seed.length !== 32) throw new Error("an Ed25519 seed is 32 bytes");
    this.privateKey = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]), format: "der", type: "pkcs8" });
    this.publicKey = createPublicKey(this.privateKey);
    const raw = (this.publicKey.export({ format: "der", type: "spki" }) as Buffer).subarray(-32);
    this.keyId = createHash("sha256").update(raw).digest("hex").slice(0, 16);
    this.publicKeyPem = this.publicKey.export({ format: "pem", type: "spki" }).toString();
  }

  sign(claim: CheckpointClaim): string {
    return sign(null, signedMessage(claim), this.privateKey).toString("base64");
  }

  verify(claim: CheckpointClaim, signature: string): boolean {
    try {
      return verify(null, signedMessage(claim), this.publicKey, Buffer.from(signature, "base64"));
    } catch {
      return false;
    }
  }

  publicKeyView() {
    return { algorithm: "Ed25519", key_id: this.keyId, pem: this.publicKeyPem };
  }
}
