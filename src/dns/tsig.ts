import { createHmac, timingSafeEqual } from "node:crypto";
import { CLASS, encodeName, encodeRecord, lastAdditionalOffset, TYPE, WireError } from "./wire.js";

/** RFC 8945 transaction signatures with HMAC-SHA256/512/1. */
export const TSIG_ALGORITHMS = { "hmac-sha256": "sha256", "hmac-sha512": "sha512", "hmac-sha1": "sha1" } as const;
export type TsigAlgorithm = keyof typeof TSIG_ALGORITHMS;
export const TSIG_ERROR = { NOERROR: 0, BADSIG: 16, BADKEY: 17, BADTIME: 18, BADTRUNC: 22 } as const;
const FUDGE = 300;

export interface TsigKey {
  name: string;
  algorithm: TsigAlgorithm;
  secret: Buffer;
}

export interface TsigRecord {
  keyName: string;
  algorithm: string;
  timeSigned: number;
  fudge: number;
  mac: Buffer;
  originalId: number;
  error: number;
  other: Buffer;
}

function u48(seconds: number): Buffer {
  const b = Buffer.alloc(6);
  b.writeUIntBE(seconds, 0, 6);
  return b;
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function tsigVariables(t: Omit<TsigRecord, "mac" | "originalId">): Buffer {
  return Buffer.concat([encodeName(t.keyName), u16(CLASS.ANY), Buffer.alloc(4), encodeName(t.algorithm), u48(t.timeSigned), u16(t.fudge), u16(t.error), u16(t.other.length), t.other]);
}

function rdataOf(t: TsigRecord): Buffer {
  return Buffer.concat([encodeName(t.algorithm), u48(t.timeSigned), u16(t.fudge), u16(t.mac.length), t.mac, u16(t.originalId), u16(t.error), u16(t.other.length), t.other]);
}

export function parseTsigRdata(keyName: string, rdata: Buffer): TsigRecord {
  // The algorithm name is never compressed (RFC 8945 §4.2), so a local parse suffices.
  let pos = 0;
  const labels: string[] = [];
  for (;;) {
    if (pos >= rdata.length) throw new WireError("malformed TSIG");
    const len = rdata[pos++];
    if (len === 0) break;
    if (len > 63 || pos + len > rdata.length) throw new WireError("malformed TSIG");
    labels.push(rdata.toString("ascii", pos, pos + len).toLowerCase());
    pos += len;
  }
  const need = (n: number) => {
    if (pos + n > rdata.length) throw new WireError("malformed TSIG");
  };
  need(10);
  const timeSigned = rdata.readUIntBE(pos, 6);
  const fudge = rdata.readUInt16BE(pos + 6);
  const macSize = rdata.readUInt16BE(pos + 8);
  pos += 10;
  need(macSize + 6);
  const mac = Buffer.from(rdata.subarray(pos, pos + macSize));
  pos += macSize;
  const originalId = rdata.readUInt16BE(pos);
  const error = rdata.readUInt16BE(pos + 2);
  const otherLen = rdata.readUInt16BE(pos + 4);
  pos += 6;
  need(otherLen);
  return { keyName, algorithm: labels.join("."), timeSigned, fudge, mac, originalId, error, other: Buffer.from(rdata.subarray(pos, pos + otherLen)) };
}

function hmac(key: TsigKey, parts: Buffer[]): Buffer {
  const h = createHmac(TSIG_ALGORITHMS[key.algorithm], key.secret);
  for (const p of parts) h.update(p);
  return h.digest();
}

/** The message with its additional count bumped and the TSIG record appended. */
function append(message: Buffer, t: TsigRecord): Buffer {
  const out = Buffer.concat([message, encodeRecord({ name: t.keyName, type: TYPE.TSIG, class: CLASS.ANY, ttl: 0, rdata: rdataOf(t) })]);
  out.writeUInt16BE(message.readUInt16BE(10) + 1, 10);
  return out;
}

/**
 * Signs an encoded message (without a TSIG). For a response, `requestMac` is the MAC of the request
 * it answers (RFC 8945 §5.3). Returns the signed message and its MAC.
 */
export function signMessage(message: Buffer, key: TsigKey, options: { requestMac?: Buffer; now?: number; error?: number; other?: Buffer } = {}): { message: Buffer; mac: Buffer } {
  const base = { keyName: key.name, algorithm: key.algorithm, timeSigned: Math.floor((options.now ?? Date.now()) / 1000), fudge: FUDGE, error: options.error ?? 0, other: options.other ?? Buffer.alloc(0) };
  const prefix = options.requestMac ? [u16(options.requestMac.length), options.requestMac] : [];
  const mac = hmac(key, [...prefix, message, tsigVariables(base)]);
  return { message: append(message, { ...base, mac, originalId: message.readUInt16BE(0) }), mac };
}

/** An unsigned error answer's TSIG (BADSIG/BADKEY: empty MAC, RFC 8945 §5.3.2). */
export function appendUnsignedTsig(message: Buffer, keyName: string, algorithm: string, error: number, now = Date.now()): Buffer {
  return append(message, { keyName, algorithm, timeSigned: Math.floor(now / 1000), fudge: FUDGE, mac: Buffer.alloc(0), originalId: message.readUInt16BE(0), error, other: Buffer.alloc(0) });
}

export type TsigCheck =
  | { ok: true; tsig: TsigRecord; unsigned: Buffer }
  | { ok: false; error: "missing" | "badkey" | "badsig" | "badtime" | "formerr"; tsig?: TsigRecord };

/**
 * Checks the TSIG that ends `message`: the key name and algorithm, the MAC (constant time) and the
 * time within the fudge. `requestMac` when checking a response to a signed request.
 */
export function verifyMessage(message: Buffer, keyFor: (name: string, algorithm: string) => TsigKey | null, options: { requestMac?: Buffer; now?: number } = {}): TsigCheck {
  let offset: number | null;
  try {
    offset = lastAdditionalOffset(message);
  } catch {
    return { ok: false, error: "formerr" };
  }
  if (offset === null) return { ok: false, error: "missing" };
  let tsig: TsigRecord;
  try {
    const tail = message.subarray(offset);
    // The record's owner name is uncompressed in practice; parse it from the tail.
    let pos = 0;
    const labels: string[] = [];
    for (;;) {
      const len = tail[pos++];
      if (len === undefined) throw new WireError("truncated");
      if (len === 0) break;
      if (len > 63) throw new WireError("compressed TSIG owner name");
      labels.push(tail.toString("ascii", pos, pos + len).toLowerCase());
      pos += len;
    }
    if (tail.readUInt16BE(pos) !== TYPE.TSIG) return { ok: false, error: "missing" };
    const rdlength = tail.readUInt16BE(pos + 8);
    tsig = parseTsigRdata(labels.join("."), tail.subarray(pos + 10, pos + 10 + rdlength));
  } catch {
    return { ok: false, error: "formerr" };
  }
  const key = keyFor(tsig.keyName, tsig.algorithm);
  if (!key) return { ok: false, error: "badkey", tsig };
  // The digest covers the message as it was before signing: TSIG cut, count restored, original id.
  const unsigned = Buffer.from(message.subarray(0, offset));
  unsigned.writeUInt16BE(unsigned.readUInt16BE(10) - 1, 10);
  unsigned.writeUInt16BE(tsig.originalId, 0);
  const prefix = options.requestMac ? [u16(options.requestMac.length), options.requestMac] : [];
  const expected = hmac(key, [...prefix, unsigned, tsigVariables(tsig)]);
  // Constant-time comparison; a truncated MAC is not accepted (no BADTRUNC support needed).
  if (tsig.mac.length !== expected.length || !timingSafeEqual(tsig.mac, expected)) return { ok: false, error: "badsig", tsig };
  const now = Math.floor((options.now ?? Date.now()) / 1000);
  if (Math.abs(now - tsig.timeSigned) > tsig.fudge) return { ok: false, error: "badtime", tsig };
  return { ok: true, tsig, unsigned };
}

