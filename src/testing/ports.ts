/**
 * Ports for servers that a test starts as another process (pebble, a throwaway PostgreSQL, the
 * vault itself). Such a port is chosen first and bound later by the child, so it is taken from
 * below the kernel's ephemeral range: there no listen(0) and no outgoing connection of the rest
 * of the suite can be handed it in between. (A port from listen(0) was; a full run once failed on
 * pebble's "bind: address already in use".) Depends on nothing but Node: bench/ imports it too.
 */
import { execFile, execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";

/** Linux's default ephemeral range starts at 32768; 10000 keeps clear of well-known services. */
const LOWEST_CHOSEN_PORT = 10_000;

/** [low, high) to choose from: below the ephemeral range when it leaves room, else the whole user range. */
export function choosablePorts(): [number, number] {
  try {
    const ephemeralLow = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    if (ephemeralLow - LOWEST_CHOSEN_PORT >= 1_000) return [LOWEST_CHOSEN_PORT, ephemeralLow];
  } catch {
    // not Linux: no range to read
  }
  return [LOWEST_CHOSEN_PORT, 65_536];
}

/**
 * Run by a child Node so that the synchronous and the asynchronous forms share one implementation:
 * random ports in [low, high) until one binds on 127.0.0.1 (and, when asked, for UDP too).
 */
const PICK_PORT_SCRIPT = `
const net = require("node:net"), dgram = require("node:dgram");
const [low, high, udpToo] = process.argv.slice(1).map(Number);
const tcpFree = (port) => new Promise((done) => { const s = net.createServer(); s.once("error", () => done(false)); s.listen(port, "127.0.0.1", () => s.close(() => done(true))); });
const udpFree = (port) => new Promise((done) => { const s = dgram.createSocket("udp4"); s.once("error", () => done(false)); s.bind(port, "127.0.0.1", () => s.close(() => done(true))); });
(async () => {
  for (let attempt = 0; attempt < 1000; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low));
    if ((await tcpFree(port)) && (!udpToo || (await udpFree(port)))) return process.stdout.write(String(port));
  }
  process.exitCode = 1;
})();
`;

function pickArgs(udpToo: boolean): string[] {
  const [low, high] = choosablePorts();
  return ["-e", PICK_PORT_SCRIPT, String(low), String(high), udpToo ? "1" : "0"];
}

/** A port free on 127.0.0.1 now (TCP, and UDP with `udpToo`), outside the ephemeral range. */
export function freePort(options: { udpToo?: boolean } = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, pickArgs(options.udpToo ?? false), { timeout: 10_000 }, (error, stdout) => (error ? reject(error) : resolve(Number(stdout))));
  });
}

/** The same, for a test whose server environment is fixed while its suite is declared. */
export function freePortSync(options: { udpToo?: boolean } = {}): number {
  return Number(execFileSync(process.execPath, pickArgs(options.udpToo ?? false), { timeout: 10_000 }).toString());
}

/** Whether `port` is free on 127.0.0.1 now (TCP), checked in this process. */
export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}
