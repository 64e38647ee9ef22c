import { Redis } from "ioredis";
import { classify, within, type DatabasePlugin, type Target } from "./types.js";

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
      await within(target.connectTimeoutMs + 500, client.connect());
    } catch (error) {
      throw classify(socketError ?? error, null);
    }
    return await work(client);
  } finally {
    client.disconnect();
  }
}

async function command(r: Redis, statement: number, args: string[], timeoutMs: number): Promise<unknown> {
  try {
    // Arguments go as separate protocol strings: no value is ever parsed as part of another.
    return await within(timeoutMs + 1000, r.call(args[0], ...args.slice(1)), statement);
  } catch (error) {
    throw classify(error, statement);
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
