import { randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DnsError, parseServer, query, updateTxt } from "./client.js";
import { TestDnsServer } from "./testing/dns-server.js";
import { dig, run } from "./testing/tools.js";
import { signMessage, verifyMessage, type TsigKey } from "./tsig.js";
import { CLASS, decodeMessage, encodeMessage, OPCODE, TYPE } from "./wire.js";

/** The RFC 2136 client and TSIG against the test server, and both checked with dig and nsupdate (BIND's tools). */
describe("rfc2136: DNS UPDATE with TSIG, checked with dig and nsupdate", () => {
  const secrets = { sha256: randomBytes(32).toString("base64"), sha512: randomBytes(64).toString("base64"), sha1: randomBytes(20).toString("base64") };
  const server = new TestDnsServer({
    zones: ["example.test", "sub.example.test"],
    keys: [
      { name: "vault-key", algorithm: "hmac-sha256", secret: secrets.sha256 },
      { name: "key512", algorithm: "hmac-sha512", secret: secrets.sha512 },
      { name: "key1", algorithm: "hmac-sha1", secret: secrets.sha1 },
    ],
  });
  const key = (name: string, algorithm: TsigKey["algorithm"], secret: string): TsigKey => ({ name, algorithm, secret: Buffer.from(secret, "base64") });
  const k256 = key("vault-key", "hmac-sha256", secrets.sha256);

  beforeAll(async () => {
    await server.start();
  });
  afterAll(async () => {
    await server.stop();
  });

  it("adds and deletes TXT records with each algorithm; dig sees them over UDP and TCP", async () => {
    const target = parseServer(server.address);
    for (const k of [k256, key("key512", "hmac-sha512", secrets.sha512), key("key1", "hmac-sha1", secrets.sha1)]) {
      const name = `_acme-challenge.${k.algorithm}.example.test`;
      await updateTxt(target, "example.test", { add: [{ name, value: "token-a" }, { name, value: "token-b" }], ttl: 60 }, { key: k, timeoutMs: 5000 });
      expect((await dig(server.port, name, "TXT")).out.split("\n").filter(Boolean).sort()).toEqual(['"token-a"', '"token-b"']);
      expect((await dig(server.port, name, "TXT", ["+tcp"])).out.split("\n").filter(Boolean).sort()).toEqual(['"token-a"', '"token-b"']);
      await updateTxt(target, "example.test", { remove: [{ name, value: "token-a" }], ttl: 60 }, { key: k, timeoutMs: 5000 });
      expect((await dig(server.port, name, "TXT", ["+tcp"])).out.trim()).toBe('"token-b"');
      const answered = await query(target, name, TYPE.TXT, { key: k, timeoutMs: 5000 });
      expect(answered.records.map((r) => r.txt?.join(""))).toEqual(["token-b"]);
    }
  });

  it("rejects an unsigned update and one signed with a wrong secret (NOTAUTH, BADSIG), changing nothing", async () => {
    const target = parseServer(server.address);
    const name = "_acme-challenge.bad.example.test";
    const before = server.seen.rejectedUpdates;
    const wrong = key("vault-key", "hmac-sha256", randomBytes(32).toString("base64"));
    const error = await updateTxt(target, "example.test", { add: [{ name, value: "x" }], ttl: 60 }, { key: wrong, timeoutMs: 5000 }).catch((e) => e);
    expect(error).toBeInstanceOf(DnsError);
    expect(error.reason).toBe("tsig");
    expect(error.detail).toMatchObject({ rcode: "NOTAUTH", tsig_error: "BADSIG" });
    const unsigned = await updateTxt(target, "example.test", { add: [{ name, value: "x" }], ttl: 60 }, { timeoutMs: 5000 }).catch((e) => e);
    expect(unsigned.detail).toMatchObject({ rcode: "NOTAUTH" });
    expect(server.seen.rejectedUpdates).toBe(before + 2);
    expect(server.values(name)).toEqual([]);
    // nsupdate with the wrong key is refused too, with the right one accepted.
    const script = () => `server 127.0.0.1 ${server.port}\nzone example.test\nupdate add ${name} 60 TXT "from-nsupdate"\nsend\n`;
    const bad = await run("nsupdate", ["-y", `hmac-sha256:vault-key:${wrong.secret.toString("base64")}`], script());
    expect(bad.status).not.toBe(0);
    expect(server.values(name)).toEqual([]);
    const good = await run("nsupdate", ["-y", `hmac-sha256:vault-key:${secrets.sha256}`], script());
    expect(good.status, good.out).toBe(0);
    expect(server.values(name)).toEqual(["from-nsupdate"]);
  });

  it("signs its answers so that dig -y verifies them, and dig sees a wrong key refused", async () => {
    const ok = await run("dig", ["@127.0.0.1", "-p", String(server.port), "SOA", "example.test", "-y", `hmac-sha256:vault-key:${secrets.sha256}`, "+tries=1", "+time=5"]);
    expect(ok.out).toContain("status: NOERROR");
    expect(ok.out).toMatch(/vault-key\.\s+0\s+ANY\s+TSIG\s+hmac-sha256\./);
    expect(ok.out).not.toMatch(/tsig verify failure|Couldn't verify/i);
    const bad = await run("dig", ["@127.0.0.1", "-p", String(server.port), "SOA", "example.test", "-y", `hmac-sha256:vault-key:${randomBytes(32).toString("base64")}`, "+tries=1", "+time=5"]);
    expect(bad.out).toMatch(/NOTAUTH|BADSIG/);
  });

  it("answers A with 127.0.0.1 for any name", async () => {
    expect((await dig(server.port, "anything.elsewhere.test", "A")).out.trim()).toBe("127.0.0.1");
    expect((await dig(server.port, "example.test", "SOA")).out).toContain("ns.example.test.");
  });

  it("falls back to TCP when the UDP answer is truncated", async () => {
    const target = parseServer(server.address);
    const name = "_acme-challenge.many.example.test";
    const values = Array.from({ length: 14 }, (_, i) => `${i}-${randomBytes(32).toString("base64url")}`);
    await updateTxt(target, "example.test", { add: values.map((value) => ({ name, value })), ttl: 60 }, { key: k256, timeoutMs: 5000 });
    const truncated = server.seen.truncated;
    const answered = await query(target, name, TYPE.TXT, { timeoutMs: 5000 });
    expect(answered.transport).toBe("tcp");
    expect(server.seen.truncated).toBe(truncated + 1);
    expect(answered.records.map((r) => r.txt!.join("")).sort()).toEqual([...values].sort());
    // Signed, too: the TCP answer's TSIG verifies.
    expect((await query(target, name, TYPE.TXT, { key: k256, timeoutMs: 5000 })).records).toHaveLength(14);
  });

  it("times out against a UDP socket that never answers", async () => {
    const silent = createSocket("udp4");
    await new Promise<void>((resolve) => silent.bind(0, "127.0.0.1", () => resolve()));
    let received = 0;
    silent.on("message", () => received++);
    try {
      const error = await query({ host: "127.0.0.1", port: silent.address().port }, "example.test", TYPE.SOA, { key: k256, timeoutMs: 300 }).catch((e) => e);
      expect(error).toBeInstanceOf(DnsError);
      expect(error.reason).toBe("timeout");
      expect(received).toBe(1);
    } finally {
      silent.close();
    }
  });

  it("refuses a response whose MAC was tampered with, comparing MACs in constant time", () => {
    const message = encodeMessage({ id: 7, qr: false, opcode: OPCODE.QUERY, aa: false, tc: false, rd: false, ra: false, rcode: 0, questions: [{ name: "example.test", type: TYPE.SOA, class: CLASS.IN }], answers: [], authority: [], additional: [] });
    const signed = signMessage(message, k256).message;
    const keyFor = () => k256;
    expect(verifyMessage(signed, keyFor).ok).toBe(true);
    const tampered = Buffer.from(signed);
    tampered[tampered.length - 10] ^= 1;
    expect(verifyMessage(tampered, keyFor)).toMatchObject({ ok: false, error: "badsig" });
    const flipped = Buffer.from(signed);
    flipped[3] ^= 0x10;
    expect(verifyMessage(flipped, keyFor)).toMatchObject({ ok: false, error: "badsig" });
    expect(decodeMessage(signed).additional[0].type).toBe(TYPE.TSIG);
  });
});
