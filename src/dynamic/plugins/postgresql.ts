import pg from "pg";
import { classify, within, type DatabasePlugin, type Target } from "./types.js";

async function connect(target: Target): Promise<pg.Client> {
  const client = new pg.Client({
    connectionString: target.url,
    connectionTimeoutMillis: target.connectTimeoutMs,
    statement_timeout: target.statementTimeoutMs,
    query_timeout: target.statementTimeoutMs + 1000,
    application_name: "scaivault-dynamic",
  });
  // A target that drops the connection later must not crash the process.
  client.on("error", () => undefined);
  try {
    await within(target.connectTimeoutMs, client.connect());
  } catch (error) {
    void client.end().catch(() => undefined);
    throw classify(error, null);
  }
  return client;
}

async function withClient<T>(target: Target, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = await connect(target);
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Runs statements in one transaction, numbering a failure by its statement (1-based). */
async function runAll(client: pg.Client, statements: string[], timeoutMs: number): Promise<void> {
  await client.query("BEGIN");
  try {
    for (let i = 0; i < statements.length; i++) {
      try {
        await within(timeoutMs, client.query(statements[i]), i + 1);
      } catch (error) {
        throw classify(error, i + 1);
      }
    }
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  }
}

export const postgresqlPlugin: DatabasePlugin = {
  name: "postgresql",
  async test(target) {
    await withClient(target, async (c) => {
      try {
        await c.query("SELECT 1");
      } catch (error) {
        throw classify(error, null);
      }
    });
  },
  async create(target, user) {
    await withClient(target, (c) => runAll(c, user.statements, target.statementTimeoutMs));
  },
  async revoke(target, user) {
    await withClient(target, async (c) => {
      // Open sessions end first, where the root user may end them (best-effort: the role is dropped either way).
      await c.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", [user.username]).catch(() => undefined);
      await runAll(c, user.statements, target.statementTimeoutMs);
    });
  },
  async renew(target, statements) {
    if (statements.length === 0) return;
    await withClient(target, (c) => runAll(c, statements, target.statementTimeoutMs));
  },
  async rotateRoot(target, rootUsername, newPassword) {
    await withClient(target, async (c) => {
      // The password is sent as a literal escaped by the driver's own quoting; the name as an identifier.
      const sql = `ALTER ROLE ${c.escapeIdentifier(rootUsername)} WITH PASSWORD ${c.escapeLiteral(newPassword)}`;
      try {
        await c.query(sql);
      } catch (error) {
        throw classify(error, 1);
      }
    });
  },
};
