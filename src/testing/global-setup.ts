import pg from "pg";

export const PG_ADMIN_URL = process.env.SCAIVAULT_TEST_PG_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";

/**
 * Decides once per run whether the PostgreSQL suites run. Under CI they must: an unreachable
 * server fails the run. Elsewhere they are skipped with a notice, never silently.
 */
export default async function setup(): Promise<void> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query("SELECT 1");
    process.env.SCAIVAULT_TEST_PG = "1";
  } catch (error) {
    if (process.env.CI) throw new Error(`PostgreSQL is required under CI but unreachable at ${PG_ADMIN_URL}: ${(error as Error).message}`);
    process.env.SCAIVAULT_TEST_PG = "0";
    process.stderr.write(`\nNOTICE: PostgreSQL unreachable at ${PG_ADMIN_URL}; the PostgreSQL suites are SKIPPED in this run.\n\n`);
  } finally {
    await client.end().catch(() => {});
  }
}
