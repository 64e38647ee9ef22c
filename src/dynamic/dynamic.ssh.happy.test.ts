import { createPublicKey, generateKeyPairSync, verify } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { run, userWith } from "./testing.js";

/** SSH wire strings (uint32 length, bytes) read in turn, with fixed-size fields skipped by `skip`. */
class Wire {
  at = 0;
  constructor(private readonly buffer: Buffer) {}
  string(): Buffer {
    const length = this.buffer.readUInt32BE(this.at);
    const value = this.buffer.subarray(this.at + 4, this.at + 4 + length);
    this.at += 4 + length;
    return value;
  }
  skip(bytes: number): void {
    this.at += bytes;
  }
}

/** An ed25519 user certificate (PROTOCOL.certkeys): the signed bytes, the signing key blob and the signature. */
function parseEd25519Cert(blob: Buffer) {
  const wire = new Wire(blob);
  expect(wire.string().toString()).toBe("ssh-ed25519-cert-v01@openssh.com");
  wire.string(); // nonce
  wire.string(); // the user's public key
  wire.skip(8 + 4); // serial, type
  wire.string(); // key id
  wire.string(); // principals
  wire.skip(8 + 8); // valid after, valid before
  wire.string(); // critical options
  wire.string(); // extensions
  wire.string(); // reserved
  const signatureKey = wire.string();
  const signedEnd = wire.at;
  const signature = new Wire(wire.string());
  expect(wire.at).toBe(blob.length);
  return { signed: blob.subarray(0, signedEnd), signatureKey, signatureType: signature.string().toString(), signature: signature.string() };
}

