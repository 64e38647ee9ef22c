import Database from "better-sqlite3";
import { execFileSync } from "node:child_process";
import { chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startVault, type ApiResponse, type TestVault } from "../testing/harness.js";
import { freePort } from "../testing/ports.js";

const PG_BIN = "/usr/lib/postgresql/15/bin";

function expectUnavailable(response: ApiResponse): void {
  expect(response.status).toBe(503);
  expect(response.body.error.code).toBe("service_unavailable");
  expect(response.body.error.request_id).toBe(response.headers.get("x-request-id"));
  expect(response.headers.get("retry-after")).toMatch(/^[1-9]\d*$/);
  expect(response.text).not.toMatch(/SQLITE|ECONNREFUSED|postgres:|stack/i);
}

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await work();
  return { value, ms: performance.now() - started };
}

async function waitFor(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return false;
}

/** A PostgreSQL cluster of our own on another port: stopping it harms no other suite. */
class ThrowawayCluster {
  readonly dir = mkdtempSync(join(tmpdir(), "scaivault-pg-outage-"));
  constructor(readonly port: number) {}

  private asPostgres(...args: string[]): void {
    execFileSync("runuser", ["-u", "postgres", "--", ...args], { stdio: "pipe" });
  }
  init(): void {
    chownSync(this.dir, Number(execFileSync("id", ["-u", "postgres"]).toString()), Number(execFileSync("id", ["-g", "postgres"]).toString()));
    this.asPostgres(`${PG_BIN}/initdb`, "-D", join(this.dir, "data"), "-A", "trust", "-U", "postgres", "--no-sync");
  }
  start(): void {
    this.asPostgres(`${PG_BIN}/pg_ctl`, "-D", join(this.dir, "data"), "-o", `-p ${this.port} -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off`, "-w", "-l", join(this.dir, "log"), "start");
  }
  stop(mode = "fast"): void {
    this.asPostgres(`${PG_BIN}/pg_ctl`, "-D", join(this.dir, "data"), "-m", mode, "-w", "stop");
  }
  get url(): string {
    return `postgresql://postgres@127.0.0.1:${this.port}/postgres`;
  }
  destroy(): void {
    try {
      this.stop("immediate");
    } catch {
      // already stopped
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

describe("storage outage: PostgreSQL stopped under a running vault [postgres]", () => {
  let cluster: ThrowawayCluster;
  let node: TestVault;

  beforeAll(async () => {
    cluster = new ThrowawayCluster(await freePort());
    cluster.init();
    cluster.start();
    node = await startVault("sqlite", { env: { DATABASE_URL: cluster.url } });
  }, 120_000);

  afterAll(async () => {
    await node?.close().catch(() => {});
    cluster?.destroy();
  });

  it("answers 503 + Retry-After promptly, reports not ready, and recovers without a restart", async () => {
    const { admin, anonymous } = node;
    expect(node.vault.db.dialect).toBe("postgres");
    expect((await admin.put("/v1/secrets/outage/db", { data: { password: "before-outage" } })).status).toBe(201);

    cluster.stop("fast");

    const read = await timed(() => admin.get("/v1/secrets/outage/db"));
    expectUnavailable(read.value);
    // A hang detector (5× DATABASE_ACQUIRE_TIMEOUT's 2 s), not a latency assertion: the behaviour
    // asserted is the 503. The test's own limit leaves room for all three bounds and the recovery.
    expect(read.ms).toBeLessThan(10_000);
    const write = await timed(() => admin.put("/v1/secrets/outage/db", { data: { password: "during-outage" } }));
    expectUnavailable(write.value);
    expect(write.ms).toBeLessThan(10_000);
    const ready = await timed(() => anonymous.get("/v1/health/ready"));
    expect(ready.ms).toBeLessThan(10_000);
    expect(ready.value.status).toBe(503);
    expect(ready.value.headers.get("retry-after")).toBe("1");
    expect(ready.value.body).toEqual({
      status: "not_ready",
      checks: { database: "error", redis: "disabled", encryption: "ok" },
      errors: { database: "unreachable" },
    });
    expect((await anonymous.get("/v1/health")).status).toBe(200);

    cluster.start();
    expect(await waitFor(async () => (await anonymous.get("/v1/health/ready")).status === 200, 15_000)).toBe(true);
    const after = await admin.get("/v1/secrets/outage/db");
    expect(after.status).toBe(200);
    expect(after.body.data).toEqual({ password: "before-outage" });
    expect(after.body.version).toBe(1);
    const next = await admin.put("/v1/secrets/outage/db", { data: { password: "after-outage" } });
    expect(next.status).toBe(200);
    expect(next.body.version).toBe(2);
    expect(node.logs.join("")).not.toContain("before-outage");
  }, 90_000);
});

/** A tiny filesystem of our own: filling it really fills the disk under SQLite. */
function mountTmpfs(dir: string, size: string): boolean {
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir], { stdio: "pipe" });
    return true;
  } catch {
    return false;
  }
}

