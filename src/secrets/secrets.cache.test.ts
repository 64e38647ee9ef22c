import { expect, it } from "vitest";
import { describeEachBackend, onlyOn } from "../testing/backends.js";
import { useSecondNode, useVault, type ApiClient } from "../testing/harness.js";

/**
 * Readers cache secret rows while the tenant's secret cache epoch stands still (migration 0011).
 * Two nodes on one database: node 2 warms its cache, node 1 changes the secret through every kind
 * of write, and node 2's very next read must show the change.
 */
describeEachBackend("secrets: the read cache never serves a changed secret", (backend) => {
  const vault = useVault(backend);
  const secondNode = useSecondNode(vault);

  async function warm(path: string) {
    const first = await secondNode().get(path);
    const again = await secondNode().get(path);
    expect(again.body).toEqual(first.body);
    return again;
  }

  it("a new version, a metadata patch, a delete, an undelete and a destroy each show on the other node's next read", async () => {
    const node1 = vault().admin;
    const path = "/v1/secrets/cache/one";
    await node1.put(path, { data: { v: "1" }, metadata: { tags: ["a"] } });
    expect((await warm(path)).body.data).toEqual({ v: "1" });

    await node1.put(path, { data: { v: "2" } });
    const second = await secondNode().get(path);
    expect(second.body.data).toEqual({ v: "2" });
    expect(second.body.version).toBe(2);
    await warm(path);

    expect((await node1.patch(`${path}/metadata`, { metadata: { tags: ["b"] } })).status).toBe(200);
    expect((await secondNode().get(path)).body.metadata.tags).toEqual(["b"]);
    await warm(path);

    expect((await node1.delete(path)).status).toBe(200);
    expect((await secondNode().get(path)).status).toBe(404);
    expect((await node1.post(`${path}/undelete`)).status).toBe(200);
    expect((await secondNode().get(path)).body.data).toEqual({ v: "2" });

    await warm(`${path}?version=1`);
    expect((await node1.post(`${path}/destroy`, { versions: [1] })).status).toBe(200);
    expect((await secondNode().get(`${path}?version=1`)).body.error.code).toBe("version_destroyed");
  });

  it("the same node's own write shows on its next read, and reads of other secrets keep working across writes", async () => {
    const node1 = vault().admin;
    await node1.put("/v1/secrets/cache/a", { data: { n: 1 } });
    await node1.put("/v1/secrets/cache/b", { data: { n: 1 } });
    for (let n = 2; n <= 5; n++) {
      expect((await node1.get("/v1/secrets/cache/a")).body.data).toEqual({ n: n - 1 });
      await node1.put("/v1/secrets/cache/a", { data: { n } });
      expect((await node1.get("/v1/secrets/cache/a")).body.data).toEqual({ n });
      expect((await node1.get("/v1/secrets/cache/b")).body.data).toEqual({ n: 1 });
    }
  });

  it("under concurrent writes on node 1, no read on either node returns a version older than one whose write had already completed", async () => {
    const node1 = vault().admin;
    const path = "/v1/secrets/cache/race";
    await node1.put(path, { data: { n: 1 } });
    let completed = 1;
    let writing = true;
    const writer = (async () => {
      for (let n = 2; n <= 25; n++) {
        expect((await node1.put(path, { data: { n } })).status).toBe(200);
        completed = n;
      }
      writing = false;
    })();
    const reader = async (client: ApiClient) => {
      let reads = 0;
      while (writing || reads < 5) {
        const floor = completed;
        const read = await client.get(path);
        expect(read.status).toBe(200);
        expect(read.body.data.n).toBeGreaterThanOrEqual(floor);
        expect(read.body.version).toBe(read.body.data.n);
        reads += 1;
      }
      return reads;
    };
    const counts = await Promise.all([reader(node1), reader(secondNode()), reader(node1), reader(secondNode()), writer.then(() => 0)]);
    expect(counts.slice(0, 4).every((count) => count >= 5)).toBe(true);
  });

  it("every column a read serves moves the tenant's cache epoch; the last-accessed touch alone does not", async () => {
    const db = vault().vault.db;
    await vault().admin.put("/v1/secrets/cache/columns", { data: { v: 1 } });
    const row = await db.get<{ tenant_id: string }>("SELECT tenant_id FROM secrets WHERE path = ?", ["cache/columns"]);
    const tenantId = row!.tenant_id;
    const epoch = async () => Number((await db.get<{ epoch: number | string }>("SELECT SUM(epoch) AS epoch FROM secret_cache_epochs WHERE tenant_id = ?", [tenantId]))?.epoch ?? 0);
    const columns =
      backend === "sqlite"
        ? (await db.all<{ name: string }>("SELECT name FROM pragma_table_info('secrets')")).map((c) => c.name)
        : (await db.all<{ name: string }>("SELECT column_name AS name FROM information_schema.columns WHERE table_name = 'secrets'")).map((c) => c.name);
    expect(columns).toContain("metadata");
    for (const column of columns) {
      const before = await epoch();
      // Assigning a column its own value is still an update of that column.
      await db.run(`UPDATE secrets SET ${column} = ${column} WHERE tenant_id = ? AND path = ?`, [tenantId, "cache/columns"]);
      const moved = (await epoch()) > before;
      expect({ column, moved }).toEqual({ column, moved: column !== "last_accessed_at" });
    }
    const before = await epoch();
    await db.run("UPDATE secret_versions SET grace_until = grace_until WHERE tenant_id = ? AND path = ?", [tenantId, "cache/columns"]);
    expect(await epoch()).toBeGreaterThan(before);
  });

  onlyOn(backend, "postgres")("postgres only: a transaction moves its tenant's epoch once however many rows it changes; the next transaction moves it again", async () => {
    const { admin } = vault();
    const db = vault().vault.db;
    await admin.put("/v1/secrets/cache/once", { data: { v: 1 }, options: { max_versions: 1 } });
    const tenantId = (await db.get<{ tenant_id: string }>("SELECT tenant_id FROM secrets WHERE path = ?", ["cache/once"]))!.tenant_id;
    const epoch = async () => Number((await db.get<{ epoch: number | string }>("SELECT SUM(epoch) AS epoch FROM secret_cache_epochs WHERE tenant_id = ?", [tenantId]))?.epoch ?? 0);
    const before = await epoch();
    // A new version: the version inserted, the old one aged out, the secret row moved (three rows).
    expect((await admin.put("/v1/secrets/cache/once", { data: { v: 2 } })).status).toBe(200);
    expect(await epoch()).toBe(before + 1);
    // Two statements in one transaction, then one in a transaction of its own.
    await db.transaction(async (tx) => {
      await tx.run("UPDATE secrets SET metadata = metadata WHERE tenant_id = ? AND path = ?", [tenantId, "cache/once"]);
      await tx.run("UPDATE secret_versions SET grace_until = grace_until WHERE tenant_id = ? AND path = ?", [tenantId, "cache/once"]);
    });
    expect(await epoch()).toBe(before + 2);
    await db.run("UPDATE secrets SET metadata = metadata WHERE tenant_id = ? AND path = ?", [tenantId, "cache/once"]);
    expect(await epoch()).toBe(before + 3);
  });
});
