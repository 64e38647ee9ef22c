import { createSocket } from "node:dgram";
import { isIP, Socket } from "node:net";
import { signMessage, TSIG_ERROR, verifyMessage, type TsigKey } from "./tsig.js";
import { CLASS, decodeMessage, encodeMessage, encodeTxt, newMessageId, OPCODE, RCODE_NAMES, TYPE, type Message, type ResourceRecord } from "./wire.js";

export interface DnsServer {
  host: string;
  port: number;
}

/** A DNS exchange that failed: `reason` is stable (timeout, rcode, tsig, …), `detail` says more. No secret in either. */
export class DnsError extends Error {
  constructor(readonly reason: "timeout" | "network" | "rcode" | "tsig" | "malformed", message: string, readonly detail: Record<string, unknown> = {}) {
    super(message);
    this.name = "DnsError";
  }
}

export function parseServer(text: string): DnsServer {
  const bracketed = /^\[([^\]]+)\]:(\d{1,5})$/.exec(text);
  const plain = /^([^:]+):(\d{1,5})$/.exec(text);
  const m = bracketed ?? plain;
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port > 0 && port < 65536)) throw new Error("server must be host:port");
  return { host: m[1], port };
}

const TSIG_ERROR_NAMES: Record<number, string> = { [TSIG_ERROR.BADSIG]: "BADSIG", [TSIG_ERROR.BADKEY]: "BADKEY", [TSIG_ERROR.BADTIME]: "BADTIME", [TSIG_ERROR.BADTRUNC]: "BADTRUNC" };

function udpExchange(server: DnsServer, packet: Buffer, id: number, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(isIP(server.host) === 6 ? "udp6" : "udp4");
    let done = false;
    const finish = (error: Error | null, value?: Buffer) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.close();
      if (error) reject(error);
      else resolve(value!);
    };
    const timer = setTimeout(() => finish(new DnsError("timeout", `No answer from ${server.host}:${server.port} over UDP within ${timeoutMs} ms`, { server: `${server.host}:${server.port}`, timeout_ms: timeoutMs })), timeoutMs);
    socket.on("error", (error) => finish(new DnsError("network", `UDP to ${server.host}:${server.port} failed: ${error.message}`, { server: `${server.host}:${server.port}` })));
    socket.on("message", (msg, rinfo) => {
      // Only an answer from the server, to this id, ends the exchange; anything else is ignored.
      if (msg.length < 12 || msg.readUInt16BE(0) !== id || rinfo.port !== server.port) return;
      finish(null, msg);
    });
    socket.send(packet, server.port, server.host, (error) => {
      if (error) finish(new DnsError("network", `UDP to ${server.host}:${server.port} failed: ${error.message}`, { server: `${server.host}:${server.port}` }));
    });
  });
}

function tcpExchange(server: DnsServer, packet: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = new Socket();
    let buffered = Buffer.alloc(0);
    let done = false;
    const finish = (error: Error | null, value?: Buffer) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(value!);
    };
    const timer = setTimeout(() => finish(new DnsError("timeout", `No answer from ${server.host}:${server.port} over TCP within ${timeoutMs} ms`, { server: `${server.host}:${server.port}`, timeout_ms: timeoutMs })), timeoutMs);
    socket.on("error", (error) => finish(new DnsError("network", `TCP to ${server.host}:${server.port} failed: ${error.message}`, { server: `${server.host}:${server.port}` })));
    socket.on("close", () => finish(new DnsError("network", `${server.host}:${server.port} closed the TCP connection before answering`, { server: `${server.host}:${server.port}` })));
    socket.on("data", (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) finish(null, buffered.subarray(2, 2 + buffered.readUInt16BE(0)));
    });
    const length = Buffer.alloc(2);
    length.writeUInt16BE(packet.length);
    socket.connect(server.port, server.host, () => socket.write(Buffer.concat([length, packet])));
  });
}

export interface ExchangeOptions {
  key?: TsigKey | null;
  timeoutMs: number;
  /** Skip UDP (a test, or a message over 512 bytes). */
  tcp?: boolean;
}

/**
 * Sends a message (TSIG-signed when keyed) and answers the decoded response, whose signature is
 * checked when the request was signed. UDP first; TCP when the answer is truncated (TC).
 */
