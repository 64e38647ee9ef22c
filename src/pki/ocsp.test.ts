import { CertID, OCSPRequest, Request, TBSRequest } from "@peculiar/asn1-ocsp";
import { AsnConvert, OctetString } from "@peculiar/asn1-schema";
import { AlgorithmIdentifier, GeneralName } from "@peculiar/asn1-x509";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAX_OCSP_REQUESTS, ocspRequestCount } from "./ocsp.js";

function requestDer(n: number, requestor: boolean): Buffer {
  const certId = (i: number) => new CertID({
    hashAlgorithm: new AlgorithmIdentifier({ algorithm: "1.3.14.3.2.26" }),
    issuerNameHash: new OctetString(Buffer.alloc(20, 1)),
    issuerKeyHash: new OctetString(Buffer.alloc(20, 2)),
    serialNumber: new Uint8Array(Buffer.from((i + 1).toString(16).padStart(8, "0"), "hex")).buffer,
  });
  const tbs = new TBSRequest({ requestList: Array.from({ length: n }, (_, i) => new Request({ reqCert: certId(i) })) });
  if (requestor) tbs.requestorName = new GeneralName({ dNSName: "client.example" });
  return Buffer.from(AsnConvert.serialize(new OCSPRequest({ tbsRequest: tbs })));
}

/** The requests named by a DER OCSPRequest are counted from its element headers before the full parse. */
describe("pki: OCSP request count", () => {
  it("matches the full parse for any number of requests, with or without a requestor name, and stops past the limit", () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 130 }), fc.boolean(), (n, requestor) => {
      const der = requestDer(n, requestor);
      expect(AsnConvert.parse(der, OCSPRequest).tbsRequest.requestList.length).toBe(n);
      expect(ocspRequestCount(der)).toBe(Math.min(n, MAX_OCSP_REQUESTS + 1));
    }), { numRuns: 60 });
  });

  it("a version element before the list is skipped as the requestor name is", () => {
    const der = requestDer(1, false);
    // [0] EXPLICIT INTEGER 0 inserted at the head of tbsRequest, the (short-form) lengths around it grown by 5.
    expect(der[1]).toBeLessThan(0x80 - 5);
    const withVersion = Buffer.concat([Buffer.from([0x30, der[1] + 5, 0x30, der[3] + 5, 0xa0, 0x03, 0x02, 0x01, 0x00]), der.subarray(4)]);
    expect(AsnConvert.parse(withVersion, OCSPRequest).tbsRequest.requestList.length).toBe(1);
    expect(ocspRequestCount(withVersion)).toBe(1);
  });

  it("is null for what is no OCSP request: junk, a truncated body, an element longer than its parent", () => {
    const der = requestDer(2, true);
    expect(ocspRequestCount(Buffer.from("not der"))).toBeNull();
    expect(ocspRequestCount(Buffer.alloc(0))).toBeNull();
    for (const cut of [1, 2, 10, der.length - 1]) expect(ocspRequestCount(der.subarray(0, cut)), `cut at ${cut}`).toBeNull();
    const overlong = Buffer.from(der);
    overlong[overlong.length - 30] = 0x7f;
    expect(() => ocspRequestCount(overlong)).not.toThrow();
  });
});
