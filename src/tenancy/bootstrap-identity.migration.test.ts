import { Writable } from "node:stream";
import { expect, it } from "vitest";
import { buildVault } from "../app.js";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";

describeEachBackend("tenancy: migration 0070 moves the bootstrap identity from user:admin to system:bootstrap", (backend) => {
  const vault = useVault(backend);

  it("a database made before the rule: user:admin bindings and the bootstrap token become system:bootstrap at the next start", async () => {
    const { admin, vault: node } = vault();
    const other = await admin.post("/v1/policies", { name: "ops", rules: [{ path_pattern: "ops/*", permissions: ["read"] }] });
    expect((await admin.post(`/v1/policies/${other.body.id}/bindings`, { identity_type: "user", identity_id: "user:placeholder" })).status).toBe(201);
    // Put the rows back as round 1 wrote them, and forget that 0070 ran.
    await node.db.transaction(async (tx) => {
      await tx.run("UPDATE policy_bindings SET identity_id = 'user:admin', identity_type = 'user' WHERE identity_id IN ('system:bootstrap', 'user:placeholder')");
      await tx.run("UPDATE tokens SET identity_id = 'user:admin', identity_type = 'user' WHERE identity_id = 'system:bootstrap'");
      await tx.run("DELETE FROM schema_migrations WHERE id = '0070_bootstrap_identity'");
      await tx.run("UPDATE access_epoch SET epoch = epoch + 1 WHERE id = 1");
    });
    expect((await admin.get("/v1/auth/whoami")).body.identity_id).toBe("user:admin");

    const restarted = await buildVault(node.config, { logStream: new Writable({ write: (_chunk, _encoding, done) => done() }) });
    try {
      const bindings = await restarted.db.all<{ identity_id: string; identity_type: string }>("SELECT identity_id, identity_type FROM policy_bindings ORDER BY identity_id");
      expect(bindings).toEqual([{ identity_id: "system:bootstrap", identity_type: "system" }, { identity_id: "system:bootstrap", identity_type: "system" }]);
      expect(await restarted.db.all("SELECT id FROM tokens WHERE identity_id = 'user:admin'")).toEqual([]);
    } finally {
      await restarted.close();
    }
    expect((await admin.get("/v1/auth/whoami")).body).toMatchObject({ identity_id: "system:bootstrap", identity_type: "system" });
    expect((await admin.get("/v1/secrets?limit=1")).status).toBe(200);
  });
});
