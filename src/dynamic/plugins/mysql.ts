import mysql from "mysql2/promise";
import { classify, within, type DatabasePlugin, type Target } from "./types.js";

async function withConnection<T>(target: Target, work: (c: mysql.Connection) => Promise<T>): Promise<T> {
  let connection: mysql.Connection;
  try {
    connection = await within(target.connectTimeoutMs, mysql.createConnection({ uri: target.url, connectTimeout: target.connectTimeoutMs, multipleStatements: false }));
  } catch (error) {
    throw classify(error, null);
  }
  connection.on("error", () => undefined);
  try {
    return await work(connection);
  } finally {
    await connection.end().catch(() => connection.destroy());
  }
}

/** One statement at a time (MySQL DDL commits implicitly, so no transaction), numbered from 1 on failure. */
async function runAll(c: mysql.Connection, statements: string[], timeoutMs: number): Promise<void> {
  for (let i = 0; i < statements.length; i++) {
    try {
      await within(timeoutMs, c.query({ sql: statements[i], timeout: timeoutMs }), i + 1);
    } catch (error) {
      throw classify(error, i + 1);
    }
  }
}

export const mysqlPlugin: DatabasePlugin = {
  name: "mysql",
  async test(target) {
    await withConnection(target, async (c) => {
      try {
        await c.query({ sql: "SELECT 1", timeout: target.statementTimeoutMs });
      } catch (error) {
        throw classify(error, null);
      }
    });
  },
  async create(target, user) {
    await withConnection(target, (c) => runAll(c, user.statements, target.statementTimeoutMs));
  },
  async revoke(target, user) {
    await withConnection(target, async (c) => {
      // End the user's sessions where the root user may (best-effort).
      try {
        const [rows] = await c.query({ sql: "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = ?", values: [user.username], timeout: target.statementTimeoutMs });
        for (const row of rows as { ID: number }[]) await c.query({ sql: "KILL ?", values: [Number(row.ID)], timeout: target.statementTimeoutMs }).catch(() => undefined);
      } catch {
        // not allowed to see or end them: the user is dropped anyway
      }
      await runAll(c, user.statements, target.statementTimeoutMs);
    });
  },
  async renew(target, statements) {
    if (statements.length === 0) return;
    await withConnection(target, (c) => runAll(c, statements, target.statementTimeoutMs));
  },
  async rotateRoot(target, _rootUsername, newPassword) {
    await withConnection(target, async (c) => {
      try {
        // CURRENT_USER() is the account this connection authenticated as, whatever its host part.
        await c.query({ sql: "ALTER USER CURRENT_USER() IDENTIFIED BY ?", values: [newPassword], timeout: target.statementTimeoutMs });
      } catch (error) {
        throw classify(error, 1);
      }
    });
  },
};
