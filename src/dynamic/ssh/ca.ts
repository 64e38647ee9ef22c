import { createPrivateKey, generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import type { Keyring } from "../../crypto/keyring.js";
import type { Queryable } from "../../storage/contract.js";
import type { EngineRow } from "../store.js";
import { mpint, str } from "./wire.js";

export type CaKeyType = "ed25519" | "ecdsa" | "rsa";

const b64u = (s: string) => Buffer.from(s, "base64url");

/** The OpenSSH public key blob of a key (ssh-ed25519, ecdsa-sha2-nistp256, ssh-rsa). */
export function publicBlob(key: KeyObject): { algorithm: string; blob: Buffer } {
  const jwk = key.export({ format: "jwk" }) as { kty: string; crv?: string; x?: string; y?: string; n?: string; e?: string };
  if (jwk.kty === "OKP" && jwk.crv === "Ed25519") return { algorithm: "ssh-ed25519", blob: Buffer.concat([str("ssh-ed25519"), str(b64u(jwk.x as string))]) };
  if (jwk.kty === "EC" && jwk.crv === "P-256") {
    const point = Buffer.concat([Buffer.from([4]), b64u(jwk.x as string), b64u(jwk.y as string)]);
    return { algorithm: "ecdsa-sha2-nistp256", blob: Buffer.concat([str("ecdsa-sha2-nistp256"), str("nistp256"), str(point)]) };
  }
  if (jwk.kty === "RSA") return { algorithm: "ssh-rsa", blob: Buffer.concat([str("ssh-rsa"), mpint(b64u(jwk.e as string)), mpint(b64u(jwk.n as string))]) };
  throw new Error("unsupported key type");
}

/** A new CA key pair: the public key in OpenSSH form, the private key as PKCS#8 DER (to be sealed, then wiped). */
export function generateCa(keyType: CaKeyType): { publicKey: string; privateKeyDer: Buffer } {
  const pair =
    keyType === "ed25519" ? generateKeyPairSync("ed25519") : keyType === "ecdsa" ? generateKeyPairSync("ec", { namedCurve: "P-256" }) : generateKeyPairSync("rsa", { modulusLength: 3072 });
  const { algorithm, blob } = publicBlob(pair.publicKey);
  return { publicKey: `${algorithm} ${blob.toString("base64")} scaivault-ssh-ca`, privateKeyDer: pair.privateKey.export({ format: "der", type: "pkcs8" }) };
}

/** The CA's signature over `data` as an SSH signature blob. */
export function caSign(privateKey: KeyObject, data: Buffer): Buffer {
  const type = privateKey.asymmetricKeyType;
  if (type === "ed25519") return Buffer.concat([str("ssh-ed25519"), str(sign(null, data, privateKey))]);
  if (type === "ec") {
    const der = sign("sha256", data, { key: privateKey, dsaEncoding: "ieee-p1363" });
    return Buffer.concat([str("ecdsa-sha2-nistp256"), str(Buffer.concat([mpint(der.subarray(0, 32)), mpint(der.subarray(32))]))]);
  }
  return Buffer.concat([str("rsa-sha2-512"), str(sign("sha512", data, privateKey))]);
}

/** Where a CA key is sealed: bound to its tenant and engine id, under the reserved `sys` segment. */
const caAddress = (row: Pick<EngineRow, "tenant_id" | "id">) => ({ tenantId: row.tenant_id, path: `sys/dynamic/${row.id}/ssh-ca`, version: 1 });

export async function sealCa(keyring: Keyring, row: EngineRow, pem: Buffer, tx: Queryable) {
  await keyring.ensureTenantKey(row.tenant_id, row.partner_id, tx);
  const sealed = await keyring.encryptSecret(caAddress(row), pem, tx);
  return { ca_key_sealed: sealed.ciphertext, ca_key_wrapped: sealed.wrappedDataKey, ca_key_id: sealed.tenantKeyId };
}

export async function openCa(keyring: Keyring, row: EngineRow): Promise<KeyObject> {
  if (!row.ca_key_sealed || !row.ca_key_wrapped || !row.ca_key_id) throw new Error("engine has no CA key");
  const pem = await keyring.decryptSecret(caAddress(row), { ciphertext: Buffer.from(row.ca_key_sealed), wrappedDataKey: Buffer.from(row.ca_key_wrapped), tenantKeyId: row.ca_key_id });
  try {
    return createPrivateKey({ key: pem, format: "der", type: "pkcs8" });
  } finally {
    pem.fill(0);
  }
}
