/**
 * The few DER pieces (X.690) that a CRL's revoked list is made of, written in one pass. A CRL
 * lists every revoked serial of its CA, so its size is not bounded by a request: @peculiar's
 * generator checks each entry against all before it and encodes through its schema reflection
 * (measured: 4.3 s of blocked event loop for 10,000 entries, docs/benchmarks.md round 23).
 */

export const TAG_INTEGER = 0x02;
export const TAG_BIT_STRING = 0x03;
export const TAG_OCTET_STRING = 0x04;
export const TAG_ENUMERATED = 0x0a;
export const TAG_SEQUENCE = 0x30;
export const TAG_UTC_TIME = 0x17;
export const TAG_GENERALIZED_TIME = 0x18;

/** Octets a length takes after the tag: short form below 128, else 0x80|n and n big-endian octets. */
function lengthSize(length: number): number {
  if (length < 0x80) return 1;
  let octets = 0;
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) octets++;
  return 1 + octets;
}

/** Bytes a tag and this length take. */
export function headerSize(length: number): number {
  return 1 + lengthSize(length);
}

/** Writes a tag and its length at `at`; returns where the content starts. */
export function writeHeader(out: Buffer, at: number, tag: number, length: number): number {
  out[at] = tag;
  if (length < 0x80) {
    out[at + 1] = length;
    return at + 2;
  }
  const octets = lengthSize(length) - 1;
  out[at + 1] = 0x80 | octets;
  for (let i = octets, rest = length; i >= 1; i--, rest = Math.floor(rest / 256)) out[at + 1 + i] = rest % 256;
  return at + 2 + octets;
}

export function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = content.length === 1 ? content[0] : Buffer.concat(content);
  const out = Buffer.allocUnsafe(headerSize(body.length) + body.length);
  body.copy(out, writeHeader(out, 0, tag, body.length));
  return out;
}

export interface DerElement {
  tag: number;
  /** Where the element's tag is, and where its content starts and ends. */
  start: number;
  contentStart: number;
  end: number;
}

/** The element at `at` (single-byte tags only: all a CRL uses). Throws on a length that leaves the buffer. */
export function readElement(der: Uint8Array, at: number): DerElement {
  const tag = der[at];
  let length = der[at + 1];
  let contentStart = at + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4) throw new Error("DER length out of range");
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + der[at + 2 + i];
    contentStart += count;
  }
  const end = contentStart + length;
  if (tag === undefined || end > der.length) throw new Error("DER element runs past its buffer");
  return { tag, start: at, contentStart, end };
}

/** The elements directly inside a constructed element. */
export function childrenOf(der: Uint8Array, parent: DerElement): DerElement[] {
  const children: DerElement[] = [];
  for (let at = parent.contentStart; at < parent.end; ) {
    const child = readElement(der, at);
    children.push(child);
    at = child.end;
  }
  return children;
}

/** A non-negative INTEGER's content from hex, minimal: leading zero octets dropped, one added before a high bit. */
export function positiveIntegerHex(hex: string): string {
  if (!/^[0-9a-fA-F]+$/.test(hex)) throw new Error("serial number is not hex");
  let digits = hex.length % 2 ? `0${hex}` : hex;
  let first = 0;
  while (first < digits.length - 2 && digits[first] === "0" && digits[first + 1] === "0") first += 2;
  digits = digits.slice(first);
  if (digits.length === 0) digits = "00";
  return "89abcdefABCDEF".includes(digits[0]) ? `00${digits}` : digits;
}

/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050 (and before 1950); whole seconds, Z. */
export function x509Time(ms: number): Buffer {
  const iso = new Date(Math.floor(ms / 1000) * 1000).toISOString(); // YYYY-MM-DDTHH:MM:SS.000Z
  const year = Number(iso.slice(0, 4));
  const digits = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  return year >= 1950 && year <= 2049 ? tlv(TAG_UTC_TIME, Buffer.from(digits.slice(2), "latin1")) : tlv(TAG_GENERALIZED_TIME, Buffer.from(digits, "latin1"));
}
