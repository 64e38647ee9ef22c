import { KeyObject, verify } from "node:crypto";
import { AsnConvert } from "@peculiar/asn1-schema";
import { CRLNumber, id_ce_cRLNumber } from "@peculiar/asn1-x509";
import { describe, expect, it } from "vitest";
import type { Signer } from "./ca-service.js";
import { REVOCATION_REASONS } from "./common.js";
import { crlIssuer, encodeCrl, revokedCertificates } from "./crl-encoding.js";
import { childrenOf, readElement, tlv, type DerElement } from "./der.js";
import type { RevokedSerial } from "./store.js";
import { OpenSsl } from "./testing.js";
import { createCaCertificate, generateKeyPair, signDer, signDerOffLoop, signingAlgorithm, x509, type KeySpec } from "./x509.js";

const THIS_UPDATE = Date.UTC(2026, 11, 5, 6, 0, 0);
const NEXT_UPDATE = THIS_UPDATE + 72 * 3_600_000;

async function selfSigned(spec: KeySpec): Promise<Signer> {
  const keys = await generateKeyPair(spec);
  const certificate = await createCaCertificate({ subjectCn: `Root ${spec.type} ${spec.bits}`, publicKey: keys.publicKey, serial: "01", notBefore: new Date(THIS_UPDATE - 86_400_000), notAfter: new Date(THIS_UPDATE + 365 * 86_400_000), selfKey: keys.privateKey, selfSpec: spec });
  return { ca: {} as Signer["ca"], certificate, key: keys.privateKey, spec };
}

/** The CRL @peculiar's own generator makes from the same input: the reference for the encoding. */
async function libraryCrl(signer: Signer, crlNumber: number, revoked: RevokedSerial[]): Promise<Buffer> {
  const crl = await x509.X509CrlGenerator.create({
    issuer: signer.certificate.subjectName,
    thisUpdate: new Date(THIS_UPDATE),
    nextUpdate: new Date(NEXT_UPDATE),
    signingKey: signer.key,
    signingAlgorithm: signingAlgorithm(signer.spec),
    extensions: [await x509.AuthorityKeyIdentifierExtension.create(signer.certificate.publicKey), new x509.Extension(id_ce_cRLNumber, false, AsnConvert.serialize(new CRLNumber(crlNumber)))],
    entries: revoked.map((r) => ({ serialNumber: r.serial_number, revocationDate: new Date(Number(r.revoked_at)), reason: REVOCATION_REASONS[r.revocation_reason ?? "unspecified"] })),
  });
  return Buffer.from(crl.rawData);
}

function parts(der: Buffer): { tbs: Buffer; tbsChildren: DerElement[] } {
  const [tbs] = childrenOf(der, readElement(der, 0));
  return { tbs: der.subarray(tbs.start, tbs.end), tbsChildren: childrenOf(der, tbs) };
}

