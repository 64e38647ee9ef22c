import { statSync } from "node:fs";
import { expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { startVault, useVault } from "../testing/harness.js";

describeEachBackend("hardening lows", (backend) => {
  const vault = useVault(backend);

  it("answers deeply nested JSON 400 invalid_request, not 500", async () => {
    const { admin } = vault();
    for (const depth of [100, 5000, 100_000]) {
      const body = `{"data":{"v":${"[".repeat(depth)}${"]".repeat(depth)}}}`;
      const response = await admin.put(`/v1/secrets/nested/d${depth}`, undefined, { raw: body });
      expect(response.status).toBe(400);
      expect(response.body.error.code).toBe("invalid_request");
    }
    // Brackets inside strings are data, not nesting.
    const text = await admin.put("/v1/secrets/nested/text", { data: { v: "[".repeat(10_000) } });
    expect(text.status).toBe(201);
    expect((await admin.put("/v1/secrets/nested/shallow", { data: { a: { b: { c: [1, [2, [3]]] } } } })).status).toBe(201);
  });

  it("labels no metric with an identity or tenant id", async () => {
    const { admin, anonymous } = vault();
    expect((await admin.put("/v1/secrets/labels/x", { data: { v: 1 } })).status).toBeLessThan(300);
    expect((await admin.get("/v1/secrets/labels/x")).status).toBe(200);
    const text = (await anonymous.get("/v1/metrics")).text;
    expect(text).toContain("scaivault_secret_reads_total");
    expect(text).not.toMatch(/tnt_|ptn_|identity="|tenant="|user:admin|system:bootstrap/);
  });

  it("counts reads by each returned secret's stored type: a value that looks like a type is neither a label nor a count", async () => {
    const { admin, anonymous } = vault();
    // An unauthenticated scrape must never show a secret's value, and a writer must not mint label values.
    const lookalike = { secret_type: "kv", nested: { secret_type: "leaked_value_a1" }, list: [{ secret_type: "leaked_value_b2" }] };
    expect((await admin.put("/v1/secrets/labels/lookalike", { data: lookalike, secret_type: "json" })).status).toBe(201);
    const count = async (type: string) => {
      const match = new RegExp(`^scaivault_secret_reads_total\\{secret_type="${type}"\\} (\\d+)$`, "m").exec((await anonymous.get("/v1/metrics")).text);
      return match ? Number(match[1]) : 0;
    };
    const [json, kv] = [await count("json"), await count("kv")];
    expect((await admin.get("/v1/secrets/labels/lookalike")).status).toBe(200);
    const batch = await admin.post("/v1/secrets/batch", { paths: ["labels/lookalike"], options: { include_metadata: false } });
    expect(batch.status).toBe(200);
    expect(batch.body.secrets["labels/lookalike"].data).toEqual(lookalike);
    const text = (await anonymous.get("/v1/metrics")).text;
    expect(text).not.toContain("leaked_value");
    expect(await count("json")).toBe(json + 2);
    expect(await count("kv")).toBe(kv);
  });
});

describeEachBackend("metrics behind a token", (backend) => {
  const vault = useVault(backend, { env: { SCAIVAULT_METRICS_REQUIRE_TOKEN: "true" } });

  it("asks for metrics:read (or admin) when SCAIVAULT_METRICS_REQUIRE_TOKEN=true", async () => {
    const { admin, anonymous } = vault();
    const open = await anonymous.get("/v1/metrics");
    expect(open.status).toBe(401);
    expect(open.body.error.code).toBe("authentication_required");
    const narrow = await admin.post("/v1/auth/tokens", { identity_id: "sa:not-a-scraper", identity_type: "service_account", scopes: ["secrets:read"] });
    expect((await anonymous.withToken(narrow.body.token).get("/v1/metrics")).body.error.code).toBe("insufficient_scope");
    const scraper = await admin.post("/v1/auth/tokens", { identity_id: "sa:scraper", identity_type: "service_account", scopes: ["metrics:read"] });
    expect(scraper.status).toBe(201);
    const scraped = await anonymous.withToken(scraper.body.token).get("/v1/metrics");
    expect(scraped.status).toBe(200);
    expect(scraped.text).toContain("scaivault_requests_total");
    expect((await admin.get("/v1/metrics")).status).toBe(200);
    // Health stays open.
    expect((await anonymous.get("/v1/health")).status).toBe(200);
  });
});

it("[sqlite] creates the database, WAL and shared-memory files owner-only (0600) whatever the umask", async () => {
  const previous = process.umask(0o022);
  try {
    const node = await startVault("sqlite");
    try {
      expect((await node.admin.put("/v1/secrets/modes/x", { data: { v: 1 } })).status).toBe(201);
      const file = node.database.file!;
      for (const path of [file, `${file}-wal`, `${file}-shm`]) expect((statSync(path).mode & 0o777).toString(8)).toBe("600");
    } finally {
      await node.close();
    }
  } finally {
    process.umask(previous);
  }
});
