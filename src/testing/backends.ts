import pg from "pg";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, it } from "vitest";
import type { Database, Migration } from "../storage/contract.js";
import { PG_ADMIN_URL } from "./global-setup.js";

export type BackendName = "sqlite" | "postgres";

export const BACKENDS: BackendName[] = ["sqlite", "postgres"];

export function postgresAvailable(): boolean {
  return process.env.SCAIVAULT_TEST_PG !== "0";
}

/** A fresh, empty database for one test file (or one test): a SQLite file or a new PostgreSQL database. */
export interface ScratchDatabase {
  url: string;
  dir: string;
  /** The SQLite file, for tests that inspect what reached the disk. */
  file: string | null;
  drop(): Promise<void>;
}

export async function scratchDatabase(backend: BackendName): Promise<ScratchDatabase> {
  const dir = mkdtempSync(join(tmpdir(), "scaivault-test-"));
  if (backend === "sqlite") {
    const file = join(dir, "vault.db");
    return { url: `sqlite:${file}`, dir, file, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const name = `sv_test_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    dir,
    file: null,
    drop: async () => {
      const client = new pg.Client({ connectionString: PG_ADMIN_URL });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A scratch database of `backend` for the enclosing describe block, opened with the adapter and
 * `migrations` applied before its tests, closed and dropped after them.
 */
export function useScratchDatabase(backend: BackendName, migrations: Migration[], poolSize = 2): () => Database {
  let scratch: ScratchDatabase | undefined;
  let db: Database | undefined;
  beforeAll(async () => {
    scratch = await scratchDatabase(backend);
    db = (await import("../storage/open.js")).openDatabase(scratch.url, { poolSize });
    await db.migrate(migrations);
  });
  afterAll(async () => {
    await db?.close();
    await scratch?.drop();
  });
  return () => {
    if (!db) throw new Error("the scratch database is not open yet");
    return db;
  };
}

/**
 * Runs the same suite once per storage backend. PostgreSQL is skipped only when the global setup
 * found no server outside CI, and that is announced there.
 */
export function describeEachBackend(title: string, suite: (backend: BackendName) => void): void {
  for (const backend of BACKENDS) {
    const run = backend === "postgres" && !postgresAvailable() ? describe.skip : describe;
    run(`${title} [${backend}]`, () => suite(backend));
  }
}

/** A case that exists on one backend only; on the other it is reported as skipped, by name. */
export function onlyOn(backend: BackendName, only: BackendName): typeof it | typeof it.skip {
  return backend === only ? it : it.skip;
}
