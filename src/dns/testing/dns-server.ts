import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { createServer, type Server, type Socket } from "node:net";
import { appendUnsignedTsig, signMessage, TSIG_ERROR, verifyMessage, type TsigAlgorithm, type TsigKey } from "../tsig.js";
import { canonicalName, CLASS, decodeMessage, encodeMessage, encodeName, encodeTxt, OPCODE, RCODE, TYPE, type Message, type ResourceRecord } from "../wire.js";

export interface TestDnsServerOptions {
  /** Zones it is authoritative for (SOA answered, UPDATEs accepted). */
  zones: string[];
  /** TSIG keys it accepts: `{name, algorithm, secret (base64)}`. */
  keys: { name: string; algorithm: TsigAlgorithm; secret: string }[];
  /** UDP answers over this many bytes are truncated (TC) so the client retries over TCP. */
  udpLimit?: number;
}

/**
 * A small authoritative DNS server for tests (the ACME e2e suite points pebble's `-dnsserver` at it):
 * UDP and TCP on 127.0.0.1, RFC 2136 UPDATEs accepted only with a valid TSIG (NOTAUTH otherwise,
 * with BADSIG/BADKEY in the TSIG when one was sent), signed answers to signed requests, TXT served
 * from the updates, A → 127.0.0.1 for any name, SOA for its zones.
 */
export class TestDnsServer {
  readonly txt = new Map<string, Set<string>>();
  /** What it saw: for tests asserting on transports and rejected updates. */
  readonly seen = { udp: 0, tcp: 0, updates: 0, rejectedUpdates: 0, truncated: 0, txtQueries: 0 };
  /** Names whose TXT records are kept but not answered yet (a test's "not propagated"). */
  readonly hidden = new Set<string>();
  port = 0;
  private udp: UdpSocket | null = null;
  private tcp: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private readonly keys: TsigKey[];
  private readonly zones: string[];
  private serial = 1;
  private readonly waiters: { check: () => boolean; resolve: () => void }[] = [];

