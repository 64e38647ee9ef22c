import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { SecretStore } from "../secrets/store.js";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { everyStoredValue } from "../testing/stored-bytes.js";
import { Keyring } from "./keyring.js";
import { LocalRootKey } from "./root-key.js";

/** A value that must never reach the disk, the logs or an error in plaintext. */
const MARKER = `canary-${randomBytes(12).toString("hex")}`;
const SECRET = { data: { password: MARKER, nested: { again: MARKER } }, secret_type: "json", metadata: { description: "no secret here", tags: ["t"] } };


function containsMarker(haystack: Buffer, needle: string): boolean {
  return haystack.includes(Buffer.from(needle, "utf8")) || haystack.includes(Buffer.from(needle, "utf16le")) || haystack.includes(Buffer.from(needle).toString("base64"));
}

describeEachBackend("encryption at rest", (backend) => {
  const vault = useVault(backend, { env: { LOG_LEVEL: "trace" } });

  beforeAll(async () => {
    const { admin, vault: v } = vault();
    expect((await admin.put("/v1/secrets/crypto/a", SECRET)).status).toBe(201);
    expect((await admin.put("/v1/secrets/crypto/a", SECRET)).status).toBe(200);
    expect((await admin.put("/v1/secrets/crypto/b", { data: { other: "value-b" } })).status).toBe(201);
    expect((await admin.put("/v1/secrets/crypto/b", { data: { other: "value-b2" } })).status).toBe(200);
    await v.db.run("INSERT INTO tenants (id, partner_id, name, created_at) VALUES (?, ?, ?, ?)", ["tnt_other", "ptn_default", "Other", Date.now()]);
    expect((await admin.put("/v1/t/tnt_other/secrets/crypto/a", { data: { other: "tenant-two" } })).status).toBe(201);
    expect((await admin.get("/v1/secrets/crypto/a")).body.data).toEqual(SECRET.data);
    expect((await admin.post("/v1/secrets/batch", { paths: ["crypto/a"] })).body.secrets["crypto/a"].data).toEqual(SECRET.data);
    // A failed request that quotes the value in its body must not put it anywhere either.
    await admin.put("/v1/secrets/crypto/a", { data: { password: MARKER }, secret_type: "nope" });
    await admin.put("/v1/secrets/crypto/a", { data: { password: MARKER }, unknown_field: MARKER });
  });

  it("stores no secret value and no token in plaintext in any stored byte", async () => {
    const test = vault();
    // On SQLite the freshest writes are in the WAL: the scan must read it.
    if (test.database.file) expect(existsSync(`${test.database.file}-wal`)).toBe(true);
    const stored = await everyStoredValue(test);
    expect(stored.length).toBeGreaterThan(0);
    for (const value of stored) {
      expect(containsMarker(value, MARKER)).toBe(false);
      expect(containsMarker(value, test.adminToken)).toBe(false);
    }
    // The check can fail: the metadata (not secret) is there in plaintext.
    expect(stored.some((value) => value.includes(Buffer.from("no secret here")))).toBe(true);
  });

  it.skipIf(backend !== "sqlite")("sqlite only: after a checkpoint the main database file holds the rows, and still no value", async () => {
    const test = vault();
    await test.vault.db.run("PRAGMA wal_checkpoint(PASSIVE)");
    const main = readFileSync(test.database.file!);
    expect(main.includes(Buffer.from("no secret here"))).toBe(true);
    expect(containsMarker(main, MARKER)).toBe(false);
    expect(containsMarker(main, test.adminToken)).toBe(false);
  });

  it("logs no secret value and no token, even at trace level", async () => {
    const { logs, adminToken } = vault();
    expect(logs.length).toBeGreaterThan(5);
    const all = logs.join("");
    expect(all).not.toContain(MARKER);
    expect(all).not.toContain(adminToken);
    expect(all).toContain("crypto/a");
  });

  it("names the wrapping key on every wrap: root → partner → tenant → data key", async () => {
    const { vault: v } = vault();
    const keys = await v.db.all<{ id: string; kind: string; owner_id: string; wrapping_key_id: string }>("SELECT id, kind, owner_id, wrapping_key_id FROM crypto_keys");
    const rootKeyId = new LocalRootKey(v.config.kms.localKey as Buffer).keyId;
    const partner = keys.find((k) => k.kind === "partner" && k.owner_id === "ptn_default");
    expect(partner?.wrapping_key_id).toBe(rootKeyId);
    const tenants = keys.filter((k) => k.kind === "tenant");
    expect(tenants.map((k) => k.owner_id).sort()).toEqual(["tnt_default", "tnt_other"]);
    for (const tenant of tenants) expect(tenant.wrapping_key_id).toBe(partner?.id);
    for (const system of keys.filter((k) => k.kind === "system")) expect(system.wrapping_key_id).toBe(rootKeyId);
    const versions = await v.db.all<{ tenant_id: string; key_id: string }>("SELECT tenant_id, key_id FROM secret_versions");
    expect(versions.length).toBe(5);
    for (const version of versions) expect(version.key_id).toBe(tenants.find((t) => t.owner_id === version.tenant_id)?.id);
  });

  /** Copies one version's sealed columns onto another row, reads it, then puts the original back. */
  async function transplant(from: [string, string, number], to: [string, string, number], columns: string[]) {
    const { vault: v, admin } = vault();
    const select = "SELECT ciphertext, wrapped_key, key_id FROM secret_versions WHERE tenant_id = ? AND path = ? AND version = ?";
    const source = (await v.db.get<Record<string, Buffer | string>>(select, from))!;
    const original = (await v.db.get<Record<string, Buffer | string>>(select, to))!;
    const set = async (row: Record<string, Buffer | string>) =>
      v.db.run(`UPDATE secret_versions SET ${columns.map((c) => `${c} = ?`).join(", ")} WHERE tenant_id = ? AND path = ? AND version = ?`, [
        ...columns.map((c) => row[c]),
        ...to,
      ]);
    await set(source);
    try {
      const prefix = to[0] === "tnt_default" ? "" : `/t/${to[0]}`;
      return await admin.get(`/v1${prefix}/secrets/${to[1]}?version=${to[2]}`);
    } finally {
      await set(original);
    }
  }

  function expectOpaqueFailure(response: { status: number; body: any; text: string }): void {
    expect(response.status).toBe(500);
    expect(response.body.error.code).toBe("internal_error");
    expect(response.body.error.message).toBe("An internal error occurred");
    expect(response.body.error.details).toEqual({});
    expect(response.text).not.toContain(MARKER);
    expect(response.text).not.toMatch(/decrypt|cipher|authentic|key_|stack/i);
  }

  it("refuses a ciphertext copied to another path", async () => {
    expectOpaqueFailure(await transplant(["tnt_default", "crypto/a", 2], ["tnt_default", "crypto/b", 2], ["ciphertext", "wrapped_key", "key_id"]));
  });

  it("refuses a ciphertext copied to another version of the same secret", async () => {
    expectOpaqueFailure(await transplant(["tnt_default", "crypto/a", 1], ["tnt_default", "crypto/a", 2], ["ciphertext", "wrapped_key", "key_id"]));
    expectOpaqueFailure(await transplant(["tnt_default", "crypto/b", 1], ["tnt_default", "crypto/b", 2], ["ciphertext"]));
  });

  it("refuses a ciphertext copied to another tenant, with or without its key id", async () => {
    expectOpaqueFailure(await transplant(["tnt_default", "crypto/a", 1], ["tnt_other", "crypto/a", 1], ["ciphertext", "wrapped_key", "key_id"]));
    expectOpaqueFailure(await transplant(["tnt_default", "crypto/a", 1], ["tnt_other", "crypto/a", 1], ["ciphertext", "wrapped_key"]));
  });

  it("refuses a wrapped data key swapped under another ciphertext", async () => {
    expectOpaqueFailure(await transplant(["tnt_default", "crypto/b", 2], ["tnt_default", "crypto/a", 2], ["wrapped_key"]));
  });

  it("reads every original again once the rows are restored, and logs no plaintext for the failures", async () => {
    const { admin, logs } = vault();
    expect((await admin.get("/v1/secrets/crypto/a")).body.data).toEqual(SECRET.data);
    expect((await admin.get("/v1/secrets/crypto/b")).body.data).toEqual({ other: "value-b2" });
    expect((await admin.get("/v1/t/tnt_other/secrets/crypto/a")).body.data).toEqual({ other: "tenant-two" });
    expect(logs.join("")).not.toContain(MARKER);
    expect(logs.join("")).toContain("request failed");
  });

  it("refuses a tenant key wrap copied to another tenant (fresh keyring, nothing cached)", async () => {
    const { vault: v } = vault();
    const store = new SecretStore(v.db);
    const keys = await v.db.all<{ id: string; owner_id: string; wrapped: Buffer }>("SELECT id, owner_id, wrapped FROM crypto_keys WHERE kind = 'tenant'");
    const mine = keys.find((k) => k.owner_id === "tnt_default")!;
    const theirs = keys.find((k) => k.owner_id === "tnt_other")!;
    const head = (await store.getWithVersion("tnt_other", "crypto/a", 1))!.version!;
    const sealed = { ciphertext: Buffer.from(head.ciphertext!), wrappedDataKey: Buffer.from(head.wrapped_key!), tenantKeyId: head.key_id! };
    const fresh = () => new Keyring(v.db, new LocalRootKey(v.config.kms.localKey as Buffer));
    const address = { tenantId: "tnt_other", path: "crypto/a", version: 1 };
    expect(JSON.parse((await fresh().decryptSecret(address, sealed)).toString("utf8"))).toEqual({ other: "tenant-two" });
    await v.db.run("UPDATE crypto_keys SET wrapped = ? WHERE id = ?", [Buffer.from(mine.wrapped), theirs.id]);
    try {
      await expect(fresh().decryptSecret(address, sealed)).rejects.toThrow(/ciphertext failed authentication/);
    } finally {
      await v.db.run("UPDATE crypto_keys SET wrapped = ? WHERE id = ?", [Buffer.from(theirs.wrapped), theirs.id]);
    }
    const otherRoot = new Keyring(v.db, new LocalRootKey(randomBytes(32)));
    await expect(otherRoot.decryptSecret(address, sealed)).rejects.toThrow(/is not the one this database's keys are wrapped with/);
  });
});

describeEachBackend("local root key file", (backend) => {
  const keyDir = mkdtempSync(join(tmpdir(), "scaivault-rootkey-"));
  afterAll(() => rmSync(keyDir, { recursive: true, force: true }));
  const vault = useVault(backend, { env: { KMS_LOCAL_KEY: "", KMS_LOCAL_KEY_FILE: join(keyDir, "nested", "root.key") } });

  it("is created with mode 0600 when KMS_LOCAL_KEY is unset, and holds 32 base64 bytes", async () => {
    const { vault: v, admin } = vault();
    expect(v.config.kms.localKey).toBeNull();
    expect(v.rootKeyFileCreated).toBe(v.config.kms.localKeyFile);
    const mode = statSync(v.config.kms.localKeyFile).mode & 0o777;
    expect(mode.toString(8)).toBe("600");
    expect(Buffer.from(readFileSync(v.config.kms.localKeyFile, "utf8").trim(), "base64")).toHaveLength(32);
    expect((statSync(join(keyDir, "nested")).mode & 0o777).toString(8)).toBe("700");
    expect((await admin.put("/v1/secrets/rk/one", { data: { a: 1 } })).status).toBe(201);
    expect((await admin.get("/v1/secrets/rk/one")).body.data).toEqual({ a: 1 });
  });
});
