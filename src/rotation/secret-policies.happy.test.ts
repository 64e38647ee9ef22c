import { createPrivateKey, createPublicKey, sign, verify } from "node:crypto";
import bcrypt from "bcryptjs";
import { expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";

const EVERY_GENERATOR = [
  { name: "password", generator: "random", config: { length: 40, charset: "ascii", require_symbol: true, require_digit: true } },
  { name: "pin", generator: "random", config: { length: 6, charset: "numeric" } },
  { name: "token", generator: "hex", config: { length: 31 } },
  { name: "id4", generator: "uuid" },
  { name: "id7", generator: "uuid", config: { version: 7 } },
  { name: "api_key", generator: "template", config: { template: "sk_live_{{random:24}}_{{hex:8}}_{{timestamp}}_{{uuid}}" } },
  { name: "rsa", generator: "rsa_keypair" },
  { name: "ec", generator: "ec_keypair", config: { curve: "P-384" } },
  { name: "private_key", generator: "ssh_keypair", config: { comment: "deploy@ci" } },
  { name: "legacy_key", generator: "ssh_keypair", config: { key_type: "rsa", bits: 2048 } },
  { name: "db_password", generator: "bcrypt_hash", config: { rounds: 4, length: 20 } },
  { name: "region", generator: "static", config: { value: "eu-west-1" } },
];

/** Reads an RFC 4251 string at `offset` of an OpenSSH blob. */
function sshStrings(blob: Buffer, count: number, offset = 0): { values: Buffer[]; end: number } {
  const values: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const length = blob.readUInt32BE(offset);
    values.push(blob.subarray(offset + 4, offset + 4 + length));
    offset += 4 + length;
  }
  return { values, end: offset };
}

function opensshBody(pem: string): Buffer {
  const match = /^-----BEGIN OPENSSH PRIVATE KEY-----\n([A-Za-z0-9+/=\n]+)-----END OPENSSH PRIVATE KEY-----\n$/.exec(pem);
  expect(match).not.toBeNull();
  return Buffer.from(match![1].replace(/\n/g, ""), "base64");
}