  constructor(private readonly options: TestDnsServerOptions) {
    this.zones = options.zones.map(canonicalName);
    this.keys = options.keys.map((k) => ({ name: canonicalName(k.name), algorithm: k.algorithm, secret: Buffer.from(k.secret, "base64") }));
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Binds UDP and TCP on the same free port (retrying if TCP's port is taken). */
  async start(): Promise<this> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const udp = createSocket("udp4");
      await new Promise<void>((resolve, reject) => {
        udp.once("error", reject);
        udp.bind(0, "127.0.0.1", () => resolve());
      });
      const port = udp.address().port;
      const tcp = createServer((socket) => this.serveTcp(socket));
      const ok = await new Promise<boolean>((resolve) => {
        tcp.once("error", () => resolve(false));
        tcp.listen(port, "127.0.0.1", () => resolve(true));
      });
      if (!ok) {
        udp.close();
        continue;
      }
      udp.on("message", (msg, rinfo) => {
        this.seen.udp++;
        const answer = this.handle(msg, "udp");
        if (answer) udp.send(answer, rinfo.port, rinfo.address);
      });
      this.udp = udp;
      this.tcp = tcp;
      this.port = port;
      return this;
    }
    throw new Error("no free port for the test DNS server");
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.tcp ? this.tcp.close(() => resolve()) : resolve()));
    await new Promise<void>((resolve) => (this.udp ? this.udp.close(() => resolve()) : resolve()));
    this.tcp = null;
    this.udp = null;
  }

  values(name: string): string[] {
    return [...(this.txt.get(canonicalName(name)) ?? [])];
  }

  /** Resolves once `check` holds (checked after every change the server applies). */
  until(check: () => boolean): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ check, resolve }));
  }

  private changed(): void {
    for (const w of [...this.waiters]) {
      if (w.check()) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  }

  private serveTcp(socket: Socket): void {
    this.sockets.add(socket);
    socket.on("close", () => this.sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    let buffered = Buffer.alloc(0);
    socket.on("data", (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
        const msg = buffered.subarray(2, 2 + buffered.readUInt16BE(0));
        buffered = buffered.subarray(2 + msg.length);
        this.seen.tcp++;
        const answer = this.handle(Buffer.from(msg), "tcp");
        if (answer) {
          const length = Buffer.alloc(2);
          length.writeUInt16BE(answer.length);
          socket.write(Buffer.concat([length, answer]));
        }
      }
    });
  }

  private zoneOf(name: string): string | null {
    const n = canonicalName(name);
    const matches = this.zones.filter((z) => n === z || n.endsWith(`.${z}`));
    return matches.sort((a, b) => b.length - a.length)[0] ?? null;
  }

  private handle(raw: Buffer, transport: "udp" | "tcp"): Buffer | null {
    let request: Message;
    try {
      request = decodeMessage(raw);
    } catch {
      return null;
    }
    if (request.qr) return null;
    const reply: Message = { id: request.id, qr: true, opcode: request.opcode, aa: true, tc: false, rd: request.rd, ra: false, rcode: RCODE.NOERROR, questions: request.questions, answers: [], authority: [], additional: [] };
    const tsigRr = request.additional.at(-1)?.type === TYPE.TSIG ? request.additional.at(-1)! : null;
    let key: TsigKey | null = null;
    let requestMac: Buffer | undefined;
    if (tsigRr) {
      const check = verifyMessage(raw, (name, algorithm) => this.keys.find((k) => k.name === name && k.algorithm === algorithm) ?? null);
      if (!check.ok) {
        if (request.opcode === OPCODE.UPDATE) this.seen.rejectedUpdates++;
        reply.rcode = RCODE.NOTAUTH;
        const error = check.error === "badkey" ? TSIG_ERROR.BADKEY : check.error === "badtime" ? TSIG_ERROR.BADTIME : TSIG_ERROR.BADSIG;
        return appendUnsignedTsig(encodeMessage(reply), check.tsig?.keyName ?? tsigRr.name, check.tsig?.algorithm ?? "hmac-sha256", error);
      }
      key = this.keys.find((k) => k.name === check.tsig.keyName)!;
      requestMac = check.tsig.mac;
    }
    if (request.opcode === OPCODE.UPDATE) this.update(request, reply, key);
    else if (request.opcode === OPCODE.QUERY) this.answer(request, reply);
    else reply.rcode = RCODE.NOTIMP;

    let answer = encodeMessage(reply);
    const limit = this.options.udpLimit ?? 512;
    if (transport === "udp" && answer.length > limit) {
      this.seen.truncated++;
      answer = encodeMessage({ ...reply, tc: true, answers: [], authority: [], additional: [] });
    }
    if (key) answer = signMessage(answer, key, { requestMac }).message;
    return answer;
  }

  private update(request: Message, reply: Message, key: TsigKey | null): void {
    const zone = request.questions[0];
    if (!key) {
      this.seen.rejectedUpdates++;
      reply.rcode = RCODE.NOTAUTH;
      return;
    }
    if (request.questions.length !== 1 || zone.type !== TYPE.SOA) {
      reply.rcode = RCODE.FORMERR;
      return;
    }
    const zoneName = canonicalName(zone.name);
    if (!this.zones.includes(zoneName)) {
      reply.rcode = RCODE.NOTAUTH;
      return;
    }
    if (request.answers.length > 0) {
      reply.rcode = RCODE.NOTIMP;
      return;
    }
    for (const rr of request.authority) {
      const name = canonicalName(rr.name);
      if (this.zoneOf(name) !== zoneName) {
        reply.rcode = RCODE.NOTZONE;
        return;
      }
    }
    for (const rr of request.authority) {
      const name = canonicalName(rr.name);
      const value = (rr.txt ?? []).join("");
      if (rr.type !== TYPE.TXT) continue;
      if (rr.class === CLASS.IN) {
        if (!this.txt.has(name)) this.txt.set(name, new Set());
        this.txt.get(name)!.add(value);
      } else if (rr.class === CLASS.NONE) {
        this.txt.get(name)?.delete(value);
        if (this.txt.get(name)?.size === 0) this.txt.delete(name);
      } else if (rr.class === CLASS.ANY) {
        this.txt.delete(name);
      }
    }
    this.seen.updates++;
    this.serial++;
    this.changed();
  }

  private answer(request: Message, reply: Message): void {
    const q = request.questions[0];
    if (!q) {
      reply.rcode = RCODE.FORMERR;
      return;
    }
    const name = canonicalName(q.name);
    const rr = (type: number, rdata: Buffer, ttl = 60): ResourceRecord => ({ name, type, class: CLASS.IN, ttl, rdata });
    if (q.type === TYPE.A) {
      reply.answers.push(rr(TYPE.A, Buffer.from([127, 0, 0, 1])));
    } else if (q.type === TYPE.TXT) {
      if (!this.hidden.has(name)) for (const value of this.txt.get(name) ?? []) reply.answers.push(rr(TYPE.TXT, encodeTxt([value]), 0));
      this.seen.txtQueries++;
      queueMicrotask(() => this.changed());
    } else if (q.type === TYPE.SOA) {
      if (this.zones.includes(name)) {
        const numbers = Buffer.alloc(20);
        numbers.writeUInt32BE(this.serial, 0);
        for (const [i, v] of [3600, 600, 86400, 60].entries()) numbers.writeUInt32BE(v, 4 + i * 4);
        reply.answers.push(rr(TYPE.SOA, Buffer.concat([encodeName(`ns.${name}`), encodeName(`hostmaster.${name}`), numbers])));
      } else if (!this.zoneOf(name)) {
        reply.rcode = RCODE.REFUSED;
      }
    }
  }
}
