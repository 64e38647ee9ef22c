import { beforeAll, expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault, type ApiClient, type ApiResponse } from "../testing/harness.js";

function expectError(response: ApiResponse, status: number, code: string): void {
  expect(response.status, response.text).toBe(status);
  expect(response.body.error.code).toBe(code);
}

/** Follows cursors to the end, checking the list shape on every page. */
async function collect(client: ApiClient, url: string): Promise<{ paths: string[]; pages: number }> {
  const paths: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const page: ApiResponse = await client.get(`${url}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    expect(page.status, page.text).toBe(200);
    expect(Object.keys(page.body).sort()).toEqual(["cursor", "data", "has_more"]);
    expect(page.body.has_more).toBe(page.body.cursor !== null);
    for (const item of page.body.data) {
      expect(item.data).toBeUndefined();
      paths.push(item.path);
    }
    cursor = page.body.cursor;
    pages++;
  } while (cursor && pages < 50);
  return { paths, pages };
}

describeEachBackend("secrets: list, expiring and batch read", (backend) => {
  const vault = useVault(backend);
  const names = Array.from({ length: 23 }, (_, i) => `list/app/s${String(i).padStart(2, "0")}`);

  beforeAll(async () => {
    const { admin } = vault();
    for (const [i, path] of names.entries()) {
      await admin.put(`/v1/secrets/${path}`, { data: { i }, metadata: { tags: i % 3 === 0 ? ["third", "all"] : ["all"] } });
    }
    await admin.put("/v1/secrets/list/apple", { data: { x: 1 }, metadata: { tags: ["third"] } });
    await admin.put("/v1/secrets/list/app.v2/key", { data: { x: 1 } });
    await admin.put("/v1/secrets/other/thing", { data: { x: 1 }, metadata: { tags: ["third"] } });
    await admin.put("/v1/secrets/list/app/deleted", { data: { x: 1 }, metadata: { tags: ["third"] } });
    await admin.delete("/v1/secrets/list/app/deleted");
  });

  it("lists by prefix in path order across pages, without duplicates or gaps", async () => {
    const { paths, pages } = await collect(vault().admin, "/v1/secrets?prefix=list/app/&limit=5");
    expect(paths).toEqual(names);
    expect(pages).toBe(5);
  });

  it("treats the prefix as a string prefix and leaves out soft-deleted secrets", async () => {
    const { paths } = await collect(vault().admin, "/v1/secrets?prefix=list/app&limit=100");
    expect(paths).toEqual(["list/app.v2/key", ...names, "list/apple"]);
    const all = await vault().admin.get("/v1/secrets");
    expect(all.body.data).toHaveLength(names.length + 3);
    expect(all.body.has_more).toBe(false);
    expect(all.body.cursor).toBeNull();
    expect((await vault().admin.get("/v1/secrets?prefix=nothing/here")).body).toEqual({ data: [], cursor: null, has_more: false });
  });

  it("filters by tag, paginating over the matches only", async () => {
    const { paths } = await collect(vault().admin, "/v1/secrets?tag=third&limit=3");
    const expected = [...names.filter((_, i) => i % 3 === 0), "list/apple", "other/thing"].sort();
    expect(paths).toEqual(expected);
    const combined = await collect(vault().admin, "/v1/secrets?tag=third&prefix=list/app/&limit=2");
    expect(combined.paths).toEqual(names.filter((_, i) => i % 3 === 0));
  });

  it("lists by tag only what is tagged, not metadata that merely holds the tag's text, and shows the whole metadata", async () => {
    const { admin } = vault();
    await admin.put("/v1/secrets/decoy/a", { data: { x: 1 }, metadata: { description: '"third"', custom: { third: "third" }, tags: ["thirds"] } });
    await admin.put("/v1/secrets/decoy/b", { data: { x: 1 }, metadata: { description: "tagged", owner: "team", custom: { k: "v" }, tags: ["all", "third"] } });
    const page = await admin.get("/v1/secrets?tag=third&prefix=decoy/");
    expect(page.body.data.map((s: any) => s.path)).toEqual(["decoy/b"]);
    expect(page.body.data[0].metadata).toEqual({ description: "tagged", owner: "team", custom: { k: "v" }, tags: ["all", "third"] });
    await admin.delete("/v1/secrets/decoy/a?permanent=true");
    await admin.delete("/v1/secrets/decoy/b?permanent=true");
  });

  it("returns list items with version, type and metadata", async () => {
    const page = await vault().admin.get("/v1/secrets?prefix=list/app/s00&limit=1");
    expect(page.body.data[0]).toMatchObject({ path: "list/app/s00", version: 1, secret_type: "kv", metadata: { tags: ["third", "all"] }, expires_at: null });
  });

  it("lists secrets expiring within a duration, soonest first, already expired ones flagged", async () => {
    const { admin } = vault();
    await admin.put("/v1/secrets/exp/in-2d", { data: { a: 1 }, options: { expires_in: "2d" } });
    await admin.put("/v1/secrets/exp/in-1h", { data: { a: 1 }, options: { expires_in: "1h" } });
    await admin.put("/v1/secrets/exp/in-40d", { data: { a: 1 }, options: { expires_in: "40d" } });
    await admin.put("/v1/secrets/exp/in-1s", { data: { a: 1 }, options: { expires_in: "1s" } });
    let soon = await admin.get("/v1/secrets/expiring?within=3d");
    for (let i = 0; i < 100 && !soon.body.data.some((s: any) => s.expired); i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      soon = await admin.get("/v1/secrets/expiring?within=3d");
    }
    expect(soon.status).toBe(200);
    expect(soon.body.data.map((s: any) => [s.path, s.expired])).toEqual([
      ["exp/in-1s", true],
      ["exp/in-1h", false],
      ["exp/in-2d", false],
    ]);
    const defaults = await collect(admin, "/v1/secrets/expiring?limit=1");
    expect(defaults.paths).toEqual(["exp/in-1s", "exp/in-1h", "exp/in-2d"]);
    expect(defaults.pages).toBe(3);
    expect((await collect(admin, "/v1/secrets/expiring?within=90d&limit=2")).paths).toEqual(["exp/in-1s", "exp/in-1h", "exp/in-2d", "exp/in-40d"]);
  });

  it("batch-reads many paths: found ones in secrets, each failure in errors with its code", async () => {
    const { admin } = vault();
    await admin.put("/v1/secrets/batch/one", { data: { n: 1 }, secret_type: "api_key" });
    await admin.put("/v1/secrets/batch/one", { data: { n: 2 } });
    await admin.put("/v1/secrets/batch/gone", { data: { n: 1 } });
    await admin.delete("/v1/secrets/batch/gone");
    const result = await admin.post("/v1/secrets/batch", {
      paths: ["batch/one", "batch/missing", "batch/gone", "batch/one", "Bad/Path"],
      options: { include_metadata: false, fail_fast: false },
    });
    expect(result.status).toBe(200);
    expect(result.body.secrets).toEqual({ "batch/one": { data: { n: 2 }, version: 2, secret_type: "api_key" } });
    expect(Object.fromEntries(Object.entries(result.body.errors).map(([p, e]: [string, any]) => [p, e.code]))).toEqual({
      "batch/missing": "secret_not_found",
      "batch/gone": "secret_not_found",
      "Bad/Path": "invalid_path",
    });
    for (const error of Object.values(result.body.errors) as any[]) expect(typeof error.message).toBe("string");
  });

  it("batch-reads with metadata and at a fixed version", async () => {
    const { admin } = vault();
    const withMeta = await admin.post("/v1/secrets/batch", { paths: ["batch/one"], options: { include_metadata: true } });
    expect(withMeta.body.secrets["batch/one"]).toMatchObject({ path: "batch/one", version: 2, data: { n: 2 }, metadata: { tags: [] } });
    const v1 = await admin.post("/v1/secrets/batch", { paths: ["batch/one", "list/app/s01"], options: { version: 1 } });
    expect(v1.body.secrets["batch/one"]).toEqual({ data: { n: 1 }, version: 1, secret_type: "api_key" });
    expect(v1.body.secrets["list/app/s01"].version).toBe(1);
    const v2 = await admin.post("/v1/secrets/batch", { paths: ["batch/one", "list/app/s01"], options: { version: 2 } });
    expect(v2.body.errors["list/app/s01"].code).toBe("version_not_found");
  });

  it("batch with fail_fast answers the first failure for the whole request, naming its path", async () => {
    const { admin } = vault();
    const failed = await admin.post("/v1/secrets/batch", { paths: ["batch/one", "batch/missing", "Bad/Path"], options: { fail_fast: true } });
    expectError(failed, 404, "secret_not_found");
    expect(failed.body.error.details.path).toBe("batch/missing");
    expect(failed.text).not.toContain('"n":2');
    const deleted = await admin.post("/v1/secrets/batch", { paths: ["batch/gone"], options: { fail_fast: true } });
    expectError(deleted, 404, "secret_not_found");
    expect(deleted.body.error.details).toMatchObject({ path: "batch/gone", deleted: true });
    const ok = await admin.post("/v1/secrets/batch", { paths: ["batch/one"], options: { fail_fast: true } });
    expect(ok.body).toEqual({ secrets: { "batch/one": { data: { n: 2 }, version: 2, secret_type: "api_key" } }, errors: {} });
  });

  it("accepts exactly 100 paths", async () => {
    const paths = Array.from({ length: 100 }, (_, i) => `batch/many/${i}`);
    const result = await vault().admin.post("/v1/secrets/batch", { paths });
    expect(result.status).toBe(200);
    expect(Object.keys(result.body.errors)).toHaveLength(100);
  });
});
