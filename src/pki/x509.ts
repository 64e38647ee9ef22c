// @peculiar/x509 resolves its algorithms through tsyringe, which needs the Reflect metadata polyfill loaded first.
import "reflect-metadata";
import { createPublicKey, KeyObject, sign, webcrypto } from "node:crypto";
import { AlgorithmIdentifier } from "@peculiar/asn1-x509";
import * as x509 from "@peculiar/x509";
import { freshRandomBytes } from "../crypto/random.js";

// One provider for every @peculiar/x509 call: Node's own WebCrypto, no polyfill.
x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export type KeyType = "rsa" | "ec";
export interface KeySpec {
  type: KeyType;
  /** RSA modulus bits, or the EC curve size (256 → P-256, 384 → P-384). */
  bits: number;
}

const CURVES: Record<number, string> = { 256: "P-256", 384: "P-384" };
const CURVE_BITS: Record<string, number> = { "P-256": 256, "prime256v1": 256, "P-384": 384, "secp384r1": 384 };

function keyAlgorithm(spec: KeySpec): RsaHashedKeyGenParams | EcKeyGenParams {
  return spec.type === "rsa"
    ? { name: "RSASSA-PKCS1-v1_5", modulusLength: spec.bits, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" }
    : { name: "ECDSA", namedCurve: CURVES[spec.bits] };
}

/** The signature a key makes (contract P1): RSA with SHA-256, P-256 with SHA-256, P-384 with SHA-384. */
export function signingAlgorithm(spec: KeySpec): Algorithm | EcdsaParams {
  return spec.type === "rsa" ? { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } as Algorithm : { name: "ECDSA", hash: spec.bits === 384 ? "SHA-384" : "SHA-256" } as EcdsaParams;
}

/** The AlgorithmIdentifier of the signature `spec`'s key makes (the same as signingAlgorithm's). */
export function signatureAlgorithmIdentifier(spec: KeySpec): AlgorithmIdentifier {
  if (spec.type === "rsa") return new AlgorithmIdentifier({ algorithm: "1.2.840.113549.1.1.11", parameters: new Uint8Array([5, 0]).buffer });
  return new AlgorithmIdentifier({ algorithm: spec.bits === 384 ? "1.2.840.10045.4.3.3" : "1.2.840.10045.4.3.2" });
}

/** A CA key's signature over DER, encoded as X.509 wants it (not WebCrypto's raw r||s). */
export function signDer(key: CryptoKey, spec: KeySpec, tbs: Buffer): Buffer {
  const keyObject = KeyObject.from(key);
  if (spec.type === "rsa") return sign("sha256", tbs, keyObject);
  return sign(spec.bits === 384 ? "sha384" : "sha256", tbs, { key: keyObject, dsaEncoding: "der" });
}

/**
 * The same signature, made on libuv's threadpool (crypto.sign's callback form) instead of the
 * event loop: for work a request starts that holds no transaction open (an OCSP response, asked for
 * anonymously: RSA-4096 takes ~3.7 ms of the loop per signature).
 */
export function signDerOffLoop(key: CryptoKey, spec: KeySpec, tbs: Buffer): Promise<Buffer> {
  const keyObject = KeyObject.from(key);
  const hash = spec.type === "rsa" || spec.bits !== 384 ? "sha256" : "sha384";
  return new Promise((resolve, reject) => {
    const done = (error: Error | null, signature: Buffer) => (error ? reject(error) : resolve(signature));
    if (spec.type === "rsa") sign(hash, tbs, keyObject, done);
    else sign(hash, tbs, { key: keyObject, dsaEncoding: "der" }, done);
  });
}

export async function generateKeyPair(spec: KeySpec): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(keyAlgorithm(spec) as never, true, ["sign", "verify"])) as unknown as CryptoKeyPair;
}

export async function exportPkcs8(key: CryptoKey): Promise<Buffer> {
  return Buffer.from(await webcrypto.subtle.exportKey("pkcs8", key as never));
}

export async function importSigningKey(pkcs8: Buffer, spec: KeySpec): Promise<CryptoKey> {
  return (await webcrypto.subtle.importKey("pkcs8", pkcs8, keyAlgorithm(spec) as never, false, ["sign"])) as unknown as CryptoKey;
}

export function pkcs8Pem(der: Buffer): string {
  return x509.PemConverter.encode(new Uint8Array(der), "PRIVATE KEY");
}

/** 16 CSPRNG bytes, first byte 0x01–0x7f so DER keeps all 16 (no sign pad, no dropped zero). */
export function newSerial(): string {
  const bytes = freshRandomBytes(16);
  bytes[0] = (bytes[0] & 0x7f) || 0x01;
  return bytes.toString("hex");
}

