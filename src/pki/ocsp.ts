import { createHash } from "node:crypto";
import {
  BasicOCSPResponse, CertStatus, id_pkix_ocsp_basic, id_pkix_ocsp_nonce, KeyHash, OCSPRequest, OCSPResponse, OCSPResponseStatus, ResponderID, ResponseBytes,
  ResponseData, RevokedInfo, SingleResponse, type CertID,
} from "@peculiar/asn1-ocsp";
import { AsnConvert, OctetString } from "@peculiar/asn1-schema";
import { Certificate, CRLReason, Extension } from "@peculiar/asn1-x509";
import type { Signer } from "./ca-service.js";
import { REVOCATION_REASONS } from "./common.js";
import type { PkiStore } from "./store.js";
import { signatureAlgorithmIdentifier, signDer } from "./x509.js";

const HASHES: Record<string, string> = { "1.3.14.3.2.26": "sha1", "2.16.840.1.101.3.4.2.1": "sha256", "2.16.840.1.101.3.4.2.2": "sha384", "2.16.840.1.101.3.4.2.3": "sha512" };
const NEXT_UPDATE_MS = 3_600_000;

export type OcspStatus = "good" | "revoked" | "unknown";

function failure(status: OCSPResponseStatus): Buffer {
  return Buffer.from(AsnConvert.serialize(new OCSPResponse({ responseStatus: status })));
}

function hex(bytes: ArrayBuffer): string {
  return Buffer.from(bytes).toString("hex").replace(/^(00)+(?=.)/, "");
}

/**
 * RFC 6960 responder for one CA, signed by the CA's own key: `good`, `revoked` (time, reason) or
 * `unknown` per requested serial; the request's nonce is echoed. A request that does not parse gets
 * `malformedRequest`, as the RFC says, never an error page.
 */
export class OcspResponder {
  constructor(private readonly store: PkiStore) {}

  async respond(signer: Signer, der: Buffer, onStatus?: (serial: string, status: OcspStatus) => void): Promise<Buffer> {
    let request: OCSPRequest;
    try {
      request = AsnConvert.parse(der, OCSPRequest);
    } catch {
      return failure(OCSPResponseStatus.malformedRequest);
    }
    if (request.tbsRequest.requestList.length === 0 || request.tbsRequest.requestList.length > 100) return failure(OCSPResponseStatus.malformedRequest);
    const caCert = AsnConvert.parse(Buffer.from(signer.certificate.rawData), Certificate);
    const issuerName = Buffer.from(AsnConvert.serialize(caCert.tbsCertificate.subject));
    const issuerKey = Buffer.from(caCert.tbsCertificate.subjectPublicKeyInfo.subjectPublicKey);
    const now = new Date(Math.floor(Date.now() / 1000) * 1000);
    const responses: SingleResponse[] = [];
    for (const item of request.tbsRequest.requestList) {
      const status = await this.statusOf(signer, item.reqCert, issuerName, issuerKey);
      onStatus?.(hex(item.reqCert.serialNumber), status.kind);
      responses.push(new SingleResponse({ certID: item.reqCert, certStatus: status.value, thisUpdate: now, nextUpdate: new Date(now.getTime() + NEXT_UPDATE_MS) }));
    }
    const nonce = request.tbsRequest.requestExtensions?.find((e) => e.extnID === id_pkix_ocsp_nonce);
    const data = new ResponseData({
      responderID: new ResponderID({ byKey: new KeyHash(createHash("sha1").update(issuerKey).digest()) }),
      producedAt: now,
      responses,
      responseExtensions: nonce ? [new Extension({ extnID: id_pkix_ocsp_nonce, critical: false, extnValue: nonce.extnValue })] : undefined,
    });
    const tbs = Buffer.from(AsnConvert.serialize(data));
    const signature = new Uint8Array(signDer(signer.key, signer.spec, tbs)).buffer;
    const basic = new BasicOCSPResponse({ tbsResponseData: data, signatureAlgorithm: signatureAlgorithmIdentifier(signer.spec), signature });
    const bytes = new ResponseBytes({ responseType: id_pkix_ocsp_basic, response: new OctetString(AsnConvert.serialize(basic)) });
    return Buffer.from(AsnConvert.serialize(new OCSPResponse({ responseStatus: OCSPResponseStatus.successful, responseBytes: bytes })));
  }

  private async statusOf(signer: Signer, id: CertID, issuerName: Buffer, issuerKey: Buffer): Promise<{ kind: OcspStatus; value: CertStatus }> {
    const unknown = { kind: "unknown" as const, value: new CertStatus({ unknown: null }) };
    const hash = HASHES[id.hashAlgorithm.algorithm];
    if (!hash) return unknown;
    const sameIssuer =
      createHash(hash).update(issuerName).digest().equals(Buffer.from(id.issuerNameHash.buffer)) &&
      createHash(hash).update(issuerKey).digest().equals(Buffer.from(id.issuerKeyHash.buffer));
    if (!sameIssuer) return unknown;
    const serial = hex(id.serialNumber);
    const found = (await this.store.certBySerial(signer.ca.id, serial)) ?? (await this.store.caBySerial(signer.ca.id, serial));
    if (!found) return unknown;
    if (found.revoked_at === null) return { kind: "good", value: new CertStatus({ good: null }) };
    const reason = REVOCATION_REASONS[found.revocation_reason ?? "unspecified"] ?? 0;
    return { kind: "revoked", value: new CertStatus({ revoked: new RevokedInfo({ revocationTime: new Date(found.revoked_at), revocationReason: reason === 0 ? undefined : new CRLReason(reason) }) }) };
  }
}
