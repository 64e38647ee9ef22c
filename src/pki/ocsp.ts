import { createHash } from "node:crypto";
import {
  BasicOCSPResponse, CertStatus, id_pkix_ocsp_basic, id_pkix_ocsp_nonce, KeyHash, OCSPRequest, OCSPResponse, OCSPResponseStatus, ResponderID, ResponseBytes,
  ResponseData, RevokedInfo, SingleResponse, type CertID,
} from "@peculiar/asn1-ocsp";
import { AsnConvert, OctetString } from "@peculiar/asn1-schema";
import { Certificate, CRLReason, Extension } from "@peculiar/asn1-x509";
import type { Signer } from "./ca-service.js";
import { REVOCATION_REASONS } from "./common.js";
import { readElement, TAG_SEQUENCE, type DerElement } from "./der.js";
import type { PkiStore, Revocation } from "./store.js";
import { signatureAlgorithmIdentifier, signDerOffLoop } from "./x509.js";

const HASHES: Record<string, string> = { "1.3.14.3.2.26": "sha1", "2.16.840.1.101.3.4.2.1": "sha256", "2.16.840.1.101.3.4.2.2": "sha384", "2.16.840.1.101.3.4.2.3": "sha512" };
const NEXT_UPDATE_MS = 3_600_000;

export type OcspStatus = "good" | "revoked" | "unknown";

function failure(status: OCSPResponseStatus): Buffer {
  return Buffer.from(AsnConvert.serialize(new OCSPResponse({ responseStatus: status })));
}

function hex(bytes: ArrayBuffer): string {
  return Buffer.from(bytes).toString("hex").replace(/^(00)+(?=.)/, "");
}

/** Requests one response may answer; a request naming more gets `malformedRequest`. */
export const MAX_OCSP_REQUESTS = 100;

/**
 * How many requests an OCSPRequest's requestList holds, read from the DER's element headers alone
 * (tbsRequest's optional [0] version and [1] requestorName skipped); null when the shape is not
 * that. The full parse costs ~70 µs a request, so an anonymous body of a thousand was parsed whole
 * before being refused for its count.
 */
export function ocspRequestCount(der: Buffer): number | null {
  // An element must end within its parent; readElement checks only the buffer's end.
  const inside = (at: number, parentEnd: number): DerElement => {
    const found = readElement(der, at);
    if (!(found.end <= parentEnd)) throw new Error("DER element runs past its parent");
    return found;
  };
  try {
    const outer = inside(0, der.length);
    const tbs = outer.tag === TAG_SEQUENCE ? inside(outer.contentStart, outer.end) : null;
    if (!tbs || tbs.tag !== TAG_SEQUENCE) return null;
    let list = inside(tbs.contentStart, tbs.end);
    while (list.tag === 0xa0 || list.tag === 0xa1) list = inside(list.end, tbs.end);
    if (list.tag !== TAG_SEQUENCE) return null;
    let count = 0;
    // Past the limit the count is enough to refuse: the rest is not read.
    for (let at = list.contentStart; at < list.end && count <= MAX_OCSP_REQUESTS; count++) at = inside(at, list.end).end;
    return count;
  } catch {
    return null;
  }
}

/**
 * RFC 6960 responder for one CA, signed by the CA's own key: `good`, `revoked` (time, reason) or
 * `unknown` per requested serial; the request's nonce is echoed. A request that does not parse gets
 * `malformedRequest`, as the RFC says, never an error page.
 */
export class OcspResponder {
  constructor(private readonly store: PkiStore) {}

