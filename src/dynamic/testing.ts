/**
 * Scratch targets on the local test servers (contract D8): a random database or ACL namespace per
 * suite with a non-superuser root, dropped afterwards, and login checks through the real clients.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import mysql from "mysql2/promise";
import pg from "pg";
import { Redis } from "ioredis";
import type { ApiClient } from "../testing/harness.js";

export const PG_URL = process.env.TEST_POSTGRES_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
export const MARIADB_URL = process.env.TEST_MARIADB_URL ?? "mysql://root@127.0.0.1:3306/";
export const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379/0";

const rand = () => randomBytes(5).toString("hex");
export const rootPassword = () => `Rt${randomBytes(12).toString("hex")}9`;

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a client program; never rejects (the exit code is the answer). */
export function run(file: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { env: { ...process.env, ...env }, timeout: 20_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof (error as { code?: unknown }).code === "number" ? ((error as { code: number }).code) : 1) : 0, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

export interface Scratch {
  /** The engine's connection_url template. */
  connectionUrl: string;
  rootUser: string;
  rootPassword: string;
  database: string;
  host: string;
  port: number;
  /** Remembers a lease user so cleanup removes it even when a test failed before revoking. */
  track(username: string): void;
  drop(): Promise<void>;
}

export async function pgScratch(adminUrl = PG_URL): Promise<Scratch> {
  const id = rand();
  const database = `dyn_${id}`;
  const rootUser = `dyn_root_${id}`;
  const password = rootPassword();
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE ROLE ${rootUser} LOGIN CREATEROLE PASSWORD '${password}'`);
    await admin.query(`CREATE DATABASE ${database} OWNER ${rootUser}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  const asRoot = new URL(adminUrl);
  asRoot.username = rootUser;
  asRoot.password = password;
  asRoot.pathname = `/${database}`;
  const owner = new pg.Client({ connectionString: asRoot.toString() });
  await owner.connect();
  try {
    await owner.query("CREATE TABLE items (id INT PRIMARY KEY, name TEXT)");
    await owner.query("INSERT INTO items VALUES (1, 'one'), (2, 'two')");
    await owner.query("CREATE TABLE secrets_table (id INT)");
  } finally {
    await owner.end();
  }
  const users = new Set<string>();
  return {
    connectionUrl: `postgresql://{{username}}:{{password}}@${url.hostname}:${url.port || 5432}/${database}`,
    rootUser, rootPassword: password, database, host: url.hostname, port: Number(url.port || 5432),
    track: (u) => void users.add(u),
    async drop() {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
        for (const u of users) await client.query(`DROP ROLE IF EXISTS "${u}"`);
        await client.query(`DROP ROLE IF EXISTS ${rootUser}`);
      } finally {
        await client.end();
      }
    },
  };
}

export async function pgRoleExists(username: string, adminUrl = PG_URL): Promise<boolean> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return (await client.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [username])).rowCount === 1;
  } finally {
    await client.end();
  }
}

export function psql(s: Pick<Scratch, "host" | "port" | "database">, user: string, password: string, sql: string): Promise<Run> {
  return run("psql", ["-h", s.host, "-p", String(s.port), "-U", user, "-d", s.database, "-w", "-Atc", sql], { PGPASSWORD: password, PGCONNECT_TIMEOUT: "5" });
}