export async function exchange(server: DnsServer, message: Message, options: ExchangeOptions): Promise<Message & { transport: "udp" | "tcp" }> {
  let packet = encodeMessage(message);
  let requestMac: Buffer | undefined;
  if (options.key) {
    const signed = signMessage(packet, options.key);
    packet = signed.message;
    requestMac = signed.mac;
  }
  let transport: "udp" | "tcp" = options.tcp || packet.length > 512 ? "tcp" : "udp";
  let raw = transport === "udp" ? await udpExchange(server, packet, message.id, options.timeoutMs) : await tcpExchange(server, packet, options.timeoutMs);
  if (transport === "udp" && raw.length >= 4 && (raw.readUInt16BE(2) & 0x0200) !== 0) {
    transport = "tcp";
    raw = await tcpExchange(server, packet, options.timeoutMs);
  }
  let response: Message;
  try {
    response = decodeMessage(raw);
  } catch (error) {
    throw new DnsError("malformed", `Malformed answer from ${server.host}:${server.port}: ${(error as Error).message}`);
  }
  if (response.id !== message.id) throw new DnsError("malformed", "The answer's id does not match the request's");
  if (options.key && requestMac) {
    const tsigRr = response.additional.at(-1);
    if (!tsigRr || tsigRr.type !== TYPE.TSIG) {
      if (response.rcode !== 0) throw rcodeError(response, server);
      throw new DnsError("tsig", "The server's answer to a signed request is not signed", { server: `${server.host}:${server.port}` });
    }
    const check = verifyMessage(raw, (name, algorithm) => (name === options.key!.name && algorithm === options.key!.algorithm ? options.key! : null), { requestMac });
    if (!check.ok) {
      const serverError = check.tsig?.error ? TSIG_ERROR_NAMES[check.tsig.error] ?? String(check.tsig.error) : null;
      if (serverError) throw new DnsError("tsig", `The server rejected the TSIG signature (${RCODE_NAMES[response.rcode] ?? response.rcode}, ${serverError})`, { rcode: RCODE_NAMES[response.rcode] ?? response.rcode, tsig_error: serverError });
      throw new DnsError("tsig", `The server's answer carries an invalid TSIG signature (${check.error})`, { tsig_check: check.error });
    }
    response.additional.pop();
  }
  return { ...response, transport };
}

function rcodeError(response: Message, server: DnsServer): DnsError {
  const name = RCODE_NAMES[response.rcode] ?? String(response.rcode);
  return new DnsError("rcode", `${server.host}:${server.port} answered ${name}`, { rcode: name });
}

function baseMessage(opcode: number): Message {
  return { id: newMessageId(), qr: false, opcode, aa: false, tc: false, rd: false, ra: false, rcode: 0, questions: [], answers: [], authority: [], additional: [] };
}

/** A query; NXDOMAIN answers an empty list, other errors throw. */
export async function query(server: DnsServer, name: string, type: number, options: ExchangeOptions): Promise<{ records: ResourceRecord[]; transport: "udp" | "tcp"; authoritative: boolean }> {
  const message = baseMessage(OPCODE.QUERY);
  message.questions.push({ name, type, class: CLASS.IN });
  const response = await exchange(server, message, options);
  if (response.rcode === 3) return { records: [], transport: response.transport, authoritative: response.aa };
  if (response.rcode !== 0) throw rcodeError(response, server);
  return { records: response.answers.filter((rr) => rr.type === type), transport: response.transport, authoritative: response.aa };
}

export interface TxtChange {
  name: string;
  value: string;
}

/** RFC 2136 UPDATE of `zone` without prerequisites: add and delete single TXT records. */
export async function updateTxt(server: DnsServer, zone: string, change: { add?: TxtChange[]; remove?: TxtChange[]; ttl: number }, options: ExchangeOptions): Promise<void> {
  const message = baseMessage(OPCODE.UPDATE);
  message.questions.push({ name: zone, type: TYPE.SOA, class: CLASS.IN });
  for (const rr of change.remove ?? []) message.authority.push({ name: rr.name, type: TYPE.TXT, class: CLASS.NONE, ttl: 0, rdata: encodeTxt([rr.value]) });
  for (const rr of change.add ?? []) message.authority.push({ name: rr.name, type: TYPE.TXT, class: CLASS.IN, ttl: change.ttl, rdata: encodeTxt([rr.value]) });
  const response = await exchange(server, message, options);
  if (response.rcode !== 0) throw rcodeError(response, server);
}
