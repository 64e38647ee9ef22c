import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ScaiVaultClient } from "@scailabs/scaivault";
import { expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { eventsAwaitingFanOut, until } from "../testing/observe.js";
import { cli, useCliHome } from "./cli-harness.js";

/** A private CA and a server certificate for 127.0.0.1 it signed, made by openssl. */
function privateCa(): { dir: string; ca: string; cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), "scaivault-tls-"));
  const f = (name: string) => join(dir, name);
  const ssl = (...args: string[]) => execFileSync("openssl", args, { stdio: "pipe" });
  ssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", f("ca.key"), "-out", f("ca.pem"), "-days", "2", "-subj", "/CN=ScaiVault test CA");
  ssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", f("server.key"), "-out", f("server.csr"), "-subj", "/CN=127.0.0.1");
  writeFileSync(f("ext.cnf"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n");
  ssl("x509", "-req", "-in", f("server.csr"), "-CA", f("ca.pem"), "-CAkey", f("ca.key"), "-CAcreateserial", "-out", f("server.pem"), "-days", "2", "-extfile", f("ext.cnf"));
  return { dir, ca: f("ca.pem"), cert: f("server.pem"), key: f("server.key") };
}

const tls = privateCa();
const PYTHONPATH = join(process.cwd(), "sdks/python");

/** Runs a Python snippet with the SDK importable; its stdout, or the error's. */
async function python(code: string, env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return promisify(execFile)("python3", ["-c", code], { env: { PATH: process.env.PATH, PYTHONPATH, ...env } }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
  );
}

describeEachBackend("clients against a TLS vault with a private CA", (backend) => {
  const vault = useVault(backend, { env: { TLS_CERT_FILE: tls.cert, TLS_KEY_FILE: tls.key } });
  const { env } = useCliHome(vault);

  it("the CLI trusts the CA with --ca-cert or SCAIVAULT_CACERT, and refuses the server without it", async () => {
    expect(vault().baseUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const write = await cli(["secrets", "write", "tls/app/db", "password=t1", "--ca-cert", tls.ca], env());
    expect([write.code, write.stderr]).toEqual([0, ""]);
    const read = await cli(["secrets", "read", "tls/app/db", "--field", "password"], env({ SCAIVAULT_CACERT: tls.ca }));
    expect([read.code, read.stdout]).toEqual([0, "t1\n"]);
    const untrusted = await cli(["secrets", "read", "tls/app/db"], env());
    expect(untrusted.code).toBe(1);
    expect(untrusted.stderr).toMatch(/network_error.*(CERT|SELF_SIGNED|UNABLE_TO_VERIFY)/i);
    const missing = await cli(["secrets", "read", "tls/app/db", "--ca-cert", join(tls.dir, "nope.pem")], env());
    expect([missing.code, missing.stderr]).toEqual([5, expect.stringContaining("cannot read the CA certificate file")]);
  });

  it("the TypeScript SDK takes the CA as `ca` (reads, writes and the event stream), and fails without it", async () => {
    const client = new ScaiVaultClient({ baseUrl: vault().baseUrl, token: vault().adminToken, ca: readFileSync(tls.ca) });
    try {
      await client.secrets.write("tls/sdk/db", { password: "s1" });
      expect((await client.secrets.read("tls/sdk/db")).data).toEqual({ password: "s1" });
      // A stream starts after the last dispatched event. PostgreSQL numbers an event in the pass
      // after its commit, so the first write's event is numbered before the stream connects.
      await until("the first write dispatched", async () => (await eventsAwaitingFanOut(vault().vault.db)) === 0);
      const seen = new Promise<string>((resolve) => {
        const stop = client.streamEvents({ onOpen: () => void client.secrets.write("tls/sdk/db", { password: "s2" }), onEvent: (e) => e.path === "tls/sdk/db" && (stop(), resolve(e.event_type)) }, { paths: ["tls/sdk/db"] });
      });
      expect(await seen).toBe("secret.updated");
    } finally {
      client.close();
    }
    const plain = new ScaiVaultClient({ baseUrl: vault().baseUrl, token: vault().adminToken, retries: { maxAttempts: 1 } });
    await expect(plain.secrets.read("tls/sdk/db")).rejects.toMatchObject({ code: "network_error" });
    plain.close();
  });

  it("the Python SDK takes ca_cert (and verify=False), and fails verification without them", async () => {
    const code = [
      "import os, sys",
      "from scaivault_sdk import ScaiVaultClient",
      "from scaivault_sdk.errors import ScaiVaultError",
      "mode = sys.argv[-1] if len(sys.argv) > 1 else os.environ['MODE']",
      "kw = {'ca_cert': os.environ['CA']} if mode == 'ca' else {'verify': False} if mode == 'noverify' else {}",
      "c = ScaiVaultClient(base_url=os.environ['URL'], token=os.environ['TOKEN'], max_attempts=1, **kw)",
      "try:",
      "    c.secrets.write(path='tls/py/db', data={'password': 'py-' + mode})",
      "    print(c.secrets.read('tls/py/db').data['password'])",
      "except ScaiVaultError as e:",
      "    print('error', e.code)",
      "finally:",
      "    c.close()",
    ].join("\n");
    const env = { URL: vault().baseUrl, TOKEN: vault().adminToken, CA: tls.ca };
    expect((await python(code, { ...env, MODE: "ca" })).stdout).toBe("py-ca\n");
    expect((await python(code, { ...env, MODE: "noverify" })).stdout).toBe("py-noverify\n");
    expect((await python(code, { ...env, MODE: "default" })).stdout).toBe("error network_error\n");
  });
});
