import { createPublicKey, randomBytes, type KeyObject } from "node:crypto";
import { validationError } from "../../http/errors.js";
import { caSign, publicBlob } from "./ca.js";
import { Reader, str, u32, u64 } from "./wire.js";

const CERT_TYPES: Record<string, string> = {
  "ssh-ed25519": "ssh-ed25519-cert-v01@openssh.com",
  "ecdsa-sha2-nistp256": "ecdsa-sha2-nistp256-cert-v01@openssh.com",
  "ecdsa-sha2-nistp384": "ecdsa-sha2-nistp384-cert-v01@openssh.com",
  "ecdsa-sha2-nistp521": "ecdsa-sha2-nistp521-cert-v01@openssh.com",
  "ssh-rsa": "ssh-rsa-cert-v01@openssh.com",
};

/** Parses `ssh-ed25519 AAAA… comment`: the key's algorithm and the wire fields after its name. 422 when malformed. */
export function parsePublicKey(text: string): { algorithm: string; fields: Buffer } {
  const bad = () => validationError({ public_key: "must be an OpenSSH public key (ssh-ed25519, ecdsa-sha2-nistp256/384/521 or ssh-rsa)" });
  const parts = typeof text === "string" ? text.trim().split(/\s+/) : [];
  if (parts.length < 2 || !CERT_TYPES[parts[0]] || !/^[A-Za-z0-9+/]+={0,2}$/.test(parts[1])) throw bad();
  const blob = Buffer.from(parts[1], "base64");
  try {
    const reader = new Reader(blob);
    if (reader.string().toString() !== parts[0]) throw bad();
    const fields = reader.rest();
    // Each key kind has a fixed list of strings after its name; check they parse and nothing trails.
    const check = new Reader(fields);
    const count = parts[0] === "ssh-ed25519" ? 1 : 2;
    for (let i = 0; i < count; i++) check.string();
    if (!check.done) throw bad();
    if (parts[0] === "ssh-ed25519" && new Reader(fields).string().length !== 32) throw bad();
    // Node parses the key too: an RSA key below 2048 bits is refused.
    if (parts[0] === "ssh-rsa") {
      const r = new Reader(fields);
      r.string();
      const n = r.string();
      if ((n.length - (n[0] === 0 ? 1 : 0)) * 8 < 2048) throw validationError({ public_key: "RSA keys must have at least 2048 bits" });
    }
    return { algorithm: parts[0], fields };
  } catch (error) {
    if ((error as { code?: string }).code === "validation_error") throw error;
    throw bad();
  }
}

export interface CertRequest {
  publicKey: { algorithm: string; fields: Buffer };
  serial: bigint;
  keyId: string;
  principals: string[];
  validAfter: number;
  validBefore: number;
  extensions: Record<string, string>;
}

/** An OpenSSH user certificate (PROTOCOL.certkeys), signed by the CA, in `authorized_keys` form. */
export function signUserCertificate(ca: KeyObject, req: CertRequest): string {
  const certType = CERT_TYPES[req.publicKey.algorithm];
  const principals = Buffer.concat(req.principals.map((p) => str(p)));
  // Extensions are sorted by name; flag extensions carry an empty string as their data.
  const extensions = Buffer.concat(Object.keys(req.extensions).sort().map((name) => Buffer.concat([str(name), str(req.extensions[name] === "" ? Buffer.alloc(0) : str(req.extensions[name]))])));
  const caBlob = publicBlob(createPublicKey(ca)).blob;
  const body = Buffer.concat([
    str(certType),
    str(randomBytes(32)),
    req.publicKey.fields,
    u64(req.serial),
    u32(1), // SSH_CERT_TYPE_USER
    str(req.keyId),
    str(principals),
    u64(BigInt(Math.floor(req.validAfter / 1000))),
    u64(BigInt(Math.floor(req.validBefore / 1000))),
    str(Buffer.alloc(0)), // critical options: none
    str(extensions),
    str(Buffer.alloc(0)), // reserved
    str(caBlob),
  ]);
  const signed = Buffer.concat([body, str(caSign(ca, body))]);
  return `${certType} ${signed.toString("base64")} ${req.keyId}`;
}