describeEachBackend("dynamic: ssh engine (signed OpenSSH user certificates, CA key, KRL)", (backend) => {
  const vault = useVault(backend);
  let dir: string;
  const keys: Record<string, string> = {};

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "scaivault-ssh-"));
    for (const [name, args] of [["ed25519", ["-t", "ed25519"]], ["ecdsa", ["-t", "ecdsa", "-b", "256"]], ["rsa", ["-t", "rsa", "-b", "2048"]]] as const) {
      const made = await run("ssh-keygen", [...args, "-N", "", "-q", "-C", `user-${name}`, "-f", join(dir, name)]);
      if (made.code !== 0) throw new Error(made.stderr);
      keys[name] = readFileSync(join(dir, `${name}.pub`), "utf8");
    }
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function sign(engine: string, body: Record<string, unknown>) {
    const lease = await vault().admin.post(`/v1/dynamic/engines/${engine}/creds/ops`, body);
    expect(lease.status, lease.text).toBe(201);
    return lease.body;
  }

  it("issues certificates that ssh-keygen -L shows with their principals and validity, signed by the served CA key", async () => {
    const { admin, anonymous } = vault();
    const engine = await admin.post("/v1/dynamic/engines", { name: "ssh", type: "ssh", config: {}, default_ttl: "30m", max_ttl: "1h" });
    expect(engine.status, engine.text).toBe(201);
    expect(engine.body.config).toEqual({ key_type: "ed25519" });
    const ca = await anonymous.get(`/v1/dynamic/engines/${engine.body.id}/ssh/ca`);
    expect(ca.status).toBe(200);
    expect(ca.headers.get("content-type")).toMatch(/^text\/plain/);
    expect(ca.text.trim()).toBe(engine.body.ca_public_key);
    writeFileSync(join(dir, "ca.pub"), ca.text);
    const caFingerprint = (await run("ssh-keygen", ["-l", "-f", join(dir, "ca.pub")])).stdout.split(" ")[1];
    expect(caFingerprint).toMatch(/^SHA256:/);

    expect((await admin.post("/v1/dynamic/engines/ssh/roles", { name: "ops", allowed_users: ["deploy", "ops"], default_user: "deploy", default_extensions: { "permit-pty": "" } })).status).toBe(201);
    for (const kind of ["ed25519", "ecdsa", "rsa"]) {
      const lease = await sign("ssh", { public_key: keys[kind], valid_principals: ["deploy", "ops"], ttl: "10m" });
      expect(lease.data).toMatchObject({ key_id: lease.lease_id, valid_principals: ["deploy", "ops"] });
      expect(lease.data.serial_number).toMatch(/^[0-9]+$/);
      const certFile = join(dir, `${kind}-cert.pub`);
      writeFileSync(certFile, `${lease.data.signed_key}\n`);
      const shown = await run("ssh-keygen", ["-L", "-f", certFile]);
      expect(shown.code, shown.stderr).toBe(0);
      expect(shown.stdout).toMatch(/Type: .*user certificate/);
      expect(shown.stdout).toContain(`Signing CA: ED25519 ${caFingerprint}`);
      expect(shown.stdout).toContain(`Key ID: "${lease.lease_id}"`);
      expect(shown.stdout).toContain(`Serial: ${lease.data.serial_number}`);
      expect(shown.stdout).toMatch(/Principals: \n\s+deploy\n\s+ops\n/);
      expect(shown.stdout).toMatch(/permit-pty/);
      const validity = /Valid: from (\S+) to (\S+)/.exec(shown.stdout);
      expect(validity).not.toBeNull();
      // ssh-keygen prints local time without a zone; compare the span, which does not depend on it.
      expect(Date.parse(validity![2]) - Date.parse(validity![1])).toBe(Date.parse(lease.data.valid_before) - Date.parse(lease.data.valid_after));
    }
  });

  it("the served CA public key verifies the certificate's signature (checked here with node:crypto, not only by ssh-keygen)", async () => {
    const { admin, anonymous } = vault();
    const engineId = (await admin.get("/v1/dynamic/engines/ssh")).body.id;
    const caLine = (await anonymous.get(`/v1/dynamic/engines/${engineId}/ssh/ca`)).text.trim();
    const lease = await sign("ssh", { public_key: keys.ed25519 });
    const cert = parseEd25519Cert(Buffer.from(lease.data.signed_key.split(" ")[1], "base64"));
    expect(cert.signatureType).toBe("ssh-ed25519");
    const caBlob = Buffer.from(caLine.split(" ")[1], "base64");
    // The certificate names the served key as its signer, and that key's bytes verify the signature.
    expect(cert.signatureKey.equals(caBlob)).toBe(true);
    const caKey = new Wire(caBlob);
    expect(caKey.string().toString()).toBe("ssh-ed25519");
    const ed25519 = (raw: Buffer) => createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: raw.toString("base64url") }, format: "jwk" });
    const ca = ed25519(caKey.string());
    expect(verify(null, cert.signed, ca, cert.signature)).toBe(true);
    // Another key does not verify it, and neither does the CA key over changed bytes.
    const stranger = generateKeyPairSync("ed25519").publicKey;
    expect(verify(null, cert.signed, stranger, cert.signature)).toBe(false);
    const changed = Buffer.from(cert.signed);
    changed[changed.length - 10] ^= 0x01;
    expect(verify(null, changed, ca, cert.signature)).toBe(false);
  });

  it("the certificate's signature is checked: one changed byte in it and ssh-keygen refuses the certificate", async () => {
    const lease = await sign("ssh", { public_key: keys.ed25519 });
    const [type, b64, comment] = lease.data.signed_key.split(" ");
    const blob = Buffer.from(b64, "base64");
    blob[blob.length - 5] ^= 0x01; // inside the signature bytes
    const tampered = join(dir, "tampered-cert.pub");
    writeFileSync(tampered, `${type} ${blob.toString("base64")} ${comment}\n`);
    const shown = await run("ssh-keygen", ["-L", "-f", tampered]);
    expect(shown.code).not.toBe(0);
    // The untampered one is fine (same key, same role).
    writeFileSync(join(dir, "good-cert.pub"), `${lease.data.signed_key}\n`);
    expect((await run("ssh-keygen", ["-L", "-f", join(dir, "good-cert.pub")])).code).toBe(0);
  });

  it("lists revoked certificates in the KRL: ssh-keygen -Q says REVOKED for them only", async () => {
    const { admin, anonymous } = vault();
    const engineId = (await admin.get("/v1/dynamic/engines/ssh")).body.id;
    const revokedLease = await sign("ssh", { public_key: keys.ed25519 });
    const keptLease = await sign("ssh", { public_key: keys.ed25519 });
    writeFileSync(join(dir, "revoked-cert.pub"), `${revokedLease.data.signed_key}\n`);
    writeFileSync(join(dir, "kept-cert.pub"), `${keptLease.data.signed_key}\n`);
    expect((await admin.post(`/v1/dynamic/leases/${revokedLease.lease_id}/revoke`)).body.state).toBe("revoked");
    const krl = await fetch(`${anonymous.baseUrl}/v1/dynamic/engines/${engineId}/ssh/krl`);
    expect(krl.status).toBe(200);
    expect(krl.headers.get("content-type")).toBe("application/octet-stream");
    writeFileSync(join(dir, "krl"), Buffer.from(await krl.arrayBuffer()));
    const revoked = await run("ssh-keygen", ["-Q", "-f", join(dir, "krl"), join(dir, "revoked-cert.pub")]);
    expect(revoked.stdout).toMatch(/REVOKED/);
    const kept = await run("ssh-keygen", ["-Q", "-f", join(dir, "krl"), join(dir, "kept-cert.pub")]);
    expect(kept.code).toBe(0);
    expect(kept.stdout).toMatch(/ok/);
    expect((await anonymous.get("/v1/dynamic/engines/eng_AAAAAAAAAAAAAAAAAAAA/ssh/ca")).status).toBe(404);
    // The public reads are audited in the engine's tenant, as `anonymous`, with the engine id.
    for (const action of ["dynamic_ssh_ca_read", "dynamic_ssh_krl_read"]) {
      const logs = (await admin.get(`/v1/audit/logs?action=${action}`)).body.logs as Array<Record<string, any>>;
      const served = logs.filter((entry) => entry.success);
      expect(served.length, action).toBeGreaterThan(0);
      expect(served[0]).toMatchObject({ identity_id: "anonymous", extra_data: { engine_id: engineId } });
    }
  });

  it("drops a serial from the KRL once its certificate cannot be valid any more (past its lease's longest end)", async () => {
    const { admin, anonymous, vault: server } = vault();
    const engineId = (await admin.get("/v1/dynamic/engines/ssh")).body.id;
    const [ended, live] = [await sign("ssh", { public_key: keys.ed25519 }), await sign("ssh", { public_key: keys.ed25519 })];
    for (const lease of [ended, live]) expect((await admin.post(`/v1/dynamic/leases/${lease.lease_id}/revoke`)).body.state).toBe("revoked");
    const now = Date.now();
    await server.db.run("UPDATE dynamic_leases SET expires_at = ?, max_expires_at = ? WHERE id = ?", [now - 120_000, now - 60_000, ended.lease_id]);
    writeFileSync(join(dir, "ended-cert.pub"), `${ended.data.signed_key}\n`);
    writeFileSync(join(dir, "live-cert.pub"), `${live.data.signed_key}\n`);
    const krl = await fetch(`${anonymous.baseUrl}/v1/dynamic/engines/${engineId}/ssh/krl`);
    writeFileSync(join(dir, "krl-bounded"), Buffer.from(await krl.arrayBuffer()));
    expect((await run("ssh-keygen", ["-Q", "-f", join(dir, "krl-bounded"), join(dir, "live-cert.pub")])).stdout).toMatch(/REVOKED/);
    const dropped = await run("ssh-keygen", ["-Q", "-f", join(dir, "krl-bounded"), join(dir, "ended-cert.pub")]);
    expect(dropped.code).toBe(0);
    expect(dropped.stdout).toMatch(/ok/);
  });

  it("refuses principals the role does not allow (name_not_allowed), bad keys (422), and callers without the role's policy", async () => {
    const { admin } = vault();
    const refused = await admin.post("/v1/dynamic/engines/ssh/creds/ops", { public_key: keys.ed25519, valid_principals: ["root"] });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatchObject({ code: "name_not_allowed", details: { principals: ["root"] } });
    for (const bad of ["ssh-ed25519 AAAA", "not a key", `ssh-ed25519 ${Buffer.from("garbage").toString("base64")}`]) {
      expect((await admin.post("/v1/dynamic/engines/ssh/creds/ops", { public_key: bad })).status, bad).toBe(422);
    }
    const user = await userWith(admin, `ssh-${backend}`, ["dynamic:read"], ["sys/dynamic/other/*"]);
    expect((await user.post("/v1/dynamic/engines/ssh/creds/ops", { public_key: keys.ed25519 })).status).toBe(403);
  });

  it("ecdsa and rsa CAs sign certificates ssh-keygen accepts", async () => {
    const { admin } = vault();
    for (const keyType of ["ecdsa", "rsa"]) {
      const engine = await admin.post("/v1/dynamic/engines", { name: `ssh-${keyType}`, type: "ssh", config: { key_type: keyType } });
      expect(engine.status, engine.text).toBe(201);
      await admin.post(`/v1/dynamic/engines/ssh-${keyType}/roles`, { name: "ops", allowed_users: ["deploy"] });
      const lease = await sign(`ssh-${keyType}`, { public_key: keys.ed25519 });
      const file = join(dir, `by-${keyType}-cert.pub`);
      writeFileSync(file, `${lease.data.signed_key}\n`);
      const shown = await run("ssh-keygen", ["-L", "-f", file]);
      expect(shown.code, shown.stderr).toBe(0);
      expect(shown.stdout).toMatch(keyType === "rsa" ? /Signing CA: RSA / : /Signing CA: ECDSA /);
      expect(shown.stdout).toMatch(/Principals: \n\s+deploy\n/);
    }
  });
});
