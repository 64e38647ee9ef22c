/**
 * `scaivault-admin backup` / `restore` on SQLite (SPEC §11): an online backup taken while a writer
 * keeps PUTting is a consistent prefix of its writes; restored into a fresh data directory, a fresh
 * server reads every secret and version back and the audit chains verify. Keys only on request,
 * in their own 0600 file; the backup holds no plaintext secret.
 */
import Database from "better-sqlite3";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ApiClient, startVault, type TestVault } from "../testing/harness.js";
import { ADMIN_BIN, admin, snapshot, type Snapshot } from "../testing/vault-snapshot.js";

vi.setConfig({ testTimeout: 240_000, hookTimeout: 120_000 });

const mode = (file: string) => statSync(file).mode & 0o777;

describe("scaivault-admin backup and restore [sqlite]", () => {
  let dir: string;
  let source: TestVault;
  let sourceEnv: Record<string, string>;
  const written = new Map<string, unknown>(); // `${path}@${version}` → data, in write order
  const order: string[] = [];
  const markers: string[] = [];

  const put = async (path: string, data: Record<string, string>) => {
    const answer = await source.admin.put(`/v1/secrets/${path}`, { data });
    if (answer.status !== 200 && answer.status !== 201) throw new Error(`PUT ${path}: ${answer.status} ${JSON.stringify(answer.body)}`);
    const key = `${path}@${answer.body.version}`;
    written.set(key, data);
    order.push(key);
  };
  const marker = () => {
    const m = `plain-${randomBytes(12).toString("hex")}`;
    markers.push(m);
    return m;
  };

  beforeAll(async () => {
    if (!existsSync(ADMIN_BIN)) throw new Error(`${ADMIN_BIN} is missing: run npm run build first`);
    dir = mkdtempSync(join(tmpdir(), "scaivault-admin-"));
    sourceEnv = { DATABASE_URL: `sqlite:${join(dir, "source", "vault.db")}`, KMS_LOCAL_KEY: "", KMS_LOCAL_KEY_FILE: join(dir, "source", "root.key") };
    source = await startVault("sqlite", { env: sourceEnv });
    for (let i = 0; i < 12; i++) {
      await put(`app/seed-${i}`, { password: marker(), user: `u${i}` });
      if (i % 3 === 0) await put(`app/seed-${i}`, { password: marker(), user: `u${i}` });
    }
  });
  afterAll(async () => {
    await source?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("backs up online while a writer PUTs, and restores into a fresh server that reads every secret back", async () => {
    // A reader holding a snapshot keeps the server's checkpoints from moving later writes into the
    // database file: during the backup they live only in the WAL (what a file copy misses).
    const pin = new Database(sourceEnv.DATABASE_URL.slice("sqlite:".length), { readonly: true });
    pin.exec("BEGIN");
    pin.prepare("SELECT count(*) FROM schema_migrations").get();
    // The writer: PUTs one after another until the backups are done.
    let stop = false;
    let writerError: unknown = null;
    const seeded = order.length;
    let firstWrite!: () => void;
    const started = new Promise<void>((resolve) => (firstWrite = resolve));
    const writer = (async () => {
      for (let i = 0; !stop; i++) {
        // A new path per write: a secret keeps only its latest versions, and a fast writer would
        // otherwise push the first ones out (the check below compares every write with the backup).
        await put(`live/s-${i}`, { value: marker(), n: String(i) });
        if (i === 20) firstWrite();
      }
    })().catch((error) => {
      writerError = error;
      firstWrite();
    });
    await started;
    const before = order.length;
    const withKeys = join(dir, "with-keys.db");
    const withoutKeys = join(dir, "without-keys.db");
    const env = { ...sourceEnv };
    const one = await admin(["backup", withKeys, "--include-keys"], env);
    const two = await admin(["backup", withoutKeys, "--json"], env);
    const during = order.length - before;
    stop = true;
    await writer;
    pin.exec("COMMIT");
    pin.close();
    expect(writerError).toBeNull();
    expect(one.stderr).toBe("");
    expect(one.code).toBe(0);
    expect(two.code).toBe(0);
    // The writer really ran while the backups were taken (otherwise this test shows nothing).
    expect(during).toBeGreaterThan(0);
    expect(one.stdout).toMatch(/Root key \(local:[^)]+\) written to .*with-keys\.db\.keys \(mode 0600\)/);
    expect(JSON.parse(two.stdout)).toMatchObject({ ok: true, file: withoutKeys, key_file: null });

    // Modes, the key file only on request, and no plaintext in the backup.
    expect(mode(withKeys)).toBe(0o600);
    expect(mode(`${withKeys}.keys`)).toBe(0o600);
    expect(mode(withoutKeys)).toBe(0o600);
    expect(existsSync(`${withoutKeys}.keys`)).toBe(false);
    const rootKey = readFileSync(sourceEnv.KMS_LOCAL_KEY_FILE, "utf8");
    expect(readFileSync(`${withKeys}.keys`, "utf8")).toBe(rootKey);
    for (const file of [withKeys, withoutKeys]) {
      const bytes = readFileSync(file);
      expect(bytes.subarray(0, 16).toString("latin1")).toBe("SQLite format 3\0");
      const leaked = markers.filter((m) => bytes.includes(m));
      expect(leaked).toEqual([]);
      expect(bytes.includes(rootKey.trim())).toBe(false);
      expect(bytes.includes(Buffer.from(rootKey.trim(), "base64"))).toBe(false);
    }

    // Restoring without the key into a fresh data directory fails, saying what is missing.
    const fresh = join(dir, "fresh");
    const freshEnv = { DATABASE_URL: `sqlite:${join(fresh, "vault.db")}`, KMS_LOCAL_KEY_FILE: join(fresh, "root.key") };
    const keyless = await admin(["restore", withoutKeys], freshEnv);
    expect(keyless.code).toBe(1);
    expect(keyless.stderr).toMatch(/encrypted under the root key local:\S+ and no root key is configured.*--keys FILE/);
    expect(existsSync(join(fresh, "vault.db"))).toBe(false);
    // The wrong key is refused too.
    const wrongKey = join(dir, "wrong.keys");
    writeFileSync(wrongKey, `${randomBytes(32).toString("base64")}\n`, { mode: 0o600 });
    const wrong = await admin(["restore", withoutKeys, "--keys", wrongKey], freshEnv);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/but --keys .*wrong\.keys holds local:/);
    expect(existsSync(join(fresh, "vault.db"))).toBe(false);

    // With the key file: restored, 0600, and a second restore needs --force.
    const restored = await admin(["restore", withoutKeys, "--keys", `${withKeys}.keys`], freshEnv);
    expect(restored.stderr).toBe("");
    expect(restored.code).toBe(0);
    expect(mode(join(fresh, "vault.db"))).toBe(0o600);
    expect(mode(join(fresh, "root.key"))).toBe(0o600);
    expect(readFileSync(join(fresh, "root.key"), "utf8")).toBe(rootKey);
    const again = await admin(["restore", withoutKeys, "--keys", `${withKeys}.keys`], freshEnv);
    expect(again.code).toBe(5);
    expect(again.stderr).toMatch(/exists; stop the server and pass --force/);

    // A fresh server on the restored directory: every secret and version, and the audit chains.
    const restoredVault = await startVault("sqlite", { env: { ...freshEnv, KMS_LOCAL_KEY: "" } });
    try {
      const client = new ApiClient(restoredVault.baseUrl, source.adminToken);
      const got: Snapshot = await snapshot(client);
      const keys = [...got].flatMap(([path, versions]) => versions.map((v) => `${path}@${v.version}`));
      for (const [path, versions] of got) for (const v of versions) expect(v.data, `${path}@${v.version}`).toEqual(written.get(`${path}@${v.version}`));
      // Consistent: exactly the first K writes, K at least every write finished before the backup began.
      const k = keys.length;
      expect(k).toBeGreaterThanOrEqual(before);
      expect(k).toBeGreaterThan(seeded);
      expect(new Set(keys)).toEqual(new Set(order.slice(0, k)));
      const verify = await client.get("/v1/audit/verify");
      expect(verify.status).toBe(200);
      expect(verify.body).toMatchObject({ ok: true });
      expect(verify.body.entries).toBeGreaterThan(k);
    } finally {
      await restoredVault.close();
    }

    // The backup with its key restores the same way (into another directory, with --force over a stale one).
    const other = join(dir, "other");
    const otherEnv = { DATABASE_URL: `sqlite:${join(other, "vault.db")}`, KMS_LOCAL_KEY_FILE: join(other, "root.key") };
    expect((await admin(["restore", withKeys, "--keys", `${withKeys}.keys`], otherEnv)).code).toBe(0);
    writeFileSync(join(other, "vault.db-wal"), "stale");
    expect((await admin(["restore", withKeys], otherEnv)).code).toBe(5);
    const forced = await admin(["restore", withKeys, "--force"], otherEnv);
    expect(forced.code).toBe(0);
    expect(existsSync(join(other, "vault.db-wal"))).toBe(false);
  });

  it("refuses to restore over the database of a running server, even with --force", async () => {
    const answer = await admin(["restore", join(dir, "without-keys.db"), "--force"], sourceEnv);
    expect(answer.code).toBe(1);
    expect(answer.stderr).toMatch(/is in use \(is the server running\?\)/);
    // The running vault is untouched.
    expect((await source.admin.get("/v1/secrets/app/seed-0")).status).toBe(200);
  });

  it("rejects a damaged backup, a missing one, and bad usage with their exit codes", async () => {
    const target = { DATABASE_URL: `sqlite:${join(dir, "t3", "vault.db")}`, KMS_LOCAL_KEY_FILE: join(dir, "t3", "root.key") };
    const damaged = join(dir, "damaged.db");
    const good = readFileSync(join(dir, "with-keys.db"));
    // Keep the header, overwrite pages in the middle.
    const bad = Buffer.from(good);
    randomBytes(bad.length - 8192).copy(bad, 4096);
    writeFileSync(damaged, bad);
    const broken = await admin(["restore", damaged, "--keys", join(dir, "with-keys.db.keys")], target);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(/integrity check|cannot be read|not a ScaiVault database|malformed/);
    expect(existsSync(join(dir, "t3", "vault.db"))).toBe(false);
    const missing = await admin(["restore", join(dir, "nope.db")], target);
    expect(missing.code).toBe(4);
    expect((await admin(["backup"], sourceEnv)).code).toBe(5);
    const unknown = await admin(["backup", join(dir, "x.db"), "--include-key"], sourceEnv);
    expect(unknown.code).toBe(5);
    expect(unknown.stderr).toMatch(/--include-key/);
    const exists = await admin(["backup", join(dir, "with-keys.db")], sourceEnv);
    expect(exists.code).toBe(5);
    expect(exists.stderr).toMatch(/exists; pass --force/);
    const help = await admin(["--help"], {});
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/scaivault-admin backup DEST \[--include-keys\]/);
  });
});
