import { AsnConvert, OctetString } from "@peculiar/asn1-schema";
import { Certificate, CRLNumber, Extension, Extensions, id_ce_cRLNumber, TBSCertList, Time, Version } from "@peculiar/asn1-x509";
import type { Signer } from "./ca-service.js";
import { REVOCATION_REASONS } from "./common.js";
import { childrenOf, headerSize, positiveIntegerHex, readElement, TAG_BIT_STRING, TAG_ENUMERATED, TAG_INTEGER, TAG_OCTET_STRING, TAG_SEQUENCE, tlv, writeHeader, x509Time } from "./der.js";
import type { RevokedSerial } from "./store.js";
import { signatureAlgorithmIdentifier, signDer, x509 } from "./x509.js";

// id-ce-cRLReasons (2.5.29.21), as a DER OBJECT IDENTIFIER.
const CRL_REASON_OID = Buffer.from([0x06, 0x03, 0x55, 0x1d, 0x15]);
// An entry's extensions holding only its reason code, by code; unspecified (0) has none.
const REASON_EXTENSIONS: (Buffer | undefined)[] = Array.from({ length: 11 }, (_, code) =>
  code === 0 ? undefined : tlv(TAG_SEQUENCE, tlv(TAG_SEQUENCE, CRL_REASON_OID, tlv(TAG_OCTET_STRING, tlv(TAG_ENUMERATED, Buffer.from([code]))))));
const EXTENSIONS_TAG = 0xa0;

/** What every CRL of a CA says of its issuer: the signature algorithm, the issuer's name, its key identifier. */
export interface CrlIssuer {
  algorithm: ReturnType<typeof signatureAlgorithmIdentifier>;
  issuer: Certificate["tbsCertificate"]["subject"];
  authorityKeyId: Extension;
}

/**
 * Computed before the transaction that numbers a CRL: the key identifier is a WebCrypto digest,
 * a real wait (the thread pool), and a SQLite write transaction must not span one (every other
 * writer on the file waits for it; a second node in the same process waited synchronously, holding
 * up the very loop the first needed to commit).
 */
export async function crlIssuer(signer: Signer): Promise<CrlIssuer> {
  const authorityKeyId = await x509.AuthorityKeyIdentifierExtension.create(signer.certificate.publicKey);
  return {
    algorithm: signatureAlgorithmIdentifier(signer.spec),
    issuer: AsnConvert.parse(Buffer.from(signer.certificate.rawData), Certificate).tbsCertificate.subject,
    authorityKeyId: AsnConvert.parse(authorityKeyId.rawData, Extension),
  };
}

/**
 * The signed CertificateList, without waiting on anything. Its fixed part (version, algorithm,
 * issuer, dates, extensions) is encoded by @peculiar's schema; the revoked list, the only part that
 * grows, is written in one pass (der.ts) and placed where X.509 puts it, before the extensions.
 */
export function encodeCrl(signer: Signer, { algorithm, issuer, authorityKeyId }: CrlIssuer, crlNumber: number, thisUpdate: number, nextUpdate: number, revoked: readonly RevokedSerial[]): Buffer {
  const fixed = new TBSCertList({
    version: Version.v2,
    signature: algorithm,
    issuer,
    thisUpdate: new Time(new Date(thisUpdate)),
    nextUpdate: new Time(new Date(nextUpdate)),
    crlExtensions: new Extensions([
      authorityKeyId,
      new Extension({ extnID: id_ce_cRLNumber, critical: false, extnValue: new OctetString(AsnConvert.serialize(new CRLNumber(crlNumber))) }),
    ]),
  });
  const tbs = withRevokedList(Buffer.from(AsnConvert.serialize(fixed)), revokedCertificates(revoked));
  const signature = signDer(signer.key, signer.spec, tbs);
  return tlv(TAG_SEQUENCE, tbs, Buffer.from(AsnConvert.serialize(algorithm)), tlv(TAG_BIT_STRING, Buffer.from([0]), signature));
}

/**
 * revokedCertificates: per serial its date and, unless unspecified, its reason; absent when empty
 * (RFC 5280 §5.1.2.6). Sized first, then written into one buffer: a Buffer per piece took four
 * times as long at 100,000 entries (docs/benchmarks.md round 23).
 */
export function revokedCertificates(revoked: readonly RevokedSerial[]): Buffer | null {
  // Parallel arrays rather than an object per entry: at 100,000 entries the collector's share was a third.
  const serials: string[] = [];
  const times: Buffer[] = [];
  const reasons: (Buffer | undefined)[] = [];
  const lengths: number[] = [];
  const listed = new Set<string>();
  const timeOfSecond = new Map<number, Buffer>();
  let total = 0;
  for (const entry of revoked) {
    const serial = positiveIntegerHex(entry.serial_number.toLowerCase());
    if (listed.has(serial)) continue;
    listed.add(serial);
    const second = Math.floor(Number(entry.revoked_at) / 1000);
    let time = timeOfSecond.get(second);
    if (!time) timeOfSecond.set(second, (time = x509Time(second * 1000)));
    const reason = REASON_EXTENSIONS[REVOCATION_REASONS[entry.revocation_reason ?? "unspecified"] ?? 0];
    const length = headerSize(serial.length / 2) + serial.length / 2 + time.length + (reason?.length ?? 0);
    serials.push(serial);
    times.push(time);
    reasons.push(reason);
    lengths.push(length);
    total += headerSize(length) + length;
  }
  if (serials.length === 0) return null;
  const out = Buffer.allocUnsafe(headerSize(total) + total);
  let at = writeHeader(out, 0, TAG_SEQUENCE, total);
  for (let i = 0; i < serials.length; i++) {
    at = writeHeader(out, at, TAG_SEQUENCE, lengths[i]);
    at = writeHeader(out, at, TAG_INTEGER, serials[i].length / 2);
    at += out.write(serials[i], at, "hex");
    at += times[i].copy(out, at);
    const reason = reasons[i];
    if (reason) at += reason.copy(out, at);
  }
  return out;
}

/** A TBSCertList encoded without a revoked list, with `list` inserted before its [0] extensions. */
function withRevokedList(tbs: Buffer, list: Buffer | null): Buffer {
  if (!list) return tbs;
  const outer = readElement(tbs, 0);
  const extensions = childrenOf(tbs, outer).find((child) => child.tag === EXTENSIONS_TAG);
  const at = extensions ? extensions.start : outer.end;
  return tlv(TAG_SEQUENCE, tbs.subarray(outer.contentStart, at), list, tbs.subarray(at, outer.end));
}
