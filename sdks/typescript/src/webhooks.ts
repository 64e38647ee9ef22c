import { createHmac, timingSafeEqual } from "node:crypto";

export type SignatureScheme = "body" | "timestamped";

export interface VerifyOptions {
  /** The raw request body, exactly as received (not re-serialised JSON). */
  payload: string | Uint8Array;
  /** The `X-ScaiVault-Signature` header. */
  signature: string | null | undefined;
  /** The signing secret exactly as configured (e.g. `whsec_…`); its UTF-8 bytes are the key. */
  secret: string;
  /** The `X-ScaiVault-Timestamp` header; required by the `timestamped` scheme. */
  timestamp?: string | number | null;
  /** Default: `timestamped` when the signature starts with `sha256=`, else `body`. */
  scheme?: SignatureScheme;
  /** Largest accepted clock difference for `timestamped`, in seconds (default 300). */
  tolerance?: number;
  /** For tests: the current Unix time in seconds. */
  now?: number;
}

function hmacHex(secret: string, parts: (string | Uint8Array)[]): string {
  const mac = createHmac("sha256", Buffer.from(secret, "utf8"));
  for (const part of parts) mac.update(part);
  return mac.digest("hex");
}

function equalHex(a: string, b: string): boolean {
  const left = Buffer.from(a.toLowerCase(), "utf8");
  const right = Buffer.from(b, "utf8");
  return left.length === right.length && timingSafeEqual(left, right);
}

/**
 * Checks a delivery's signature under either scheme: `body` (`hex(HMAC-SHA256(secret, body))`, the
 * seed's) or `timestamped` (`sha256=hex(HMAC-SHA256(secret, "{ts}." + body))`, within `tolerance`).
 */
export function verifyWebhookSignature(options: VerifyOptions): boolean {
  const signature = (options.signature ?? "").trim();
  if (!signature || !options.secret) return false;
  const scheme = options.scheme ?? (signature.startsWith("sha256=") ? "timestamped" : "body");
  if (scheme === "body") return equalHex(signature, hmacHex(options.secret, [options.payload]));
  if (!signature.startsWith("sha256=")) return false;
  const ts = String(options.timestamp ?? "").trim();
  if (!/^\d{1,12}$/.test(ts)) return false;
  const now = options.now ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - Number(ts)) > (options.tolerance ?? 300)) return false;
  return equalHex(signature.slice("sha256=".length), hmacHex(options.secret, [`${ts}.`, options.payload]));
}
