import { expect, it } from "vitest";
import { describeEachBackend } from "../../../src/testing/backends.js";
import { useVault } from "../../../src/testing/harness.js";
import { auditRows } from "../../../src/testing/mcp-client.js";
import { PermissionDeniedError, ScaiVaultClient } from "./index.js";

describeEachBackend("TypeScript SDK: partnerId locks the client to one partner", (backend) => {
  const vault = useVault(backend);
  const client = (partnerId: string) => new ScaiVaultClient({ baseUrl: vault().baseUrl, token: vault().adminToken, partnerId });

  it("another partner: every call fails with context_mismatch before it is sent; whoami still answers", async () => {
    await vault().admin.put("/v1/secrets/sdkctx/db", { data: { password: "p" } });
    const c = client("ptn_elsewhere");
    const failure = await c.secrets.read("sdkctx/db").catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(PermissionDeniedError);
    expect(failure).toMatchObject({ code: "context_mismatch" });
    await expect(c.secrets.write("sdkctx/db", { password: "changed" })).rejects.toMatchObject({ code: "context_mismatch" });
    expect((await auditRows(vault(), "sdkctx/db")).map((row) => row.action)).toEqual(["write"]);
    expect((await c.auth.whoami()).partner_id).toBe("ptn_default");
  });

  it("the token's own partner: calls answer as without it", async () => {
    await vault().admin.put("/v1/secrets/sdkctx/own", { data: { password: "mine" } });
    expect((await client("ptn_default").secrets.read("sdkctx/own")).data).toEqual({ password: "mine" });
  });
});
