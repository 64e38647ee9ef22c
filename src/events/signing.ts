import { createHmac, randomBytes } from "node:crypto";
import { open, seal } from "../crypto/aead.js";
import type { Keyring } from "../crypto/keyring.js";
import type { Queryable } from "../storage/contract.js";

export const SIGNATURE_SCHEMES = ["body", "timestamped"] as const;
export type SignatureScheme = (typeof SIGNATURE_SCHEMES)[number];

export function hmacHex(secret: string, payload: string): string {
  return createHmac("sha256", Buffer.from(secret, "utf8")).update(payload, "utf8").digest("hex");
}

/**
 * The signature header value for one attempt. `body`: hex HMAC of the raw body (the seed's
 * handler check); `timestamped`: `sha256=` + hex HMAC of "{timestamp}.{raw body}" (the docs').
 */
export function signatureFor(scheme: SignatureScheme, secret: string, timestamp: number, body: string): string {
  return scheme === "body" ? hmacHex(secret, body) : `sha256=${hmacHex(secret, `${timestamp}.${body}`)}`;
}

export function generateSigningSecret(): string {
  return `whsec_${randomBytes(32).toString("base64url")}`;
}

const aad = (ownerId: string, slot: string) => `scaivault:v1|signing-secret|${ownerId}|${slot}`;

/**
 * Signing secrets are kept sealed (AES-256-GCM) under a vault-held system key and bound to the
 * webhook or subscription they belong to, so a database copy reveals none and a sealed value moved
 * to another row does not open.
 */
export class SigningSecrets {
  constructor(private readonly keyring: Keyring) {}

  async seal(ownerId: string, slot: "current" | "previous", secret: string, tx?: Queryable): Promise<Buffer> {
    return seal(await this.keyring.systemKey("event-signing", tx), Buffer.from(secret, "utf8"), aad(ownerId, slot));
  }

  async open(ownerId: string, slot: "current" | "previous", sealed: Buffer, tx?: Queryable): Promise<string> {
    return open(await this.keyring.systemKey("event-signing", tx), Buffer.from(sealed), aad(ownerId, slot)).toString("utf8");
  }
}