describe("pki: CRL encoding", () => {
  // Serials as the store holds them: a high first bit (a zero octet goes before it), leading zero
  // octets (dropped), a single octet; dates before and after 2050 (UTCTime, then GeneralizedTime).
  const withReasons: RevokedSerial[] = [
    { serial_number: "7a00ff00112233445566778899aabbcc", revoked_at: THIS_UPDATE - 3_600_500, revocation_reason: "key_compromise" },
    { serial_number: "ff01", revoked_at: Date.UTC(2051, 0, 2, 3, 4, 5, 678), revocation_reason: "superseded" },
    { serial_number: "0000ab", revoked_at: 1_700_000_000_123, revocation_reason: "cessation_of_operation" },
    { serial_number: "01", revoked_at: String(1_700_000_000_000), revocation_reason: "aa_compromise" },
  ];

  for (const spec of [{ type: "ec", bits: 256 }, { type: "ec", bits: 384 }, { type: "rsa", bits: 2048 }] as const) {
    it(`signs the same TBSCertList as @peculiar's generator, byte for byte (${spec.type} ${spec.bits})`, async () => {
      const signer = await selfSigned(spec);
      const ours = encodeCrl(signer, await crlIssuer(signer), 7, THIS_UPDATE, NEXT_UPDATE, withReasons);
      expect(parts(ours).tbs.toString("hex")).toBe(parts(await libraryCrl(signer, 7, withReasons)).tbs.toString("hex"));
      expect(await new x509.X509Crl(new Uint8Array(ours)).verify({ publicKey: signer.certificate.publicKey })).toBe(true);
    });
  }

  it("gives an entry without a reason no extensions at all (RFC 5280: SIZE (1..MAX)), and omits an empty list", async () => {
    const signer = await selfSigned({ type: "ec", bits: 256 });
    const revoked = [{ serial_number: "0a0b", revoked_at: THIS_UPDATE, revocation_reason: "unspecified" }, { serial_number: "0c0d", revoked_at: THIS_UPDATE, revocation_reason: null }];
    const der = encodeCrl(signer, await crlIssuer(signer), 1, THIS_UPDATE, NEXT_UPDATE, revoked);
    const list = parts(der).tbsChildren[5];
    expect(list.tag).toBe(0x30);
    for (const entry of childrenOf(der, list)) expect(childrenOf(der, entry).map((child) => child.tag)).toEqual([0x02, 0x17]);
    const empty = parts(encodeCrl(signer, await crlIssuer(signer), 2, THIS_UPDATE, NEXT_UPDATE, []));
    // version, signature, issuer, thisUpdate, nextUpdate, [0] extensions: no revokedCertificates.
    expect(empty.tbsChildren.map((child) => child.tag)).toEqual([0x02, 0x30, 0x30, 0x17, 0x17, 0xa0]);
    expect(revokedCertificates([])).toBeNull();
  });

  it("writes each length in its shortest form at the boundaries of the short and long forms", () => {
    for (const [length, header] of [[0, "3000"], [127, "307f"], [128, "308180"], [255, "3081ff"], [256, "30820100"], [65_535, "3082ffff"], [65_536, "3083010000"]] as const) {
      const element = tlv(0x30, Buffer.alloc(length));
      expect(element.subarray(0, header.length / 2).toString("hex")).toBe(header);
      expect(element.length).toBe(header.length / 2 + length);
      expect(readElement(element, 0)).toEqual({ tag: 0x30, start: 0, contentStart: header.length / 2, end: element.length });
    }
  });

  it("lists thousands of serials that openssl reads back, each once however often it is given", async () => {
    const signer = await selfSigned({ type: "ec", bits: 256 });
    const revoked: RevokedSerial[] = Array.from({ length: 3_000 }, (_, i) => ({ serial_number: (0x10000000 + i * 7919).toString(16), revoked_at: THIS_UPDATE - i * 1000, revocation_reason: i % 2 ? "key_compromise" : null }));
    const der = encodeCrl(signer, await crlIssuer(signer), 3, THIS_UPDATE, NEXT_UPDATE, [...revoked, ...revoked.slice(0, 10).map((r) => ({ ...r, serial_number: `00${r.serial_number.toUpperCase()}` }))]);
    expect(der.length).toBeGreaterThan(65_536);
    const ssl = new OpenSsl();
    const crlFile = ssl.file("long.crl", der);
    const text = await ssl.ok(["crl", "-inform", "DER", "-noout", "-text", "-in", crlFile]);
    expect(text.match(/Serial Number: /g)).toHaveLength(3_000);
    expect(text).toContain(`Serial Number: ${(0x10000000 + 2_999 * 7919).toString(16).toUpperCase()}`);
    expect(text.match(/Key Compromise/g)).toHaveLength(1_500);
    expect(await ssl.ok(["crl", "-inform", "DER", "-noout", "-in", crlFile, "-CAfile", ssl.file("ca.pem", signer.certificate.toString("pem"))])).toContain("verify OK");
  });

  it("refuses a serial that is not hex rather than write a wrong length", () => {
    expect(() => revokedCertificates([{ serial_number: "12zz", revoked_at: THIS_UPDATE, revocation_reason: null }])).toThrow(/not hex/);
  });
});

describe("pki: signatures made on the threadpool", () => {
  it("verify like the loop's own, for every key the CA may hold", async () => {
    const tbs = Buffer.from("the bytes an OCSP response signs");
    for (const spec of [{ type: "rsa", bits: 2048 }, { type: "ec", bits: 256 }, { type: "ec", bits: 384 }] as KeySpec[]) {
      const keys = await generateKeyPair(spec);
      const signature = await signDerOffLoop(keys.privateKey, spec, tbs);
      const hash = spec.type === "ec" && spec.bits === 384 ? "sha384" : "sha256";
      const publicKey = KeyObject.from(keys.publicKey);
      expect(verify(hash, tbs, spec.type === "rsa" ? publicKey : { key: publicKey, dsaEncoding: "der" }, signature), `${spec.type} ${spec.bits}`).toBe(true);
      // RSA PKCS#1 v1.5 is deterministic: the very bytes the loop's signature has (ECDSA's differ by design).
      if (spec.type === "rsa") expect(signature.equals(signDer(keys.privateKey, spec, tbs))).toBe(true);
    }
  });
});
