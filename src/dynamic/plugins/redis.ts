import { Redis, ReplyError } from "ioredis";
import { BackendFailure, classify, within, type DatabasePlugin, type Target } from "./types.js";

/**
 * A Redis error reply starts with its error code by protocol (RESP: `-WRONGPASS invalid …`), which
 * ioredis leaves in the message: that first word is the code, the rest is never read.
 */
function failure(error: unknown, statement: number | null): BackendFailure {
  if (!(error instanceof ReplyError)) return classify(error, statement);
  const code = /^[A-Z]+/.exec((error as Error).message)?.[0] ?? null;
  return new BackendFailure(code === "WRONGPASS" || code === "NOAUTH" ? "auth" : "failed", statement, code);
}

async function withRedis<T>(target: Target, work: (r: Redis) => Promise<T>): Promise<T> {
  const client = new Redis(target.url, {
    lazyConnect: true,
    connectTimeout: target.connectTimeoutMs,
    commandTimeout: target.statementTimeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  // ioredis rejects a failed connect with a bare "Connection is closed." error; the socket's own
  // error (ECONNREFUSED, with its code) arrives as an event first, and that is what tells the reason.
  let socketError: unknown = null;
  client.on("error", (error) => {
    socketError ??= error;
  });
  try {
    try {
      await within(target.connectTimeoutMs, client.connect());
    } catch (error) {
      // A timeout is known by the clock (`within`); anything sooner is told by the socket's error.
      throw error instanceof BackendFailure ? error : failure(socketError ?? error, null);
    }
    return await work(client);
  } finally {
    client.disconnect();
  }
}

async function command(r: Redis, statement: number, args: string[], timeoutMs: number): Promise<unknown> {
  try {
    // Arguments go as separate protocol strings: no value is ever parsed as part of another.
    return await within(timeoutMs, r.call(args[0], ...args.slice(1)), statement);
  } catch (error) {
    throw failure(error, statement);
  }
}

export const redisPlugin: DatabasePlugin = {
  name: "redis",
  async test(target) {
    await withRedis(target, (r) => command(r, 1, ["PING"], target.statementTimeoutMs));
  },
  async create(target, user) {
    await withRedis(target, (r) => command(r, 1, ["ACL", "SETUSER", user.username, "reset", "on", `>${user.password}`, ...user.rules], target.statementTimeoutMs));
  },
  async revoke(target, user) {
    // ACL DELUSER also closes the user's connections; deleting an absent user is not an error.
    await withRedis(target, (r) => command(r, 1, ["ACL", "DELUSER", user.username], target.statementTimeoutMs));
  },
  async renew() {
    // Redis ACL users carry no expiry of their own: the vault's lease is the only clock.
  },
  async rotateRoot(target, rootUsername, newPassword) {
    await withRedis(target, (r) => command(r, 1, ["ACL", "SETUSER", rootUsername, "resetpass", `>${newPassword}`], target.statementTimeoutMs));
  },
};
