import { randomInt } from "node:crypto";

/**
 * The DNS wire format (RFC 1035), only as far as the vault needs it: queries for SOA and TXT,
 * RFC 2136 UPDATE messages that add or delete TXT records, and the TSIG record (RFC 8945).
 */

export const TYPE = { A: 1, SOA: 6, TXT: 16, TSIG: 250, ANY: 255 } as const;
export const CLASS = { IN: 1, NONE: 254, ANY: 255 } as const;
export const OPCODE = { QUERY: 0, UPDATE: 5 } as const;
export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5, NOTAUTH: 9, NOTZONE: 10 } as const;
export const RCODE_NAMES: Record<number, string> = { 0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED", 6: "YXDOMAIN", 7: "YXRRSET", 8: "NXRRSET", 9: "NOTAUTH", 10: "NOTZONE" };

export interface Question {
  name: string;
  type: number;
  class: number;
}

export interface ResourceRecord {
  name: string;
  type: number;
  class: number;
  ttl: number;
  /** Raw RDATA as received (compression inside RDATA left unresolved except for the decoded forms below). */
  rdata: Buffer;
  /** TXT: the character-strings; SOA: decoded fields. */
  txt?: string[];
  soa?: { mname: string; rname: string; serial: number };
}

export interface Message {
  id: number;
  qr: boolean;
  opcode: number;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  ra: boolean;
  rcode: number;
  /** Question section (the zone section of an UPDATE). */
  questions: Question[];
  /** Answer section (prerequisites of an UPDATE). */
  answers: ResourceRecord[];
  /** Authority section (the updates of an UPDATE). */
  authority: ResourceRecord[];
  additional: ResourceRecord[];
}

export class WireError extends Error {}

/** Lowercase, no trailing dot; "" is the root. */
export function canonicalName(name: string): string {
  return name.trim().replace(/\.$/, "").toLowerCase();
}

export function encodeName(name: string): Buffer {
  const canon = canonicalName(name);
  const parts: Buffer[] = [];
  if (canon !== "") {
    for (const label of canon.split(".")) {
      const bytes = Buffer.from(label, "ascii");
      if (bytes.length === 0 || bytes.length > 63) throw new WireError(`invalid DNS label in ${name}`);
      parts.push(Buffer.from([bytes.length]), bytes);
    }
  }
  parts.push(Buffer.from([0]));
  const out = Buffer.concat(parts);
  if (out.length > 255) throw new WireError(`DNS name too long: ${name}`);
  return out;
}

/** Character-strings of at most 255 bytes each (a longer value is split, as TXT allows). */
export function encodeTxt(values: string[]): Buffer {
  const parts: Buffer[] = [];
  for (const value of values) {
    const bytes = Buffer.from(value, "utf8");
    if (bytes.length === 0) parts.push(Buffer.from([0]));
    for (let i = 0; i < bytes.length; i += 255) {
      const chunk = bytes.subarray(i, i + 255);
      parts.push(Buffer.from([chunk.length]), chunk);
    }
  }
  return Buffer.concat(parts);
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

export function encodeRecord(rr: Pick<ResourceRecord, "name" | "type" | "class" | "ttl" | "rdata">): Buffer {
  return Buffer.concat([encodeName(rr.name), u16(rr.type), u16(rr.class), u32(rr.ttl), u16(rr.rdata.length), rr.rdata]);
}

export function encodeHeader(m: Pick<Message, "id" | "qr" | "opcode" | "aa" | "tc" | "rd" | "ra" | "rcode">, counts: [number, number, number, number]): Buffer {
  const flags = (m.qr ? 0x8000 : 0) | ((m.opcode & 0xf) << 11) | (m.aa ? 0x0400 : 0) | (m.tc ? 0x0200 : 0) | (m.rd ? 0x0100 : 0) | (m.ra ? 0x0080 : 0) | (m.rcode & 0xf);
  return Buffer.concat([u16(m.id), u16(flags), ...counts.map(u16)]);
}

/** Encodes a message without name compression (valid, and what TSIG's digest wants anyway). */
export function encodeMessage(m: Message): Buffer {
  const body: Buffer[] = [];
  for (const q of m.questions) body.push(encodeName(q.name), u16(q.type), u16(q.class));
  for (const rr of [...m.answers, ...m.authority, ...m.additional]) body.push(encodeRecord(rr));
  return Buffer.concat([encodeHeader(m, [m.questions.length, m.answers.length, m.authority.length, m.additional.length]), ...body]);
}

class Reader {
  constructor(readonly buf: Buffer, public pos = 0) {}

  need(n: number): void {
    if (this.pos + n > this.buf.length) throw new WireError("truncated DNS message");
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++];
  }

  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  bytes(n: number): Buffer {
    this.need(n);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return Buffer.from(v);
  }

  name(): string {
    const labels: string[] = [];
    let pos = this.pos;
    let jumped = false;
    let hops = 0;
    for (;;) {
      if (pos >= this.buf.length) throw new WireError("truncated DNS name");
      const len = this.buf[pos];
      if ((len & 0xc0) === 0xc0) {
        if (pos + 1 >= this.buf.length) throw new WireError("truncated DNS name");
        const target = ((len & 0x3f) << 8) | this.buf[pos + 1];
        if (!jumped) this.pos = pos + 2;
        jumped = true;
        if (++hops > 64) throw new WireError("DNS name compression loop");
        pos = target;
        continue;
      }
      if (len > 63) throw new WireError("invalid DNS label length");
      pos += 1;
      if (len === 0) break;
      if (pos + len > this.buf.length) throw new WireError("truncated DNS name");
      labels.push(this.buf.toString("ascii", pos, pos + len).toLowerCase());
      pos += len;
    }
    if (!jumped) this.pos = pos;
    return labels.join(".");
  }
}

function decodeRecord(r: Reader): ResourceRecord {
  const name = r.name();
  const type = r.u16();
  const klass = r.u16();
  const ttl = r.u32();
  const length = r.u16();
  const start = r.pos;
  const rdata = r.bytes(length);
  const rr: ResourceRecord = { name, type, class: klass, ttl, rdata };
  if (type === TYPE.TXT && length > 0) {
    const txt: string[] = [];
    for (let i = 0; i < rdata.length; ) {
      const n = rdata[i];
      if (i + 1 + n > rdata.length) throw new WireError("malformed TXT RDATA");
      txt.push(rdata.toString("utf8", i + 1, i + 1 + n));
      i += 1 + n;
    }
    rr.txt = txt;
  } else if (type === TYPE.SOA && length > 0) {
    const sub = new Reader(r.buf, start);
    const mname = sub.name();
    const rname = sub.name();
    rr.soa = { mname, rname, serial: sub.u32() };
  }
  return rr;
}

export function decodeMessage(buf: Buffer): Message {
  const r = new Reader(buf);
  const id = r.u16();
  const flags = r.u16();
  const [qd, an, ns, ar] = [r.u16(), r.u16(), r.u16(), r.u16()];
  const m: Message = {
    id, qr: (flags & 0x8000) !== 0, opcode: (flags >> 11) & 0xf, aa: (flags & 0x0400) !== 0, tc: (flags & 0x0200) !== 0, rd: (flags & 0x0100) !== 0,
    ra: (flags & 0x0080) !== 0, rcode: flags & 0xf, questions: [], answers: [], authority: [], additional: [],
  };
  for (let i = 0; i < qd; i++) m.questions.push({ name: r.name(), type: r.u16(), class: r.u16() });
  for (let i = 0; i < an; i++) m.answers.push(decodeRecord(r));
  for (let i = 0; i < ns; i++) m.authority.push(decodeRecord(r));
  for (let i = 0; i < ar; i++) m.additional.push(decodeRecord(r));
  return m;
}

/** Where the last additional record (the TSIG, when present) starts: its bytes are cut before digesting. */
export function lastAdditionalOffset(buf: Buffer): number | null {
  const r = new Reader(buf);
  r.pos = 4;
  const [qd, an, ns, ar] = [r.u16(), r.u16(), r.u16(), r.u16()];
  if (ar === 0) return null;
  for (let i = 0; i < qd; i++) {
    r.name();
    r.pos += 4;
  }
  for (let i = 0; i < an + ns + ar - 1; i++) decodeRecord(r);
  return r.pos;
}

export function newMessageId(): number {
  return randomInt(0x10000);
}
