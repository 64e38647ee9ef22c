import { readElement, TAG_INTEGER, TAG_SEQUENCE, type DerElement } from "./der.js";

/** RDNs of the subject, attributes, values of one attribute, extensions requested: far above any real CSR. */
export const CSR_LIMITS = { rdns: 64, attributes: 16, values: 16, extensions: 64 } as const;

const TAG_SET = 0x31;
const TAG_OID = 0x06;
const TAG_ATTRIBUTES = 0xa0;
/** 1.2.840.113549.1.9.14, PKCS#9 extensionRequest, as DER content. */
const EXTENSION_REQUEST = Buffer.from("2a864886f70d01090e", "hex");

/** A CSR's DER from the encodings the parser reads: PEM, hex, base64 or base64url. */
function derOf(text: string): Buffer {
  const pem = /-----BEGIN [A-Z0-9 ]{1,64}-----([A-Za-z0-9+/=\s]*)-----END /.exec(text);
  const body = (pem ? pem[1] : text).replace(/\s+/g, "");
  if (!pem && body.length % 2 === 0 && /^[0-9a-fA-F]+$/.test(body)) return Buffer.from(body, "hex");
  return Buffer.from(body, /[-_]/.test(body) ? "base64url" : "base64");
}

/**
 * Why a PKCS#10 request is refused before it is parsed, or null: its elements are counted from
 * their DER headers alone (as an OCSP request's are), and the parser reads every attribute and
 * extension before anything can be checked. A 58 KB CSR of 2,000 challengePassword attributes held
 * the loop 230–460 ms per request (docs/benchmarks.md round 37). A request not of PKCS#10's shape
 * (with single-octet tags where its structure is) is refused too: the parser would refuse it.
 */
export function csrShapeProblem(text: string): string | null {
  const der = derOf(text);
  const inside = (at: number, parent: { end: number }): DerElement => {
    const found = readElement(der, at);
    if (!(found.end <= parent.end) || (found.tag & 0x1f) === 0x1f) throw new Error("not DER of the expected shape");
    return found;
  };
  const count = (parent: DerElement, limit: number, each?: (child: DerElement) => void): number => {
    let n = 0;
    for (let at = parent.contentStart; at < parent.end; n++) {
      if (n >= limit) return n + 1;
      const child = inside(at, parent);
      each?.(child);
      at = child.end;
    }
    return n;
  };
  try {
    const request = inside(0, { end: der.length });
    const info = inside(request.contentStart, request);
    if (request.tag !== TAG_SEQUENCE || info.tag !== TAG_SEQUENCE) return "The CSR is not a PKCS#10 certificate request";
    const version = inside(info.contentStart, info);
    const subject = inside(version.end, info);
    const key = inside(subject.end, info);
    if (version.tag !== TAG_INTEGER || subject.tag !== TAG_SEQUENCE || key.tag !== TAG_SEQUENCE) return "The CSR is not a PKCS#10 certificate request";
    // Parts in all: an RDN is a SET that may hold several (3,000 CN values in one passed a count of RDNs).
    let parts = 0;
    const rdns = count(subject, CSR_LIMITS.rdns, (rdn) => {
      if (rdn.tag !== TAG_SET) throw new Error("not an RDN");
      if (parts <= CSR_LIMITS.rdns) parts += count(rdn, CSR_LIMITS.rdns - parts + 1);
    });
    if (rdns > CSR_LIMITS.rdns || parts > CSR_LIMITS.rdns) return `The CSR's subject has more than ${CSR_LIMITS.rdns} parts`;
    if (key.end === info.end) return null;
    const attributes = inside(key.end, info);
    if (attributes.tag !== TAG_ATTRIBUTES) return "The CSR is not a PKCS#10 certificate request";
    let problem: string | null = null;
    const listed = count(attributes, CSR_LIMITS.attributes, (attribute) => {
      if (problem) return;
      const type = inside(attribute.contentStart, attribute);
      const values = inside(type.end, attribute);
      if (type.tag !== TAG_OID || values.tag !== TAG_SET) throw new Error("not an attribute");
      if (count(values, CSR_LIMITS.values) > CSR_LIMITS.values) problem = `A CSR attribute has more than ${CSR_LIMITS.values} values`;
      else if (der.subarray(type.contentStart, type.end).equals(EXTENSION_REQUEST)) {
        count(values, CSR_LIMITS.values, (extensions) => {
          if (!problem && count(extensions, CSR_LIMITS.extensions) > CSR_LIMITS.extensions) problem = `The CSR requests more than ${CSR_LIMITS.extensions} extensions`;
        });
      }
    });
    if (listed > CSR_LIMITS.attributes) return `The CSR has more than ${CSR_LIMITS.attributes} attributes`;
    return problem;
  } catch {
    return "The CSR is not a PEM or DER PKCS#10 certificate request";
  }
}
