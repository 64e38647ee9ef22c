import { existsSync, readFileSync } from "node:fs";
import pg from "pg";
import type { TestVault } from "./harness.js";

/**
 * Every stored byte of a test vault, for "never on disk in plaintext" scans: the SQLite files (with
 * the WAL and shared memory), or every text, JSON and binary value of every PostgreSQL table. It
 * throws when there is nothing to scan, so a scan can never pass by reading nothing.
 */
export async function everyStoredValue(test: TestVault): Promise<Buffer[]> {
  if (test.database.file) {
    if (!existsSync(test.database.file)) throw new Error(`no database file at ${test.database.file}`);
    return [test.database.file, `${test.database.file}-wal`, `${test.database.file}-shm`].filter(existsSync).map((file) => readFileSync(file));
  }
  const client = new pg.Client({ connectionString: test.database.url });
  await client.connect();
  try {
    const columns = await client.query<{ table_name: string; column_name: string; data_type: string }>(
      `SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = 'public' AND data_type IN ('text', 'bytea', 'json', 'jsonb', 'character varying')`,
    );
    if (columns.rows.length <= 10) throw new Error(`only ${columns.rows.length} text or binary columns in ${test.database.url}: not the vault's schema`);
    const values: Buffer[] = [];
    for (const { table_name, column_name, data_type } of columns.rows) {
      const rows = await client.query(`SELECT "${column_name}" AS v FROM "${table_name}" WHERE "${column_name}" IS NOT NULL`);
      for (const row of rows.rows) values.push(data_type === "bytea" ? (row.v as Buffer) : Buffer.from(String(row.v), "utf8"));
    }
    return values;
  } finally {
    await client.end();
  }
}
