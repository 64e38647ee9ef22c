import { existsSync } from "node:fs";
import pg from "pg";
import { afterEach, expect, it, vi } from "vitest";
import { describeEachBackend, type ScratchDatabase } from "./backends.js";
import { PG_ADMIN_URL } from "./global-setup.js";
import { startVault } from "./harness.js";

const created = vi.hoisted(() => [] as ScratchDatabase[]);

// The real scratch databases, noted as they are made, so the test can ask whether they are gone.
vi.mock("./backends.js", async (importOriginal) => {
  const actual = await importOriginal<typeof import("./backends.js")>();
  return {
    ...actual,
    scratchDatabase: async (backend: Parameters<typeof actual.scratchDatabase>[0]) => {
      const database = await actual.scratchDatabase(backend);
      created.push(database);
      return database;
    },
  };
});

async function postgresDatabaseExists(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL });
  await client.connect();
  try {
    const { rowCount } = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [new URL(url).pathname.slice(1)]);
    return rowCount === 1;
  } finally {
    await client.end();
  }
}

/**
 * A vault that refuses to start (a test of a wrong key does this on purpose) must not leave its
 * scratch database behind: each full run of the suite used to leave one PostgreSQL database.
 */
describeEachBackend("test harness: a vault that fails to start", (backend) => {
  afterEach(() => void created.splice(0));

  it("drops the scratch database it made for it", async () => {
    await expect(startVault(backend, { env: { KMS_LOCAL_KEY: "not-a-key" } })).rejects.toThrow();
    expect(created).toHaveLength(1);
    const [database] = created;
    expect(existsSync(database.dir)).toBe(false);
    if (backend === "postgres") expect(await postgresDatabaseExists(database.url)).toBe(false);
  });

  it("keeps and then drops the one of a vault that started", async () => {
    const vault = await startVault(backend);
    const [database] = created;
    expect(existsSync(database.dir)).toBe(true);
    if (backend === "postgres") expect(await postgresDatabaseExists(database.url)).toBe(true);
    await vault.close();
    expect(existsSync(database.dir)).toBe(false);
    if (backend === "postgres") expect(await postgresDatabaseExists(database.url)).toBe(false);
  });
});
