import { randomBytes } from "node:crypto";
import { buildVault, type Vault } from "../app.js";
import { loadConfig } from "../config/config.js";

/** The few calls the rotation tests make, as the harness's ApiClient makes them (kept here: no test deps in the build). */
export class NodeClient {
  constructor(readonly baseUrl: string, private readonly token: string) {}

  async request(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers["content-type"] = "application/json";
    const response = await fetch(`${this.baseUrl}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  }
  get(path: string) {
    return this.request("GET", path);
  }
  put(path: string, body: unknown) {
    return this.request("PUT", path, body);
  }
  post(path: string, body?: unknown) {
    return this.request("POST", path, body);
  }
}

/** Test support: vault nodes on a database the test owns, so it can restart them or run two at once. */
export interface Node {
  vault: Vault;
  admin: NodeClient;
  close(): Promise<void>;
}

export interface NodeSetup {
  databaseUrl: string;
  rootKey: string;
  adminToken: string;
}

export function nodeSetup(databaseUrl: string): NodeSetup {
  return { databaseUrl, rootKey: randomBytes(32).toString("base64"), adminToken: `skt_${randomBytes(32).toString("base64url")}` };
}

export async function startNode(setup: NodeSetup, env: Record<string, string> = {}): Promise<Node> {
  const config = loadConfig({
    BIND_ADDRESS: "127.0.0.1:0",
    DATABASE_URL: setup.databaseUrl,
    KMS_LOCAL_KEY: setup.rootKey,
    SCAIVAULT_BOOTSTRAP_TOKEN: setup.adminToken,
    LOG_LEVEL: "warn",
    SCAIVAULT_WEBHOOK_ALLOW_PRIVATE: "true",
    DATABASE_POOL_SIZE: "4",
    SCAIVAULT_SCHEDULER_POLL: "200ms",
    ...env,
  });
  const vault = await buildVault(config);
  const address = await vault.app.listen({ host: "127.0.0.1", port: 0 });
  return { vault, admin: new NodeClient(address.replace("localhost", "127.0.0.1"), setup.adminToken), close: () => vault.close() };
}

export interface StoredEvent {
  event_type: string;
  path: string | null;
  identity_id: string | null;
  data: Record<string, any>;
}

/** The outbox as stored (events are written in the same transaction as the change). */
export async function outbox(vault: Vault, path?: string): Promise<StoredEvent[]> {
  const rows = await vault.db.all<{ event_type: string; path: string | null; identity_id: string | null; data: string }>(
    `SELECT event_type, path, identity_id, data FROM events ${path ? "WHERE path = ?" : ""} ORDER BY created_at, id`,
    path ? [path] : [],
  );
  return rows.map((row) => ({ ...row, data: JSON.parse(row.data) }));
}

/** Polls until `check` returns a value (not undefined/false); fails with `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Waits until the scheduler has run passes after this moment: a marker secret written now with a
 * one-second expiry is announced expired only by a later pass. A test that must show something
 * fired once waits for this instead of sleeping for a while and hoping a pass ran.
 */
export async function laterPassesRan(vault: Vault, admin: { put(path: string, body: unknown): Promise<{ status: number }> }, marker: string): Promise<void> {
  const path = `markers/${marker}`;
  const written = await admin.put(`/v1/secrets/${path}`, { data: { marker }, options: { expires_in: "1s" } });
  if (written.status !== 201) throw new Error(`the marker secret ${path} was not created (${written.status})`);
  await waitFor(`the scheduler's later pass (${path} expired)`, async () => (await outbox(vault, path)).some((e) => e.event_type === "secret.expired"), 30_000);
}