/** The key type and size of a public key (SPKI DER), read by Node, or null for anything else. */
export function describePublicKey(spki: ArrayBuffer | Buffer): KeySpec | null {
  try {
    const key = createPublicKey({ key: Buffer.from(spki as ArrayBuffer), format: "der", type: "spki" });
    if (key.asymmetricKeyType === "rsa") return { type: "rsa", bits: key.asymmetricKeyDetails?.modulusLength ?? 0 };
    if (key.asymmetricKeyType === "ec") {
      const bits = CURVE_BITS[key.asymmetricKeyDetails?.namedCurve ?? ""];
      return bits ? { type: "ec", bits } : null;
    }
    return null;
  } catch {
    return null;
  }
}

export function cnName(commonName: string): x509.JsonName {
  return [{ CN: [commonName] }];
}

export interface CaCertParams {
  subjectCn: string;
  publicKey: CryptoKey;
  serial: string;
  notBefore: Date;
  notAfter: Date;
  /** The issuer: absent for a self-signed root. */
  issuer?: { certificate: x509.X509Certificate; key: CryptoKey; spec: KeySpec };
  selfKey?: CryptoKey;
  selfSpec: KeySpec;
}

/** A CA certificate: basicConstraints CA:true and keyCertSign+cRLSign, both critical; SKI/AKI. */
export async function createCaCertificate(p: CaCertParams): Promise<x509.X509Certificate> {
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(true, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
    await x509.SubjectKeyIdentifierExtension.create(p.publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(p.issuer ? p.issuer.certificate.publicKey : p.publicKey),
  ];
  return x509.X509CertificateGenerator.create({
    serialNumber: p.serial,
    subject: cnName(p.subjectCn),
    issuer: p.issuer ? p.issuer.certificate.subjectName : cnName(p.subjectCn),
    notBefore: p.notBefore,
    notAfter: p.notAfter,
    publicKey: p.publicKey,
    signingKey: p.issuer ? p.issuer.key : p.selfKey!,
    signingAlgorithm: signingAlgorithm(p.issuer ? p.issuer.spec : p.selfSpec),
    extensions,
  });
}

export interface LeafParams {
  commonName: string | null;
  dnsNames: string[];
  ipSans: string[];
  publicKey: x509.PublicKeyType;
  publicKeyType: KeyType;
  serial: string;
  notBefore: Date;
  notAfter: Date;
  serverAuth: boolean;
  clientAuth: boolean;
  issuer: { certificate: x509.X509Certificate; key: CryptoKey; spec: KeySpec };
  /** AIA and CRL distribution URLs, when BASE_URL is configured. */
  urls: { ocsp: string; caIssuers: string; crl: string } | null;
}

/** A leaf: CA:false, digitalSignature (+keyEncipherment for RSA), EKU per the role's flags. */
export async function createLeafCertificate(p: LeafParams): Promise<x509.X509Certificate> {
  const usage = x509.KeyUsageFlags.digitalSignature | (p.publicKeyType === "rsa" ? x509.KeyUsageFlags.keyEncipherment : 0);
  const eku: string[] = [];
  if (p.serverAuth) eku.push(x509.ExtendedKeyUsage.serverAuth);
  if (p.clientAuth) eku.push(x509.ExtendedKeyUsage.clientAuth);
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(usage, true),
    await x509.SubjectKeyIdentifierExtension.create(p.publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(p.issuer.certificate.publicKey),
  ];
  if (eku.length > 0) extensions.push(new x509.ExtendedKeyUsageExtension(eku));
  const sans = [...p.dnsNames.map((value) => ({ type: "dns" as const, value })), ...p.ipSans.map((value) => ({ type: "ip" as const, value }))];
  if (sans.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(sans));
  if (p.urls) {
    extensions.push(new x509.AuthorityInfoAccessExtension({ ocsp: p.urls.ocsp, caIssuers: p.urls.caIssuers }));
    extensions.push(new x509.CRLDistributionPointsExtension([p.urls.crl]));
  }
  return x509.X509CertificateGenerator.create({
    serialNumber: p.serial,
    subject: p.commonName ? cnName(p.commonName) : [],
    issuer: p.issuer.certificate.subjectName,
    notBefore: p.notBefore,
    notAfter: p.notAfter,
    publicKey: p.publicKey,
    signingKey: p.issuer.key,
    signingAlgorithm: signingAlgorithm(p.issuer.spec),
    extensions,
  });
}

export function parseCertificate(pem: string): x509.X509Certificate {
  return new x509.X509Certificate(pem);
}

export { x509 };
