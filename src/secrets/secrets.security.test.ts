import { beforeAll, expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { rawRequest, type RawResponse } from "../testing/raw-http.js";

const ORIGINAL = { data: { password: "s3cr3t-original" }, secret_type: "kv", metadata: { tags: ["keep"] } };

function expectJsonError(response: { status: number; body: any; headers: Headers | Record<string, string> }, status: number, code: string): void {
  expect(response.status, JSON.stringify(response.body)).toBe(status);
  expect(response.body?.error?.code).toBe(code);
  const requestId = response.headers instanceof Headers ? response.headers.get("x-request-id") : response.headers["x-request-id"];
  expect(response.body.error.request_id).toBe(requestId);
  expect(JSON.stringify(response.body)).not.toMatch(/ at .*\.(ts|js):\d+/);
}

describeEachBackend("secrets: hostile input", (backend) => {
  const vault = useVault(backend);

  beforeAll(async () => {
    expect((await vault().admin.put("/v1/secrets/victim/db", ORIGINAL)).status).toBe(201);
  });

  /** The stored secret is exactly what was first written, whatever came in between. */
  async function expectUnchanged(): Promise<void> {
    const read = await vault().admin.get("/v1/secrets/victim/db");
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ version: 1, data: ORIGINAL.data, secret_type: "kv", metadata: { tags: ["keep"] } });
    const listed = await vault().admin.get("/v1/secrets?prefix=");
    expect(listed.body.data.map((s: { path: string }) => s.path)).toEqual(["victim/db"]);
  }

  const raw = (method: string, target: string | Buffer, body?: Buffer | string): Promise<RawResponse> =>
    rawRequest(vault().baseUrl, method, target, { token: vault().adminToken, body });

  const badPaths: Array<[string, string]> = [
    ["double slash", "/v1/secrets/victim//db"],
    ["dot-dot segment", "/v1/secrets/victim/../db"],
    ["dot segment", "/v1/secrets/victim/./db"],
    ["upper case", "/v1/secrets/Victim/DB"],
    ["11 segments", `/v1/secrets/${Array.from({ length: 11 }, (_, i) => `s${i}`).join("/")}`],
    ["600 characters", `/v1/secrets/${"a".repeat(300)}/${"b".repeat(299)}`],
    ["%00", "/v1/secrets/victim/db%00"],
    ["%2e%2e", "/v1/secrets/victim/%2e%2e/db"],
    ["%252F (a double-encoded slash)", "/v1/secrets/victim%252Fdb"],
    ["%2F%2F (an encoded double slash)", "/v1/secrets/victim%2F%2Fdb"],
    ["%2F..%2F (an encoded dot-dot segment)", "/v1/secrets/victim%2F..%2Fdb"],
    ["%2F as the first character", "/v1/secrets/%2Fvictim/db"],
    ["percent-encoded letter", "/v1/secrets/victim/%64b"],
    ["trailing slash", "/v1/secrets/victim/db/"],
    ["space", "/v1/secrets/victim/d%20b"],
    ["reserved action word as last segment", "/v1/secrets/victim/versions"],
    ["reserved word metadata", "/v1/secrets/victim/metadata"],
    ["reserved word undelete", "/v1/secrets/victim/undelete"],
    ["reserved word destroy", "/v1/secrets/victim/destroy"],
    ["reserved word rotate", "/v1/secrets/victim/rotate"],
    ["batch as a one-segment path", "/v1/secrets/batch"],
    ["expiring as a one-segment path", "/v1/secrets/expiring"],
  ];

  for (const [name, target] of badPaths) {
    it(`refuses a PUT to a path with ${name} (invalid_path), changing nothing`, async () => {
      const response = await raw("PUT", target, JSON.stringify({ data: { password: "overwritten" } }));
      expectJsonError(response, 400, "invalid_path");
      await expectUnchanged();
    });
  }

  it("refuses reads, metadata, versions and deletes of hostile paths with invalid_path", async () => {
    for (const target of ["/v1/secrets/victim//db", "/v1/secrets/victim/../db", "/v1/secrets/VICTIM/db", "/v1/secrets/victim/db%00", "/v1/secrets/victim/%2e%2e/db"]) {
      for (const [method, suffix] of [["GET", ""], ["GET", "/metadata"], ["GET", "/versions"], ["DELETE", ""], ["POST", "/undelete"]] as const) {
        const response = await raw(method, `${target}${suffix}`);
        expectJsonError(response, 400, "invalid_path");
      }
    }
    await expectUnchanged();
  });

  it("refuses reserved words on every method that takes a path, never reaching another endpoint", async () => {
    for (const [method, target] of [
      ["GET", "/v1/secrets/batch"],
      ["DELETE", "/v1/secrets/batch"],
      ["DELETE", "/v1/secrets/expiring"],
      ["GET", "/v1/secrets/batch/metadata"],
      ["GET", "/v1/secrets/expiring/versions"],
      ["POST", "/v1/secrets/batch/undelete"],
      ["DELETE", "/v1/secrets/victim/versions"],
      ["DELETE", "/v1/secrets/victim/metadata"],
      ["GET", "/v1/secrets/versions"],
      ["GET", "/v1/secrets/metadata/versions"],
    ] as const) {
      expectJsonError(await raw(method, target), 400, "invalid_path");
    }
    await expectUnchanged();
  });

  it("refuses invalid UTF-8 in the path with a JSON 400, never a 5xx", async () => {
    const target = Buffer.concat([Buffer.from("/v1/secrets/victim/d"), Buffer.from([0xff, 0xfe]), Buffer.from("b")]);
    const response = await raw("PUT", target, JSON.stringify({ data: { password: "overwritten" } }));
    expectJsonError(response, 400, "invalid_request");
    await expectUnchanged();
  });

  it("refuses invalid UTF-8 in the body with invalid_request", async () => {
    const body = Buffer.concat([Buffer.from('{"data": {"password": "x'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}}')]);
    const response = await raw("PUT", "/v1/secrets/victim/db", body);
    expectJsonError(response, 400, "invalid_request");
    const created = await raw("PUT", "/v1/secrets/victim/other", body);
    expectJsonError(created, 400, "invalid_request");
    await expectUnchanged();
  });

  it("refuses wrong types with validation_error naming each field", async () => {
    const cases: Array<[unknown, string]> = [
      [{ data: "not an object" }, "data"],
      [{ data: ["a"] }, "data"],
      [{ data: null }, "data"],
      [{}, "data"],
      [{ data: { a: 1 }, secret_type: 7 }, "secret_type"],
      [{ data: { a: 1 }, metadata: { tags: "prod" } }, "metadata.tags"],
      [{ data: { a: 1 }, metadata: { tags: [1] } }, "metadata.tags.0"],
      [{ data: { a: 1 }, options: { max_versions: "10" } }, "options.max_versions"],
      [{ data: { a: 1 }, options: { max_versions: 0 } }, "options.max_versions"],
      [{ data: { a: 1 }, options: { max_versions: 2.5 } }, "options.max_versions"],
      [{ data: { a: 1 }, options: { cas: -1 } }, "options.cas"],
      [{ data: { a: 1 }, options: { expires_in: 30 } }, "options.expires_in"],
      [{ data: { a: 1 }, options: "none" }, "options"],
      [{ data: { a: 1 }, max_version: 3 }, "max_version"],
      [{ data: { a: 1 }, options: { max_version: 3 } }, "options.max_version"],
    ];
    for (const [body, field] of cases) {
      const response = await vault().admin.put("/v1/secrets/victim/db", body);
      expectJsonError(response, 422, "validation_error");
      expect(Object.keys(response.body.error.details.fields), JSON.stringify(body)).toContain(field);
    }
    await expectUnchanged();
  });

  it("refuses bad secret types and durations with their specific codes", async () => {
    expectJsonError(await vault().admin.put("/v1/secrets/victim/db", { data: { a: 1 }, secret_type: "password" }), 400, "invalid_secret_type");
    for (const duration of ["", "30", "1y", "-1d", "0s", "1.5h", "d", "30 d", "9999999999999999999d", "1000000000d", "36501d"]) {
      const response = await vault().admin.put("/v1/secrets/victim/db", { data: { a: 1 }, options: { expires_in: duration } });
      expectJsonError(response, 400, "invalid_duration");
    }
    expectJsonError(await vault().admin.put("/v1/secrets/victim/db", { data: { a: 1 }, options: { notify_before: "7d,soon" } }), 400, "invalid_duration");
    await expectUnchanged();
  });

  it("refuses a 70 KB value with 413 payload_too_large and a body over 1 MiB with 413", async () => {
    const big = await vault().admin.put("/v1/secrets/victim/db", { data: { blob: "x".repeat(70 * 1024) } });
    expectJsonError(big, 413, "payload_too_large");
    const huge = await vault().admin.put("/v1/secrets/victim/db", { data: { blob: "x".repeat(1024 * 1024 + 10) } });
    expect(huge.status).toBe(413);
    expect(huge.body.error.code).toBe("payload_too_large");
    const newPath = await vault().admin.put("/v1/secrets/victim/big", { data: { blob: "x".repeat(70 * 1024) } });
    expectJsonError(newPath, 413, "payload_too_large");
    await expectUnchanged();
  });

  it("refuses metadata over 16 KiB on write and patch (it is listed in plaintext with every item)", async () => {
    const { admin } = vault();
    const custom = { blob: "m".repeat(17 * 1024) };
    const write = await admin.put("/v1/secrets/victim/db", { data: { a: 1 }, metadata: { custom } });
    expectJsonError(write, 422, "validation_error");
    expect(Object.keys(write.body.error.details.fields)).toEqual(["metadata"]);
    expectJsonError(await admin.patch("/v1/secrets/victim/db/metadata", { metadata: { custom } }), 422, "validation_error");
    expectJsonError(await admin.put("/v1/secrets/victim/fresh", { data: { a: 1 }, metadata: { custom } }), 422, "validation_error");
    await expectUnchanged();
  });

  it("refuses malformed JSON and non-object bodies with invalid_request", async () => {
    for (const body of ["{", "not json", "[1,2]", '"text"', "42", "null", "true", '{"data": {"a": 1}} trailing']) {
      const response = await vault().admin.request("PUT", "/v1/secrets/victim/db", { raw: body, headers: { "content-type": "application/json" } });
      expectJsonError(response, 400, "invalid_request");
    }
    const batch = await vault().admin.request("POST", "/v1/secrets/batch", { raw: "[]", headers: { "content-type": "application/json" } });
    expectJsonError(batch, 400, "invalid_request");
    await expectUnchanged();
  });

  it("tells an anonymous caller only 401, whatever the body", async () => {
    const response = await vault().anonymous.request("PUT", "/v1/secrets/victim/db", { raw: "{", headers: { "content-type": "application/json" } });
    expectJsonError(response, 401, "authentication_required");
    const badUtf8 = await rawRequest(vault().baseUrl, "PUT", "/v1/secrets/victim/db", { body: Buffer.from([0x7b, 0xff, 0x7d]) });
    expectJsonError(badUtf8, 401, "authentication_required");
    const hostilePath = await rawRequest(vault().baseUrl, "GET", "/v1/secrets/victim/../db");
    expect(hostilePath.status).toBe(401);
    await expectUnchanged();
  });

  it("stores NUL characters in data and metadata faithfully, and refuses them in query strings", async () => {
    const { admin } = vault();
    const nul = "a\u0000b";
    const write = await admin.put("/v1/secrets/victim/nul", { data: { [nul]: nul }, metadata: { description: nul, tags: [nul], owner: nul, custom: { [nul]: nul } } });
    expect(write.status, write.text).toBe(201);
    const read = await admin.get("/v1/secrets/victim/nul");
    expect(read.body.data).toEqual({ [nul]: nul });
    expect(read.body.metadata).toEqual({ description: nul, tags: [nul], owner: nul, custom: { [nul]: nul } });
    expect((await admin.get(`/v1/secrets?tag=${encodeURIComponent(nul)}`)).body.data.map((s: any) => s.path)).toEqual(["victim/nul"]);
    await admin.delete("/v1/secrets/victim/nul?permanent=true");
    expectJsonError(await admin.get("/v1/secrets?prefix=%00"), 422, "validation_error");
    expectJsonError(await admin.get("/v1/secrets?cursor=%00"), 400, "invalid_cursor");
    expectJsonError(await admin.get("/v1/secrets/expiring?within=1d%00"), 400, "invalid_duration");
    expectJsonError(await admin.get("/v1/secrets/victim/db?version=1%00"), 422, "validation_error");
    await expectUnchanged();
  });

  it("keeps prototype-looking keys as plain data", async () => {
    const body = '{"data": {"__proto__": {"polluted": true}, "constructor": {"prototype": {"x": 1}}}}';
    const write = await vault().admin.request("PUT", "/v1/secrets/victim/proto", { raw: body, headers: { "content-type": "application/json" } });
    expect(write.status).toBe(201);
    const read = await vault().admin.get("/v1/secrets/victim/proto");
    expect(read.text).toContain('"__proto__":{"polluted":true}');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    await vault().admin.delete("/v1/secrets/victim/proto?permanent=true");
    await expectUnchanged();
  });

  it("refuses hostile list, expiring and batch input with JSON errors", async () => {
    const { admin } = vault();
    expectJsonError(await admin.get("/v1/secrets?limit=0"), 422, "validation_error");
    expectJsonError(await admin.get("/v1/secrets?limit=abc"), 422, "validation_error");
    expectJsonError(await admin.get("/v1/secrets?limit=100000"), 422, "validation_error");
    expectJsonError(await admin.get("/v1/secrets?prefix=UPPER"), 422, "validation_error");
    expectJsonError(await admin.get("/v1/secrets?cursor=%%%"), 400, "invalid_cursor");
    expectJsonError(await admin.get(`/v1/secrets?cursor=${Buffer.from('{"p": 5}').toString("base64url")}`), 400, "invalid_cursor");
    expectJsonError(await admin.get("/v1/secrets?unknown=1"), 422, "validation_error");
    expectJsonError(await admin.get("/v1/secrets/expiring?within=soon"), 400, "invalid_duration");
    expectJsonError(await admin.get("/v1/secrets/expiring?cursor=nope"), 400, "invalid_cursor");
    expectJsonError(await admin.post("/v1/secrets/batch", { paths: [] }), 422, "validation_error");
    expectJsonError(await admin.post("/v1/secrets/batch", { paths: Array.from({ length: 101 }, (_, i) => `p/${i}`) }), 422, "validation_error");
    expectJsonError(await admin.post("/v1/secrets/batch", { paths: "victim/db" }), 422, "validation_error");
    expectJsonError(await admin.post("/v1/secrets/batch", { paths: [1] }), 422, "validation_error");
    expectJsonError(await admin.post("/v1/secrets/batch", { paths: ["victim/db"], options: { version: "1" } }), 422, "validation_error");
    const mixed = await admin.post("/v1/secrets/batch", { paths: ["victim/db", "Bad//Path", "../x", "a".repeat(600)] });
    expect(mixed.status).toBe(200);
    expect(Object.keys(mixed.body.secrets)).toEqual(["victim/db"]);
    expect(Object.values(mixed.body.errors).map((e: any) => e.code)).toEqual(["invalid_path", "invalid_path", "invalid_path"]);
    await expectUnchanged();
  });

  it("answers a GET with a bad version query with validation_error", async () => {
    for (const version of ["0", "-1", "abc", "1.5", "99999999999"]) {
      expectJsonError(await vault().admin.get(`/v1/secrets/victim/db?version=${version}`), 422, "validation_error");
    }
    await expectUnchanged();
  });

  it("refuses hostile destroy and metadata bodies, changing nothing", async () => {
    const { admin } = vault();
    expectJsonError(await admin.post("/v1/secrets/victim/db/destroy", { versions: [] }), 422, "validation_error");
    expectJsonError(await admin.post("/v1/secrets/victim/db/destroy", { versions: ["1"] }), 422, "validation_error");
    expectJsonError(await admin.post("/v1/secrets/victim/db/destroy", { versions: [0] }), 422, "validation_error");
    expectJsonError(await admin.post("/v1/secrets/victim/db/destroy", {}), 422, "validation_error");
    expectJsonError(await admin.patch("/v1/secrets/victim/db/metadata", { metadata: { tags: [""] } }), 422, "validation_error");
    expectJsonError(await admin.patch("/v1/secrets/victim/db/metadata", { options: { cas: 1 } }), 422, "validation_error");
    expectJsonError(await admin.patch("/v1/secrets/victim/db/metadata", { data: { password: "x" } }), 422, "validation_error");
    expectJsonError(await admin.patch("/v1/secrets/victim/db/metadata", { options: { expires_in: "forever" } }), 400, "invalid_duration");
    expectJsonError(await admin.patch("/v1/secrets/victim/db/metadata", { secret_type: "pem" }), 400, "invalid_secret_type");
    await expectUnchanged();
  });
});
