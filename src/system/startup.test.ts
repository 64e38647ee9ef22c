import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { buildVault, type Vault } from "../app.js";
import { loadConfig } from "../config/config.js";
import { describeEachBackend, scratchDatabase, type BackendName, type ScratchDatabase } from "../testing/backends.js";
import { ApiClient } from "../testing/harness.js";

/** Nodes sharing one database and one root key, each on its own port. */
async function startNodes(backend: BackendName, database: ScratchDatabase, env: Record<string, string>, count: number): Promise<Vault[]> {
  const config = loadConfig({ BIND_ADDRESS: "127.0.0.1:0", DATABASE_URL: database.url, LOG_LEVEL: "silent", DATABASE_POOL_SIZE: "3", ...env });
  return Promise.all(Array.from({ length: count }, () => buildVault(config)));
}

async function listen(vault: Vault): Promise<string> {
  return (await vault.app.listen({ host: "127.0.0.1", port: 0 })).replace("localhost", "127.0.0.1");
}

describeEachBackend("startup and bootstrap", (backend) => {
  const key = randomBytes(32).toString("base64");
  let database: ScratchDatabase;
  const started: Vault[] = [];

  beforeAll(async () => {
    database = await scratchDatabase(backend);
  });
  afterAll(async () => {
    for (const vault of started) await vault.close();
    await database.drop();
  });

  it("bootstraps once when nodes start together on an empty database; exactly one generates the token", async () => {
    const count = backend === "postgres" ? 3 : 1;
    const nodes = await startNodes(backend, database, { KMS_LOCAL_KEY: key }, count);
    started.push(...nodes);
    const tokens = nodes.map((n) => n.generatedAdminToken).filter((t): t is string => t !== null);
    expect(tokens).toHaveLength(1);
    const urls = await Promise.all(nodes.map(listen));
    const writer = new ApiClient(urls[0], tokens[0]);
    expect((await writer.put("/v1/secrets/boot/shared", { data: { a: 1 } })).status).toBe(201);
    for (const url of urls) {
      const read = await new ApiClient(url, tokens[0]).get("/v1/secrets/boot/shared");
      expect(read.status, read.text).toBe(200);
      expect(read.body.data).toEqual({ a: 1 });
    }
    const partners = await nodes[0].db.all("SELECT id FROM partners");
    expect(partners).toEqual([{ id: "ptn_default" }]);
    const builtin = await nodes[0].db.all("SELECT id FROM crypto_keys WHERE kind = 'tenant'");
    expect(builtin).toHaveLength(1);
  });

  it("registers SCAIVAULT_BOOTSTRAP_TOKEN on an existing database, and generates nothing", async () => {
    const configured = `skt_${randomBytes(32).toString("base64url")}`;
    const [node] = await startNodes(backend, database, { KMS_LOCAL_KEY: key, SCAIVAULT_BOOTSTRAP_TOKEN: configured }, 1);
    started.push(node);
    expect(node.generatedAdminToken).toBeNull();
    const read = await new ApiClient(await listen(node), configured).get("/v1/secrets/boot/shared");
    expect(read.body.data).toEqual({ a: 1 });
  });

  it("refuses to start with another root key: nothing can be decrypted (naming no key material)", async () => {
    const other = randomBytes(32).toString("base64");
    const error = await startNodes(backend, database, { KMS_LOCAL_KEY: other }, 1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/^KMS_LOCAL_KEY: the root key \(local:[0-9a-f]{16}\) is not the one/);
    expect((error as Error).message).not.toContain(other);
    expect((error as Error).message).not.toContain(key);
  });
});
