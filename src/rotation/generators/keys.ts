import { generateKeyPair as generateKeyPairCb, randomBytes, type KeyObject } from "node:crypto";
import { promisify } from "node:util";

const generateKeyPair = promisify(generateKeyPairCb);

export interface KeyPairText {
  privateKey: string;
  publicKey: string;
}

/** PKCS#8 private and SPKI public keys, PEM; generated off the event loop. */
export async function rsaPem(bits: number): Promise<KeyPairText> {
  const { privateKey, publicKey } = await generateKeyPair("rsa", { modulusLength: bits, publicExponent: 0x10001 });
  return pem(privateKey, publicKey);
}

export async function ecPem(curve: "P-256" | "P-384"): Promise<KeyPairText> {
  const { privateKey, publicKey } = await generateKeyPair("ec", { namedCurve: curve === "P-256" ? "prime256v1" : "secp384r1" });
  return pem(privateKey, publicKey);
}

function pem(privateKey: KeyObject, publicKey: KeyObject): KeyPairText {
  return {
    privateKey: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    publicKey: publicKey.export({ type: "spki", format: "pem" }).toString(),
  };
}

// --- OpenSSH wire format (RFC 4251 strings and mpints; PROTOCOL.key for the private key file) ---

function sshString(data: Buffer | string): Buffer {
  const body = typeof data === "string" ? Buffer.from(data, "utf8") : data;
  const length = Buffer.alloc(4);
  length.writeUInt32BE(body.length);
  return Buffer.concat([length, body]);
}

/** A positive big-endian integer: leading zeros dropped, one zero byte added if the top bit is set. */
function sshMpint(unsigned: Buffer): Buffer {
  let start = 0;
  while (start < unsigned.length - 1 && unsigned[start] === 0) start++;
  let body = unsigned.subarray(start);
  if (body[0] & 0x80) body = Buffer.concat([Buffer.from([0]), body]);
  return sshString(body);
}

function uint32(value: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(value);
  return out;
}

const b64u = (text: string | undefined) => Buffer.from(text ?? "", "base64url");

/** An unencrypted `openssh-key-v1` private key and the matching `authorized_keys` line. */
export async function sshKeyPair(keyType: "ed25519" | "rsa", comment: string, rsaBits: number): Promise<KeyPairText> {
  let algorithm: string;
  let publicBlob: Buffer;
  let privateFields: Buffer;
  if (keyType === "ed25519") {
    const { privateKey } = await generateKeyPair("ed25519");
    const jwk = privateKey.export({ format: "jwk" });
    const pub = b64u(jwk.x);
    const seed = b64u(jwk.d);
    algorithm = "ssh-ed25519";
    publicBlob = Buffer.concat([sshString(algorithm), sshString(pub)]);
    privateFields = Buffer.concat([sshString(pub), sshString(Buffer.concat([seed, pub]))]);
  } else {
    const { privateKey } = await generateKeyPair("rsa", { modulusLength: rsaBits, publicExponent: 0x10001 });
    const jwk = privateKey.export({ format: "jwk" });
    algorithm = "ssh-rsa";
    publicBlob = Buffer.concat([sshString(algorithm), sshMpint(b64u(jwk.e)), sshMpint(b64u(jwk.n))]);
    privateFields = Buffer.concat([jwk.n, jwk.e, jwk.d, jwk.qi, jwk.p, jwk.q].map((part) => sshMpint(b64u(part))));
  }
  const check = randomBytes(4);
  let section = Buffer.concat([check, check, sshString(algorithm), privateFields, sshString(comment)]);
  const padding = Buffer.from(Array.from({ length: (8 - (section.length % 8)) % 8 }, (_, i) => i + 1));
  section = Buffer.concat([section, padding]);
  const file = Buffer.concat([
    Buffer.from("openssh-key-v1\0", "latin1"),
    sshString("none"),
    sshString("none"),
    sshString(""),
    uint32(1),
    sshString(publicBlob),
    sshString(section),
  ]);
  const body = file.toString("base64").replace(/.{1,70}/g, "$&\n");
  return {
    privateKey: `-----BEGIN OPENSSH PRIVATE KEY-----\n${body}-----END OPENSSH PRIVATE KEY-----\n`,
    publicKey: `${algorithm} ${publicBlob.toString("base64")}${comment ? ` ${comment}` : ""}`,
  };
}
