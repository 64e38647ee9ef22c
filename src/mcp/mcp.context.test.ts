import { beforeAll, expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault, type TestVault } from "../testing/harness.js";
import { auditRows, connectMcp } from "../testing/mcp-client.js";

/**
 * SCAIVAULT_PARTNER_ID and SCAIVAULT_TENANT_ID lock the server's context (spec/mcp.md §2): they
 * only narrow. A token whose context lies in another partner is refused before any tool's call,
 * and no tool argument can name another tenant or partner.
 */
describeEachBackend("scaivault-mcp context lock", (backend) => {
  const current = useVault(backend);
  let vault: TestVault;
  beforeAll(async () => {
    vault = current();
    expect((await vault.admin.put("/v1/secrets/ctx/app/db", { data: { password: "ctx-secret" } })).status).toBe(201);
  });

  it("SCAIVAULT_PARTNER_ID of another partner: tools are refused with context_mismatch and read nothing", async () => {
    const mcp = await connectMcp(vault, { SCAIVAULT_PARTNER_ID: "ptn_elsewhere" });
    try {
      const refusal = mcp.error(await mcp.call("read_secret", { path: "ctx/app/db" }));
      expect(refusal.code).toBe("context_mismatch");
      expect(refusal.message).toContain("ptn_elsewhere");
      expect(JSON.stringify(refusal)).not.toContain("ctx-secret");
      expect((await auditRows(vault, "ctx/app/db")).filter((row) => row.action === "read")).toEqual([]);
      // Still refused on the next call: the mismatch is remembered, not re-asked per tool.
      expect(mcp.error(await mcp.call("list_secrets", {})).code).toBe("context_mismatch");
    } finally {
      await mcp.close();
    }
  });

  it("SCAIVAULT_PARTNER_ID of the token's own partner: tools answer as without it", async () => {
    const mcp = await connectMcp(vault, { SCAIVAULT_PARTNER_ID: "ptn_default" });
    try {
      expect((await mcp.call("read_secret", { path: "ctx/app/db" })).structuredContent.data.password).toBe("ctx-secret");
    } finally {
      await mcp.close();
    }
  });

  it("a locked tenant or partner: a tool argument naming another one is refused before it is sent", async () => {
    const mcp = await connectMcp(vault, { SCAIVAULT_TENANT_ID: "tnt_default", SCAIVAULT_PARTNER_ID: "ptn_default" });
    try {
      expect((await mcp.refused("list_users", { tenant_id: "tnt_other" })).code).toBe("mcp_context_locked");
      expect((await mcp.refused("list_groups", { tenant_id: "tnt_other" })).code).toBe("mcp_context_locked");
      expect((await mcp.refused("sync_identities", { partner_id: "ptn_other" })).code).toBe("mcp_context_locked");
      expect((await mcp.refused("sync_identities", { tenant_id: "tnt_other" })).code).toBe("mcp_context_locked");
      // The locked tenant itself is allowed through to the API.
      const mark = mcp.lines.length;
      await mcp.call("list_users", { tenant_id: "tnt_default" });
      expect(await mcp.apiCallsSince(mark, "list_users")).toHaveLength(1);
      // A tool whose tenant or partner argument is optional is held to the locked ones when it omits them.
      const before = mcp.lines.length;
      await mcp.call("sync_identities", {});
      const [sent] = await mcp.apiCallsSince(before, "sync_identities");
      expect(sent.query).toEqual({ partner_id: "ptn_default", tenant_id: "tnt_default" });
    } finally {
      await mcp.close();
    }
  });
});
