/**
 * PostgreSQL backup and restore as docs/operations.md describes it: `pg_dump` of a vault's database
 * with secrets, `createdb` + `pg_restore` into a fresh database, a fresh server on it with the same
 * root key reads every secret and version back and its audit chains verify; without the root key it
 * cannot. `scaivault-admin backup` refuses PostgreSQL and points at pg_dump.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { postgresAvailable } from "../testing/backends.js";
import { ApiClient, startVault, type TestVault } from "../testing/harness.js";
import { PG_ADMIN_URL } from "../testing/global-setup.js";
import { ADMIN_BIN, admin, snapshot } from "../testing/vault-snapshot.js";

vi.setConfig({ testTimeout: 240_000, hookTimeout: 120_000 });
const run = promisify(execFile);

/** PostgreSQL's procedure; SQLite's (scaivault-admin backup/restore) is src/cli/admin.backup.test.ts. */
describe.skipIf(!postgresAvailable())("pg_dump backup and restore [postgres]", () => {
  let dir: string;
  let source: TestVault;
  const rootKey = randomBytes(32).toString("base64");
  const restoredName = `sv_test_restored_${randomBytes(5).toString("hex")}`;
  const restoredUrl = (() => {
    const url = new URL(PG_ADMIN_URL);
    url.pathname = `/${restoredName}`;
    return url.toString();
  })();
  const markers: string[] = [];

  beforeAll(async () => {
    if (!existsSync(ADMIN_BIN)) throw new Error(`${ADMIN_BIN} is missing: run npm run build first`);
    dir = mkdtempSync(join(tmpdir(), "scaivault-pgdump-"));
    source = await startVault("postgres", { env: { KMS_LOCAL_KEY: rootKey } });
    for (let i = 0; i < 15; i++) {
      const path = `svc/team-${i % 3}/db-${i}`;
      for (let v = 0; v <= i % 3; v++) {
        const value = `plain-${randomBytes(10).toString("hex")}`;
        markers.push(value);
        const answer = await source.admin.put(`/v1/secrets/${path}`, { data: { password: value, v: String(v) } });
        expect([200, 201]).toContain(answer.status);
      }
    }
  });
  afterAll(async () => {
    await source?.close();
    await run("dropdb", ["--if-exists", "--force", "--maintenance-db", PG_ADMIN_URL, restoredName]).catch(() => undefined);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("scaivault-admin backup refuses PostgreSQL and names pg_dump", async () => {
    const answer = await admin(["backup", join(dir, "x.db"), "--include-keys"], { DATABASE_URL: source.database.url, KMS_LOCAL_KEY: rootKey });
    expect(answer.code).toBe(1);
    expect(answer.stderr).toMatch(/works on SQLite only; this vault uses PostgreSQL: use pg_dump .*docs\/operations\.md/);
    expect(existsSync(join(dir, "x.db"))).toBe(false);
    const restore = await admin(["restore", join(dir, "x.db")], { DATABASE_URL: source.database.url, KMS_LOCAL_KEY: rootKey });
    expect(restore.code).toBe(1);
    expect(restore.stderr).toMatch(/pg_restore/);
  });

  it("pg_dump, createdb, pg_restore: a fresh server with the same root key reads every secret back", async () => {
    const expected = await snapshot(source.admin);
    expect(expected.size).toBe(15);
    // The documented commands (docs/operations.md), with the test's database URLs.
    const dump = join(dir, "vault.dump");
    await run("pg_dump", ["--format=custom", "--file", dump, source.database.url]);
    expect(statSync(dump).size).toBeGreaterThan(0);
    const bytes = readFileSync(dump);
    expect(markers.filter((m) => bytes.includes(m))).toEqual([]);
    await run("createdb", ["--maintenance-db", PG_ADMIN_URL, restoredName]);
    await run("pg_restore", ["--no-owner", "--exit-on-error", "--dbname", restoredUrl, dump]);

    const restored = await startVault("postgres", { env: { DATABASE_URL: restoredUrl, KMS_LOCAL_KEY: rootKey } });
    try {
      const client = new ApiClient(restored.baseUrl, source.adminToken);
      expect(await snapshot(client)).toEqual(expected);
      const verify = await client.get("/v1/audit/verify");
      expect(verify.status).toBe(200);
      expect(verify.body).toMatchObject({ ok: true });
    } finally {
      await restored.close();
    }

    // Without the root key the dump is ciphertext: a server with another key says which key it needs.
    const otherKey = randomBytes(32).toString("base64");
    let failure: unknown = null;
    let wrong: TestVault | null = null;
    try {
      wrong = await startVault("postgres", { env: { DATABASE_URL: restoredUrl, KMS_LOCAL_KEY: otherKey } });
      const read = await new ApiClient(wrong.baseUrl, source.adminToken).get("/v1/secrets/svc/team-0/db-0");
      failure = `read answered ${read.status} ${JSON.stringify(read.body)}`;
    } catch (error) {
      failure = error;
    } finally {
      await wrong?.close();
    }
    expect(String((failure as Error)?.message ?? failure)).toMatch(/is not the one this database's keys are wrapped with/);
  });
});