  async respond(signer: Signer, der: Buffer, onStatus?: (serial: string, status: OcspStatus) => void): Promise<Buffer> {
    const count = ocspRequestCount(der);
    if (count === null || count === 0 || count > MAX_OCSP_REQUESTS) return failure(OCSPResponseStatus.malformedRequest);
    let request: OCSPRequest;
    try {
      request = AsnConvert.parse(der, OCSPRequest);
    } catch {
      return failure(OCSPResponseStatus.malformedRequest);
    }
    if (request.tbsRequest.requestList.length === 0 || request.tbsRequest.requestList.length > MAX_OCSP_REQUESTS) return failure(OCSPResponseStatus.malformedRequest);
    const caCert = AsnConvert.parse(Buffer.from(signer.certificate.rawData), Certificate);
    const issuer = new IssuerHashes(Buffer.from(AsnConvert.serialize(caCert.tbsCertificate.subject)), Buffer.from(caCert.tbsCertificate.subjectPublicKeyInfo.subjectPublicKey));
    const now = new Date(Math.floor(Date.now() / 1000) * 1000);
    const asked = request.tbsRequest.requestList.map((item) => ({ certID: item.reqCert, serial: hex(item.reqCert.serialNumber), ours: issuer.issued(item.reqCert) }));
    const found = await this.store.revocationsBySerial(signer.ca.id, [...new Set(asked.filter((a) => a.ours).map((a) => a.serial))]);
    const responses: SingleResponse[] = [];
    for (const { certID, serial, ours } of asked) {
      const status = statusOf(ours ? found.get(serial) : undefined);
      onStatus?.(serial, status.kind);
      responses.push(new SingleResponse({ certID, certStatus: status.value, thisUpdate: now, nextUpdate: new Date(now.getTime() + NEXT_UPDATE_MS) }));
    }
    const nonce = request.tbsRequest.requestExtensions?.find((e) => e.extnID === id_pkix_ocsp_nonce);
    const data = new ResponseData({
      responderID: new ResponderID({ byKey: new KeyHash(issuer.of("sha1").key) }),
      producedAt: now,
      responses,
      responseExtensions: nonce ? [new Extension({ extnID: id_pkix_ocsp_nonce, critical: false, extnValue: nonce.extnValue })] : undefined,
    });
    const tbs = Buffer.from(AsnConvert.serialize(data));
    const signature = new Uint8Array(await signDerOffLoop(signer.key, signer.spec, tbs)).buffer;
    const basic = new BasicOCSPResponse({ tbsResponseData: data, signatureAlgorithm: signatureAlgorithmIdentifier(signer.spec), signature });
    const bytes = new ResponseBytes({ responseType: id_pkix_ocsp_basic, response: new OctetString(AsnConvert.serialize(basic)) });
    return Buffer.from(AsnConvert.serialize(new OCSPResponse({ responseStatus: OCSPResponseStatus.successful, responseBytes: bytes })));
  }
}

/** A requested certificate's status: unknown when the CA did not issue it (or the request named another issuer). */
function statusOf(found: Revocation | undefined): { kind: OcspStatus; value: CertStatus } {
  if (!found) return { kind: "unknown", value: new CertStatus({ unknown: null }) };
  if (found.revoked_at === null) return { kind: "good", value: new CertStatus({ good: null }) };
  const reason = REVOCATION_REASONS[found.revocation_reason ?? "unspecified"] ?? 0;
  return { kind: "revoked", value: new CertStatus({ revoked: new RevokedInfo({ revocationTime: new Date(found.revoked_at), revocationReason: reason === 0 ? undefined : new CRLReason(reason) }) }) };
}

/** The CA's name and key hashed once per algorithm a request names, not once per requested serial. */
class IssuerHashes {
  private readonly byHash = new Map<string, { name: Buffer; key: Buffer }>();
  constructor(private readonly name: Buffer, private readonly key: Buffer) {}
  of(hash: string): { name: Buffer; key: Buffer } {
    let digests = this.byHash.get(hash);
    if (!digests) {
      digests = { name: createHash(hash).update(this.name).digest(), key: createHash(hash).update(this.key).digest() };
      this.byHash.set(hash, digests);
    }
    return digests;
  }

  /** The CertID names this CA as its issuer, by a hash algorithm the responder knows. */
  issued(id: CertID): boolean {
    const hash = HASHES[id.hashAlgorithm.algorithm];
    if (!hash) return false;
    const digests = this.of(hash);
    return digests.name.equals(Buffer.from(id.issuerNameHash.buffer)) && digests.key.equals(Buffer.from(id.issuerKeyHash.buffer));
  }
}