export async function mariaScratch(adminUrl = MARIADB_URL): Promise<Scratch> {
  const id = rand();
  const database = `dyn_${id}`;
  const rootUser = `dyn_root_${id}`;
  const password = rootPassword();
  const admin = await mysql.createConnection({ uri: adminUrl });
  try {
    await admin.query(`CREATE DATABASE ${database}`);
    await admin.query(`CREATE TABLE ${database}.items (id INT PRIMARY KEY, name TEXT)`);
    await admin.query(`INSERT INTO ${database}.items VALUES (1, 'one'), (2, 'two')`);
    await admin.query(`CREATE USER '${rootUser}'@'%' IDENTIFIED BY '${password}'`);
    await admin.query(`GRANT ALL PRIVILEGES ON ${database}.* TO '${rootUser}'@'%' WITH GRANT OPTION`);
    await admin.query(`GRANT CREATE USER ON *.* TO '${rootUser}'@'%'`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  const users = new Set<string>();
  return {
    connectionUrl: `mysql://{{username}}:{{password}}@${url.hostname}:${url.port || 3306}/`,
    rootUser, rootPassword: password, database, host: url.hostname, port: Number(url.port || 3306),
    track: (u) => void users.add(u),
    async drop() {
      const c = await mysql.createConnection({ uri: adminUrl });
      try {
        await c.query(`DROP DATABASE IF EXISTS ${database}`);
        for (const u of users) await c.query(`DROP USER IF EXISTS '${u}'@'%'`);
        await c.query(`DROP USER IF EXISTS '${rootUser}'@'%'`);
      } finally {
        await c.end();
      }
    },
  };
}

export function mariadb(s: Pick<Scratch, "host" | "port" | "database">, user: string, password: string, sql: string): Promise<Run> {
  return run("mariadb", ["-h", s.host, "-P", String(s.port), "-u", user, `-p${password}`, "--connect-timeout=5", "-N", "-B", s.database, "-e", sql]);
}

export async function redisScratch(adminUrl = REDIS_URL): Promise<Scratch & { prefix: string }> {
  const id = rand();
  const rootUser = `dyn_root_${id}`;
  const password = rootPassword();
  const admin = new Redis(adminUrl, { lazyConnect: true });
  await admin.connect();
  const prefix = `dyn_${id}:`;
  try {
    await admin.call("ACL", "SETUSER", rootUser, "reset", "on", `>${password}`, "~*", "&*", "+@all");
    await admin.set(`${prefix}a`, "alpha");
  } finally {
    admin.disconnect();
  }
  const url = new URL(adminUrl);
  const users = new Set<string>();
  return {
    prefix,
    connectionUrl: `redis://{{username}}:{{password}}@${url.hostname}:${url.port || 6379}/0`,
    rootUser, rootPassword: password, database: "0", host: url.hostname, port: Number(url.port || 6379),
    track: (u) => void users.add(u),
    async drop() {
      const c = new Redis(adminUrl, { lazyConnect: true });
      await c.connect();
      try {
        for (const u of [...users, rootUser]) await c.call("ACL", "DELUSER", u);
        const keys = await c.keys(`${prefix}*`);
        if (keys.length) await c.del(...keys);
      } finally {
        c.disconnect();
      }
    },
  };
}

export function redisCli(s: Pick<Scratch, "host" | "port">, user: string, password: string, ...command: string[]): Promise<Run> {
  return run("redis-cli", ["-h", s.host, "-p", String(s.port), "--user", user, "--pass", password, "--no-auth-warning", ...command]);
}

/** Stores root credentials, a policy letting `dynamic:<engine>` read (and rotate) them, bound to the engine's identity. */
export async function grantEngineRoot(admin: ApiClient, engine: string, path: string, creds: { username: string; password: string }, permissions = ["read", "rotate"]): Promise<void> {
  const put = await admin.put(`/v1/secrets/${path}`, { data: creds, secret_type: "json" });
  if (put.status >= 300) throw new Error(`root secret: ${put.status} ${put.text}`);
  const policy = await admin.post("/v1/policies", { name: `dynamic-engine-${engine}-root`, rules: [{ path_pattern: path, permissions }] });
  if (policy.status !== 201) throw new Error(`policy: ${policy.status} ${policy.text}`);
  const bound = await admin.post(`/v1/policies/${policy.body.id}/bindings`, { identity_type: "system", identity_id: `dynamic:${engine}` });
  if (bound.status !== 201) throw new Error(`binding: ${bound.status} ${bound.text}`);
}

/**
 * A PostgreSQL engine on a fresh scratch database (its root stored and granted) with one role: what
 * a suite about leases needs before its first generation. The scratch is the caller's to drop.
 */
export async function pgEngineWithRole(admin: ApiClient, engine: string, rootPath: string, role: Record<string, unknown>): Promise<Scratch> {
  const target = await pgScratch();
  await grantEngineRoot(admin, engine, rootPath, { username: target.rootUser, password: target.rootPassword });
  const created = await admin.post("/v1/dynamic/engines", { name: engine, type: "database.postgresql", config: { connection_url: target.connectionUrl, root_credentials_path: rootPath } });
  if (created.status !== 201) throw new Error(`engine: ${created.status} ${created.text}`);
  const made = await admin.post(`/v1/dynamic/engines/${engine}/roles`, role);
  if (made.status !== 201) throw new Error(`role: ${made.status} ${made.text}`);
  return target;
}

/** A token for another identity with the given scopes, and a policy giving it `permissions` on `patterns`. */
export async function userWith(admin: ApiClient, name: string, scopes: string[], patterns: string[], permissions = ["read"]): Promise<ApiClient> {
  if (patterns.length > 0) {
    const policy = await admin.post("/v1/policies", { name: `p-${name}`, rules: patterns.map((p) => ({ path_pattern: p, permissions })) });
    if (policy.status !== 201) throw new Error(`policy: ${policy.status} ${policy.text}`);
    const bound = await admin.post(`/v1/policies/${policy.body.id}/bindings`, { identity_type: "user", identity_id: `user:${name}` });
    if (bound.status !== 201) throw new Error(`binding: ${bound.status} ${bound.text}`);
  }
  const token = await admin.post("/v1/auth/tokens", { identity_id: `user:${name}`, identity_type: "user", scopes });
  if (token.status !== 201) throw new Error(`token: ${token.status} ${token.text}`);
  return admin.withToken(token.body.token);
}

/** Waits for a condition on observable state (no timed assertions): polls until true or the bound passes. */
export async function until<T>(probe: () => Promise<T>, ok: (value: T) => boolean, boundMs = 30_000): Promise<T> {
  const deadline = Date.now() + boundMs;
  for (;;) {
    const value = await probe();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`condition not reached within ${boundMs} ms; last: ${JSON.stringify(value)?.slice(0, 500)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * A TCP forwarder in front of a real server, to make a target unreachable (refused), hanging
 * (accepts, never answers: timeouts) or back, on the same port, without touching the shared server.
 */
export class FlakyProxy {
  private server: import("node:net").Server | null = null;
  private readonly sockets = new Set<import("node:net").Socket>();
  mode: "forward" | "hang" = "forward";
  port = 0;
  /** Connections accepted so far: what reached the target. */
  accepted = 0;

  constructor(private readonly targetHost: string, private readonly targetPort: number) {}

  async start(): Promise<void> {
    const net = await import("node:net");
    this.server = net.createServer((client) => {
      this.accepted++;
      this.sockets.add(client);
      client.on("close", () => this.sockets.delete(client));
      client.on("error", () => undefined);
      if (this.mode === "hang") return;
      const upstream = net.connect(this.targetPort, this.targetHost);
      this.sockets.add(upstream);
      upstream.on("close", () => this.sockets.delete(upstream));
      upstream.on("error", () => client.destroy());
      client.on("close", () => upstream.destroy());
      upstream.on("close", () => client.destroy());
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, "127.0.0.1", () => resolve()));
    this.port = (this.server.address() as { port: number }).port;
  }

  /** Stops listening and cuts every connection: connects are refused until start(). */
  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = null;
  }
}

/**
 * A throwaway PostgreSQL cluster that checks passwords (scram-sha-256), on a free port, for tests
 * of password checks and root rotation; the shared server trusts every local login. Never touches it.
 */
export async function scramCluster(): Promise<{ adminUrl: string; stop(): Promise<void> }> {
  const { mkdtempSync, writeFileSync, chmodSync, rmSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const { freePort } = await import("../testing/ports.js");
  const dir = mkdtempSync(join(tmpdir(), "scaivault-scram-"));
  chmodSync(dir, 0o755);
  const data = join(dir, "data");
  const password = rootPassword();
  writeFileSync(join(dir, "pw"), password);
  const port = await freePort();
  const bin = "/usr/lib/postgresql/15/bin";
  const asPostgres = (args: string[]) => (process.getuid?.() === 0 ? run("runuser", ["-u", "postgres", "--", ...args]) : run(args[0], args.slice(1)));
  if (process.getuid?.() === 0) await run("chown", ["-R", "postgres", dir]);
  const init = await asPostgres([`${bin}/initdb`, "-D", data, "-U", "postgres", "--auth=scram-sha-256", `--pwfile=${join(dir, "pw")}`]);
  if (init.code !== 0) throw new Error(`initdb: ${init.stderr}`);
  const start = await asPostgres([`${bin}/pg_ctl`, "-D", data, "-l", join(dir, "log"), "-w", "-o", `-p ${port} -c listen_addresses=127.0.0.1 -k ${dir}`, "start"]);
  if (start.code !== 0) throw new Error(`pg_ctl start: ${start.stderr}`);
  return {
    adminUrl: `postgresql://postgres:${password}@127.0.0.1:${port}/postgres`,
    async stop() {
      await asPostgres([`${bin}/pg_ctl`, "-D", data, "-m", "immediate", "-w", "stop"]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
