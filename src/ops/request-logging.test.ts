import { expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault, type TestVault } from "../testing/harness.js";
import { eventually } from "../events/test-receiver.js";

/** The "request completed" records of the vault's log, by request id. */
function completed(t: TestVault): { reqId: string; req?: { method: string; url: string }; res: { statusCode: number } }[] {
  return t.logs.join("").trim().split("\n").map((line) => JSON.parse(line)).filter((record) => record.msg === "request completed");
}

describeEachBackend("request logging (SCAIVAULT_LOG_REQUESTS)", (backend) => {
  const vault = useVault(backend);
  const everything = useVault(backend, { env: { SCAIVAULT_LOG_REQUESTS: "all" } });

  it("by default logs state changes, not reads or health checks, each in one line with its request id", async () => {
    const t = vault();
    expect((await t.anonymous.get("/v1/health")).status).toBe(200);
    expect((await t.admin.put("/v1/secrets/logging/one", { data: { v: 1 } })).status).toBe(201);
    expect((await t.admin.get("/v1/secrets/logging/one")).status).toBe(200);
    // The change's line marks that every earlier request's onResponse hook has run too.
    expect((await t.admin.delete("/v1/secrets/logging/one")).status).toBeLessThan(300);
    const lines = await eventually(async () => completed(t), (records) => records.some((r) => r.req?.method === "DELETE"));
    expect(lines.map((r) => r.req?.method)).toEqual(["PUT", "DELETE"]);
    for (const line of lines) expect(line.reqId).toMatch(/^req_/);
    expect(lines[0]).toMatchObject({ req: { url: "/v1/secrets/logging/one" }, res: { statusCode: 201 } });
    expect(t.logs.join("")).not.toContain("incoming request");
  });

  it("logs every request with SCAIVAULT_LOG_REQUESTS=all", async () => {
    const t = everything();
    expect((await t.anonymous.get("/v1/health")).status).toBe(200);
    expect((await t.admin.put("/v1/secrets/logging/all", { data: { v: 1 } })).status).toBe(201);
    const lines = await eventually(async () => completed(t), (records) => records.some((r) => r.req?.method === "PUT"));
    expect(lines.map((r) => `${r.req?.method} ${r.req?.url}`)).toEqual(["GET /v1/health", "PUT /v1/secrets/logging/all"]);
  });
});
