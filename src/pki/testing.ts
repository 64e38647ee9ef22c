import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "vitest";
import type { Database } from "../storage/contract.js";
import type { ApiClient, ApiResponse } from "../testing/harness.js";

/** A scratch directory and `openssl`, the independent tool every PKI result is checked with. */
export class OpenSsl {
  readonly dir = mkdtempSync(join(tmpdir(), "scaivault-pki-"));

  file(name: string, content: string | Buffer): string {
    const path = join(this.dir, name);
    writeFileSync(path, content);
    return path;
  }

  /**
   * Runs openssl; answers stdout+stderr and the exit status (openssl verify reports on both). Always
   * asynchronous: the vault runs in this process, and a synchronous child blocks it (a pooled
   * keep-alive socket can then time out just as the next request reuses it).
   */
  run(args: string[]): Promise<{ status: number; out: string }> {
    return this.runAsync(args);
  }

  /**
   * For commands that talk to the vault (openssl ocsp): the vault runs in this process, so a
   * synchronous child would block the very server it is waiting for.
   */
  async runAsync(args: string[]): Promise<{ status: number; out: string }> {
    return new Promise((resolve) => {
      let out = "";
      const child = spawn("openssl", args, { cwd: this.dir, timeout: 60_000 });
      child.stdout.on("data", (d) => (out += d));
      child.stderr.on("data", (d) => (out += d));
      child.on("close", (code) => resolve({ status: code ?? -1, out }));
    });
  }

  async okAsync(args: string[]): Promise<string> {
    const { status, out } = await this.runAsync(args);
    expect(status, out).toBe(0);
    return out;
  }

  ok(args: string[]): Promise<string> {
    return this.okAsync(args);
  }

  /** `openssl verify -CAfile root -untrusted intermediates leaf`. */
  verify(root: string, intermediates: string[], leaf: string): Promise<{ status: number; out: string }> {
    const ca = this.file(`root-${Math.random().toString(36).slice(2)}.pem`, root);
    const untrusted = intermediates.length ? ["-untrusted", this.file(`int-${Math.random().toString(36).slice(2)}.pem`, intermediates.join("\n"))] : [];
    const leafFile = this.file(`leaf-${Math.random().toString(36).slice(2)}.pem`, leaf);
    return this.run(["verify", "-CAfile", ca, ...untrusted, leafFile]);
  }

  /** A key and CSR made by openssl: `ec:P-256`, `ec:P-384` or `rsa:2048`. */
  async csr(key: string, subject: string, sans: string[] = []): Promise<{ csr: string; keyFile: string }> {
    const name = Math.random().toString(36).slice(2);
    const keyFile = join(this.dir, `${name}.key`);
    const csrFile = join(this.dir, `${name}.csr`);
    const newkey = key.startsWith("ec:") ? ["-newkey", "ec", "-pkeyopt", `ec_paramgen_curve:${key.slice(3)}`] : ["-newkey", key];
    const addext = sans.length ? ["-addext", `subjectAltName=${sans.join(",")}`] : [];
    await this.okAsync(["req", "-new", ...newkey, "-nodes", "-keyout", keyFile, "-out", csrFile, "-subj", subject, ...addext]);
    return { csr: readFileSync(csrFile, "utf8"), keyFile };
  }
}

export function expectError(response: ApiResponse, status: number, code: string): void {
  expect(response.status, response.text).toBe(status);
  expect(response.body?.error?.code, response.text).toBe(code);
}

export async function created(response: Promise<ApiResponse>): Promise<any> {
  const r = await response;
  expect(r.status, r.text).toBe(201);
  return r.body;
}

/** A root (EC P-256), an intermediate under it and a role on the intermediate. */
export async function hierarchy(admin: ApiClient, prefix: string, role: Record<string, unknown> = {}, intermediate: Record<string, unknown> = { key_type: "ec", key_size: 384 }) {
  const root = await created(admin.post("/v1/pki/ca", { name: `${prefix}-root`, common_name: `${prefix} Root CA`, ca_type: "root", key_type: "ec", key_size: 256 }));
  const int = await created(admin.post("/v1/pki/ca", { name: `${prefix}-int`, common_name: `${prefix} Intermediate`, ca_type: "intermediate", parent_ca_id: root.id, ...intermediate }));
  const roleBody = await created(admin.post("/v1/pki/roles", { name: `${prefix}-role`, ca_id: int.id, allowed_domains: ["svc.cluster.local"], allow_subdomains: true, key_type: "ec", key_bits: 256, ...role }));
  const rootPem = (await admin.get(`/v1/pki/ca/${root.id}/certificate`)).body.certificate_pem as string;
  const intPem = (await admin.get(`/v1/pki/ca/${int.id}/certificate`)).body.certificate_pem as string;
  return { root, int, role: roleBody, rootPem, intPem };
}


export { everyStoredValue } from "../testing/stored-bytes.js";

/** A 48-character run from the second line of a PEM's base64 body (unique to it; one line, as stored). */
export function keyChunk(pem: string): string {
  const lines = pem.split("\n").filter((line) => line && !line.startsWith("-----"));
  return lines[1].slice(8, 56);
}

// Node's PKCS#8 DER for an EC P-256 key starts so: a CA key stored raw would show it.
export const EC_P256_PKCS8_PREFIX = Buffer.from("308187020100301306072a8648ce3d020106082a8648ce3d030107", "hex");

/**
 * `count` finished ACME orders of the default tenant, `order_1` … `order_<count>`, put straight into
 * the table one millisecond apart from `base`: even ones `valid`, odd ones `invalid` (the background
 * worker picks up neither).
 */
export async function insertAcmeOrders(db: Database, count: number, base: number): Promise<void> {
  await db.run(
    `INSERT INTO acme_orders (id, tenant_id, partner_id, account_id, domains, challenge_type, dns_provider_id, key_type, key_bits, secret_path, auto_renew, renew_before, status,
                             error, certificate_id, serial_number, not_after, renewals, next_renewal_at, run_at, created_by, created_at, updated_at)
     WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < ${count})
     SELECT 'order_' || g, 'tnt_default', 'ptn_default', 'acme_x', '["a.example"]', 'http-01', NULL, 'ec', 256, 'pki/acme/a.example', 0, '30d',
            CASE g % 2 WHEN 0 THEN 'valid' ELSE 'invalid' END, NULL, NULL, NULL, NULL, 0, NULL, NULL, 'user:admin', ${base} + g, ${base} + g
       FROM s`,
  );
}
