import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect } from "vitest";
import type { TestDnsServer } from "../../../dns/testing/dns-server.js";
import { waitFor } from "../../../rotation/testing.js";
import type { ApiClient } from "../../../testing/harness.js";
import { freePort } from "../../../testing/ports.js";

async function waitForTcp(port: number, what: string, child: ChildProcess, output: () => string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${what} exited (${child.exitCode}): ${output()}`);
    const up = await new Promise<boolean>((resolve) => {
      const socket = connect(port, "127.0.0.1");
      socket.once("connect", () => (socket.destroy(), resolve(true)));
      socket.once("error", () => resolve(false));
    });
    if (up) return;
    if (Date.now() > deadline) throw new Error(`${what} did not listen on ${port}: ${output()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Step (1) of spec/pki.md P9: a TLS CA made by openssl and a localhost/127.0.0.1 certificate for
 * pebble's listeners. Made before the vault starts (the vault must trust the CA from its start).
 */
export class PebbleTls {
  readonly dir = mkdtempSync(join(tmpdir(), "scaivault-pebble-"));
  readonly caFile = join(this.dir, "tls-ca.pem");
  readonly certFile = join(this.dir, "tls-cert.pem");
  readonly keyFile = join(this.dir, "tls-key.pem");

  constructor() {
    const run = (args: string[]) => execFileSync("openssl", args, { cwd: this.dir, stdio: "pipe", timeout: 30_000 });
    run(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "tls-ca-key.pem", "-out", this.caFile, "-days", "2", "-subj", "/CN=ScaiVault test pebble TLS CA",
      "-addext", "basicConstraints=critical,CA:true", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
    run(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", this.keyFile, "-out", "tls.csr", "-subj", "/CN=localhost"]);
    writeFileSync(join(this.dir, "ext.cnf"), "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:false\n");
    run(["x509", "-req", "-in", "tls.csr", "-CA", this.caFile, "-CAkey", "tls-ca-key.pem", "-CAcreateserial", "-out", this.certFile, "-days", "2", "-extfile", "ext.cnf"]);
  }

  /** The vault's environment for it: ACME directories under this CA are trusted (SCAIVAULT_ACME_CA_FILE, as NODE_EXTRA_CA_CERTS). */
  get vaultEnv(): Record<string, string> {
    return { SCAIVAULT_ACME_CA_FILE: this.caFile };
  }
}

export interface Pebble {
  directoryUrl: string;
  managementUrl: string;
  /** Pebble's own view of a certificate (its management API): `Status` "Valid" or "Revoked", `Reason`. */
  certStatus(serialHex: string): Promise<{ Status: string; Reason?: number }>;
  /** pebble-challtestsrv's management API (`/set-txt`, `/clear-txt`): the DNS pebble asks. */
  challtestsrvUrl: string;
  /** Pebble's issuing root and intermediates (PEM), from its management interface. */
  root(): Promise<string>;
  intermediates(): Promise<string>;
  output(): string;
  stop(): Promise<void>;
}

/**
 * Steps (2)–(4): `pebble-challtestsrv` as the DNS server (A → 127.0.0.1) unless `dnsServer` names
 * another, pebble on free ports
 * validating http-01 on `httpPort` (the vault's), 120-second certificates; names under
 * `blocked.test` are refused (for the CA-refusal path).
 */
export async function startPebble(tls: PebbleTls, options: { httpPort: number; validitySeconds?: number; dnsServer?: string }): Promise<Pebble> {
  const dnsPort = await freePort({ udpToo: true });
  const challMgmt = await freePort();
  const acmePort = await freePort();
  const mgmtPort = await freePort();
  const tlsPort = await freePort();
  let log = "";
  const capture = (child: ChildProcess) => {
    child.stdout?.on("data", (d) => (log = (log + d).slice(-20_000)));
    child.stderr?.on("data", (d) => (log = (log + d).slice(-20_000)));
  };
  const dns = spawn("pebble-challtestsrv", ["-dns01", `127.0.0.1:${dnsPort}`, "-http01", "", "-https01", "", "-tlsalpn01", "", "-defaultIPv6", "", "-defaultIPv4", "127.0.0.1", "-management", `127.0.0.1:${challMgmt}`], { stdio: ["ignore", "pipe", "pipe"] });
  capture(dns);
  const configFile = join(tls.dir, `pebble-config-${acmePort}.json`);
  writeFileSync(configFile, JSON.stringify({
    pebble: {
      listenAddress: `127.0.0.1:${acmePort}`, managementListenAddress: `127.0.0.1:${mgmtPort}`, certificate: tls.certFile, privateKey: tls.keyFile,
      httpPort: options.httpPort, tlsPort, ocspResponderURL: "", externalAccountBindingRequired: false, domainBlocklist: ["blocked.test"], certificateValidityPeriod: options.validitySeconds ?? 120,
    },
  }));
  let pebble: ChildProcess | null = null;
  const stop = async () => {
    for (const child of [pebble, dns]) {
      if (!child || child.exitCode !== null) continue;
      const gone = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await gone;
    }
  };
  try {
    await waitForTcp(challMgmt, "pebble-challtestsrv", dns, () => log);
    // `dnsServer`: a DNS server of the test's own (src/dns/testing/dns-server.ts) answers pebble instead.
    pebble = spawn("pebble", ["-config", configFile, "-dnsserver", options.dnsServer ?? `127.0.0.1:${dnsPort}`], {
      stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, PEBBLE_VA_NOSLEEP: "1", PEBBLE_WFE_NONCEREJECT: "0" },
    });
    capture(pebble);
    await waitForTcp(acmePort, "pebble", pebble, () => log);
    await waitForTcp(mgmtPort, "pebble management", pebble, () => log);
  } catch (error) {
    await stop();
    throw error;
  }
  const ca = readFileSync(tls.caFile);
  const get = (path: string) => new Promise<string>((resolve, reject) => {
    const req = httpsRequest(`https://127.0.0.1:${mgmtPort}${path}`, { ca, timeout: 10_000 }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`${path}: ${res.statusCode}`))));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
  return {
    directoryUrl: `https://127.0.0.1:${acmePort}/dir`,
    managementUrl: `https://127.0.0.1:${mgmtPort}`,
    challtestsrvUrl: `http://127.0.0.1:${challMgmt}`,
    root: () => get("/roots/0"),
    certStatus: async (serialHex: string) => JSON.parse(await get(`/cert-status-by-serial/${serialHex.toLowerCase()}`)) as { Status: string; Reason?: number },
    intermediates: () => get("/intermediates/0"),
    output: () => log,
    async stop() {
      await stop();
    },
  };
}

export function removeTls(tls: PebbleTls): void {
  rmSync(tls.dir, { recursive: true, force: true });
}

/** Waits (bounded) until the order reaches one of `states`; answers the order. */
export async function orderIn(client: ApiClient, id: string, states: string[], timeoutMs = 120_000, extra: (o: any) => boolean = () => true): Promise<any> {
  return waitFor(`order ${id} in ${states.join("|")}`, async () => {
    const got = await client.get(`/v1/pki/acme/orders/${id}`);
    expect(got.status, got.text).toBe(200);
    return states.includes(got.body.status) && extra(got.body) ? got.body : undefined;
  }, timeoutMs);
}

/**
 * For the enclosing describe block: `dns` started and pebble validating dns-01 by asking it (no
 * http-01 port), both stopped afterwards with `tls` removed. Call it after `useVault`.
 */
export function usePebbleOverDns(tls: PebbleTls, dns: TestDnsServer): () => Pebble {
  let pebble: Pebble | undefined;
  beforeAll(async () => {
    await dns.start();
    pebble = await startPebble(tls, { httpPort: 1, dnsServer: dns.address });
  }, 90_000);
  afterAll(async () => {
    await pebble?.stop();
    await dns.stop();
    removeTls(tls);
  });
  return () => {
    if (!pebble) throw new Error("pebble is not started yet");
    return pebble;
  };
}
