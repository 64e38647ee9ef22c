import { expect, it } from "vitest";
import { describeEachBackend } from "../../../src/testing/backends.js";
import { useVault } from "../../../src/testing/harness.js";
import { ConflictError, GoneError, NotFoundError, ScaiVaultClient, ValidationError } from "./index.js";

describeEachBackend("TypeScript SDK: secrets against the real server", (backend) => {
  const vault = useVault(backend);
  const client = () => new ScaiVaultClient({ baseUrl: vault().baseUrl, token: vault().adminToken });

  it("writes, reads, lists and versions as the docs show", async () => {
    const c = client();
    const created = await c.secrets.write("ts/app/db", { password: "one" }, { secretType: "json", customMetadata: { tags: ["db"], team: "core" } });
    expect(created).toMatchObject({ path: "ts/app/db", version: 1, secret_type: "json" });
    expect(created.metadata).toMatchObject({ tags: ["db"], custom: { team: "core" } });
    await c.secrets.write("ts/app/db", { password: "two" });
    const secret = await c.secrets.read("ts/app/db");
    expect([secret.data.password, secret.version, secret.secret_type]).toEqual(["two", 2, "json"]);
    expect((await c.secrets.read("ts/app/db", { version: 1 })).data).toEqual({ password: "one" });
    expect((await c.secrets.read("ts/app/db", { version: "previous" })).data).toEqual({ password: "one" });
    const versions = await c.secrets.versions("ts/app/db");
    expect(versions.versions.map((v) => v.state)).toEqual(["current", "previous"]);
    await c.secrets.update("ts/app/db", undefined, { customMetadata: { tags: ["db", "prod"] } });
    const meta = await c.secrets.readMetadata("ts/app/db");
    expect([meta.current_version, meta.metadata.tags]).toEqual([2, ["db", "prod"]]);

    for (const name of ["a", "b", "c"]) await c.secrets.write(`ts/list/${name}`, { v: name });
    const page = await c.secrets.list({ prefix: "ts/list/", limit: 2 });
    expect(page.data.map((s) => s.path)).toEqual(["ts/list/a", "ts/list/b"]);
    expect(page.hasMore).toBe(true);
    const all: string[] = [];
    for await (const item of c.secrets.listAll({ prefix: "ts/list/", limit: 2 })) all.push(item.path);
    expect(all).toEqual(["ts/list/a", "ts/list/b", "ts/list/c"]);
    const batch = await c.secrets.batchRead(["ts/list/a", "ts/list/none"]);
    expect(batch.secrets["ts/list/a"].data).toEqual({ v: "a" });
    expect(batch.errors["ts/list/none"].code).toBe("secret_not_found");
  });

  it("deletes softly or permanently, and raises typed errors with code, status and requestId", async () => {
    const c = client();
    await c.secrets.write("ts/del/x", { v: 1 });
    await c.secrets.delete("ts/del/x");
    const soft = await c.secrets.read("ts/del/x").catch((e: unknown) => e);
    expect(soft).toBeInstanceOf(NotFoundError);
    expect(soft).toMatchObject({ code: "secret_not_found", status: 404, details: { deleted: true } });
    expect((soft as NotFoundError).requestId).toMatch(/^req_/);
    await c.secrets.undelete("ts/del/x");
    await c.secrets.delete("ts/del/x", { permanent: true });
    await expect(c.secrets.read("ts/del/x")).rejects.toBeInstanceOf(NotFoundError);

    await c.secrets.write("ts/cas", { v: 1 }, { cas: 0 });
    await expect(c.secrets.write("ts/cas", { v: 2 }, { cas: 0 })).rejects.toMatchObject({ code: "version_conflict", status: 409 });
    await expect(c.secrets.write("ts/cas", { v: 2 }, { cas: 0 })).rejects.toBeInstanceOf(ConflictError);
    await c.secrets.write("ts/cas", { v: 2 }, { cas: 1 });
    await c.secrets.destroy("ts/cas", [1]);
    await expect(c.secrets.read("ts/cas", { version: 1 })).rejects.toBeInstanceOf(GoneError);
    const invalid = await c.secrets.write("ts/bad", { v: 1 }, { maxVersions: 0 }).catch((e: unknown) => e);
    expect(invalid).toBeInstanceOf(ValidationError);
    expect((invalid as ValidationError).fields).toHaveProperty(["options.max_versions"]);
    await expect(c.secrets.write("ts/bad", { v: 1 }, { expiresIn: "soon" })).rejects.toMatchObject({ code: "invalid_duration", status: 400 });
    const bad = new ScaiVaultClient({ baseUrl: vault().baseUrl, token: "skt_nope" });
    await expect(bad.secrets.read("ts/cas")).rejects.toMatchObject({ name: "AuthenticationError", code: "token_invalid", status: 401 });
  });

  it("a cached client with a 300 s TTL sees someone else's write through the event stream", async () => {
    const writer = client();
    await writer.secrets.write("ts/cache/shared", { v: "old" });
    const cached = new ScaiVaultClient({ baseUrl: vault().baseUrl, token: vault().adminToken, cache: { ttl: 300 } });
    try {
      for (let i = 0; i < 600 && !cached.cacheStreamConnected; i++) await new Promise((r) => setTimeout(r, 50));
      expect(cached.cacheStreamConnected).toBe(true);
      expect((await cached.secrets.read("ts/cache/shared")).data.v).toBe("old");
      expect((await cached.secrets.read("ts/cache/shared")).data.v).toBe("old");
      await writer.secrets.write("ts/cache/shared", { v: "new" });
      // The TTL is 300 s: seeing the write within this generous bound (a hang detector, not a latency
      // target) proves the stream dropped the entry.
      const deadline = Date.now() + 15_000;
      let seen: unknown;
      while (Date.now() < deadline) {
        seen = (await cached.secrets.read("ts/cache/shared")).data.v;
        if (seen === "new") break;
        await new Promise((r) => setTimeout(r, 25));
      }
      expect(seen).toBe("new");
    } finally {
      cached.close();
    }
    expect(cached.cacheStreamConnected).toBe(false);
  }, 60_000);
});