const mountRoot = mkdtempSync(join(tmpdir(), "scaivault-full-"));
const canMount = mountTmpfs(mountRoot, "6m");
// Outside CI a developer without root may skip this one case (a named, permanent reason); CI runs
// as root and must run it, so there the mount failing fails the suite instead of skipping.
if (!canMount) process.stderr.write(`\nNOTICE: cannot mount a tmpfs here (needs root); the SQLite disk-full test is ${process.env.CI ? "FAILING (CI must run it)" : "SKIPPED"}.\n\n`);

describe("storage faults under SQLite [sqlite]", () => {
  afterAll(() => {
    if (canMount) execFileSync("umount", ["-l", mountRoot]);
    rmSync(mountRoot, { recursive: true, force: true });
  });

  it.skipIf(!canMount && !process.env.CI)("answers 503 when the disk is full, loses nothing, and resumes when space returns", async () => {
    expect(canMount, "a 6 MiB tmpfs could not be mounted (the disk-full case needs root)").toBe(true);
    const dbDir = join(mountRoot, "db");
    mkdirSync(dbDir);
    const file = join(dbDir, "vault.db");
    const node = await startVault("sqlite", { env: { DATABASE_URL: `sqlite:${file}` } });
    try {
      const { admin } = node;
      expect((await admin.put("/v1/secrets/full/kept", { data: { v: "kept-value" } })).status).toBe(201);
      // Fill what is left of the filesystem.
      const filler = join(mountRoot, "filler");
      let chunks = 0;
      try {
        for (;;) {
          writeFileSync(filler, Buffer.alloc(64 * 1024, 1), { flag: "a" });
          chunks++;
        }
      } catch (error) {
        expect((error as NodeJS.ErrnoException).code).toBe("ENOSPC");
      }
      expect(chunks).toBeGreaterThan(0);

      let failure: ApiResponse | null = null;
      for (let i = 0; i < 20 && !failure; i++) {
        const response = await admin.put(`/v1/secrets/full/new-${i}`, { data: { blob: "z".repeat(60_000) } });
        if (response.status !== 201) failure = response;
      }
      expect(failure).not.toBeNull();
      expectUnavailable(failure!);

      // A read is audited before it answers: with no room for the entry, the value is withheld too.
      // A small entry may still fit in a page SQLite already holds (the failed write left it free);
      // then the value may be answered, but only with its entry stored (checked once space returns).
      const kept = await admin.get("/v1/secrets/full/kept");
      if (kept.status !== 200) {
        expectUnavailable(kept);
        expect(kept.text).not.toContain("kept-value");
      }

      rmSync(filler);
      if (kept.status === 200) {
        const reads = await admin.get(`/v1/audit/logs?action=read&path_prefix=${encodeURIComponent("full/kept")}&limit=10`);
        expect(reads.body.logs.map((l: { request_id: string }) => l.request_id)).toContain(kept.headers.get("x-request-id"));
      }
      const resumed = await admin.put("/v1/secrets/full/after", { data: { v: "after" } });
      expect(resumed.status).toBe(201);
      expect((await admin.get("/v1/secrets/full/kept")).body.data).toEqual({ v: "kept-value" });
    } finally {
      await node.close();
    }
    const check = new Database(file, { readonly: true });
    expect(check.pragma("integrity_check", { simple: true })).toBe("ok");
    check.close();
  });

  it("answers 503 when the database turns read-only under it, and resumes when it is writable again", async () => {
    const node = await startVault("sqlite");
    // Root ignores file modes and a busy filesystem cannot be remounted read-only, so the writer
    // connection is switched to query_only: SQLite itself then refuses writes with SQLITE_READONLY.
    // vault.db is the timed wrapper (src/ops/instrument.ts) around the SQLite adapter.
    const writer = (node.vault.db as unknown as { db: { writer: { handle: Database.Database } } }).db.writer.handle;
    try {
      const { admin } = node;
      expect((await admin.put("/v1/secrets/ro/kept", { data: { v: "kept" } })).status).toBe(201);
      writer.pragma("query_only = ON");
      expectUnavailable(await admin.put("/v1/secrets/ro/new", { data: { v: "new" } }));
      writer.pragma("query_only = OFF");
      expect((await admin.put("/v1/secrets/ro/new", { data: { v: "new" } })).status).toBe(201);
      expect((await admin.get("/v1/secrets/ro/kept")).body.data).toEqual({ v: "kept" });
    } finally {
      await node.close();
    }
  });
});