describeEachBackend("secret policies: every generator", (backend) => {
  const vault = useVault(backend);

  it("creates a recipe with every generator and previews values from each", async () => {
    const { admin } = vault();
    const created = await admin.post("/v1/secret-policies", { name: "everything", policy_type: "custom", description: "all generators", fields: EVERY_GENERATOR });
    expect(created.status).toBe(201);
    expect(created.body.id).toMatch(/^sp_[A-Za-z0-9]{20}$/);
    expect(created.body.fields.find((f: { name: string }) => f.name === "id4").config).toEqual({ version: 4 });
    expect(created.body.is_active).toBe(true);

    const preview = await admin.post(`/v1/secret-policies/${created.body.id}/preview`);
    expect(preview.status).toBe(200);
    const data = preview.body.data as Record<string, string>;
    expect(Object.keys(data).sort()).toEqual(
      ["password", "pin", "token", "id4", "id7", "api_key", "rsa", "rsa_public", "ec", "ec_public", "private_key", "public_key", "legacy_key", "legacy_key_public", "db_password", "db_password_hash", "region"].sort(),
    );
    expect(data.password).toMatch(/^[\x21-\x7e]{40}$/);
    expect(data.password).toMatch(/[^A-Za-z0-9]/);
    expect(data.password).toMatch(/[0-9]/);
    expect(data.pin).toMatch(/^[0-9]{6}$/);
    expect(data.token).toMatch(/^[0-9a-f]{31}$/);
    expect(data.id4).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(data.id7).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(Math.abs(parseInt(data.id7.replace(/-/g, "").slice(0, 12), 16) - Date.now())).toBeLessThan(60_000);
    expect(data.api_key).toMatch(/^sk_live_[A-Za-z0-9]{24}_[0-9a-f]{8}_\d{10}_[0-9a-f-]{36}$/);
    expect(data.region).toBe("eu-west-1");
    expect(await bcrypt.compare(data.db_password, data.db_password_hash)).toBe(true);
    expect(data.db_password).toHaveLength(20);
    expect(data.db_password_hash).toMatch(/^\$2b\$04\$/);

    // PEM pairs: the private key signs what the public key verifies.
    for (const [name, details] of [["rsa", { modulusLength: 2048 }], ["ec", { namedCurve: "secp384r1" }]] as const) {
      const privateKey = createPrivateKey(data[name]);
      expect(privateKey.asymmetricKeyDetails).toMatchObject(details);
      const signature = sign("sha256", Buffer.from("probe"), privateKey);
      expect(verify("sha256", Buffer.from("probe"), createPublicKey(data[`${name}_public`]), signature)).toBe(true);
    }

    // OpenSSH ed25519: the file embeds the public key of the line, and its seed signs for it.
    const [type, b64, comment] = data.public_key.split(" ");
    expect([type, comment]).toEqual(["ssh-ed25519", "deploy@ci"]);
    const body = opensshBody(data.private_key);
    expect(body.subarray(0, 15).toString("latin1")).toBe("openssh-key-v1\0");
    const header = sshStrings(body, 3, 15);
    expect(header.values.map((v) => v.toString())).toEqual(["none", "none", ""]);
    expect(body.readUInt32BE(header.end)).toBe(1);
    const { values: [publicBlob, section] } = sshStrings(body, 2, header.end + 4);
    expect(publicBlob.equals(Buffer.from(b64, "base64"))).toBe(true);
    expect(section.length % 8).toBe(0);
    expect(section.readUInt32BE(0)).toBe(section.readUInt32BE(4));
    const { values: [keyType, pub, secret, keyComment] } = sshStrings(section, 4, 8);
    expect(keyType.toString()).toBe("ssh-ed25519");
    expect(keyComment.toString()).toBe("deploy@ci");
    expect(secret.subarray(32).equals(pub)).toBe(true);
    const jwk = { kty: "OKP", crv: "Ed25519", d: secret.subarray(0, 32).toString("base64url"), x: pub.toString("base64url") };
    const edKey = createPrivateKey({ key: jwk, format: "jwk" });
    const edSig = sign(null, Buffer.from("probe"), edKey);
    expect(verify(null, Buffer.from("probe"), createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: pub.toString("base64url") }, format: "jwk" }), edSig)).toBe(true);

    // OpenSSH RSA: public blob is (type, e, n) and the private section repeats n and e.
    const [rsaType, rsaB64] = data.legacy_key_public.split(" ");
    expect(rsaType).toBe("ssh-rsa");
    const rsaBody = opensshBody(data.legacy_key);
    const rsaHeader = sshStrings(rsaBody, 3, 15);
    const { values: [rsaPublic, rsaSection] } = sshStrings(rsaBody, 2, rsaHeader.end + 4);
    expect(rsaPublic.equals(Buffer.from(rsaB64, "base64"))).toBe(true);
    const { values: [, e, n] } = sshStrings(rsaPublic, 3);
    const { values: [sectionType, sectionN, sectionE] } = sshStrings(rsaSection, 3, 8);
    expect(sectionType.toString()).toBe("ssh-rsa");
    expect(sectionN.equals(n)).toBe(true);
    expect(sectionE.equals(e)).toBe(true);
    expect(n.length).toBe(257); // 2048 bits with the sign byte

    const again = (await admin.post(`/v1/secret-policies/${created.body.id}/preview`)).body.data;
    for (const field of ["password", "token", "id4", "api_key", "rsa", "private_key", "db_password"]) expect(again[field]).not.toBe(data[field]);
    expect(again.region).toBe("eu-west-1");
  });

  it("lists, updates and deletes recipes; one in use cannot be deleted", async () => {
    const { admin } = vault();
    const sp = (await admin.post("/v1/secret-policies", { name: "api-keys", policy_type: "api_key", fields: [{ name: "api_key", generator: "hex" }] })).body;
    const list = await admin.get("/v1/secret-policies");
    expect(list.body.data.map((p: { name: string }) => p.name)).toContain("api-keys");
    const patched = await admin.patch(`/v1/secret-policies/${sp.id}`, { description: "rotating keys", fields: [{ name: "api_key", generator: "hex", config: { length: 64 } }] });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ description: "rotating keys", fields: [{ name: "api_key", generator: "hex", config: { length: 64 } }] });
    expect((await admin.post(`/v1/secret-policies/${sp.id}/preview`)).body.data.api_key).toMatch(/^[0-9a-f]{64}$/);

    const rot = (await admin.post("/v1/rotation/policies", { name: "uses-api-keys", interval: "30d", auto_generate: true, secret_policy_id: sp.id })).body;
    const refused = await admin.delete(`/v1/secret-policies/${sp.id}`);
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: "policy_in_use", details: { used_by: [rot.id] } });
    await admin.delete(`/v1/rotation/policies/${rot.id}`);
    expect((await admin.delete(`/v1/secret-policies/${sp.id}`)).body).toEqual({ id: sp.id, deleted: true });
    expect((await admin.get(`/v1/secret-policies/${sp.id}`)).body.error.code).toBe("secret_policy_not_found");
  });
});
