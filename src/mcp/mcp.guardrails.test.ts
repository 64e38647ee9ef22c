import { beforeAll, expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault, type TestVault } from "../testing/harness.js";
import { auditCount, connectMcp } from "../testing/mcp-client.js";

type Schema = { type?: string; properties?: Record<string, Schema>; required?: string[]; items?: Schema; minItems?: number };

/** The smallest arguments a tool's input schema accepts: each required property with a plain value. */
function minimalArgs(schema: Schema): Record<string, unknown> {
  const sample = (s: Schema): unknown => {
    switch (s.type) {
      case "string": return "x";
      case "integer": case "number": return 1;
      case "boolean": return true;
      case "array": return Array.from({ length: Math.max(1, s.minItems ?? 1) }, () => sample(s.items ?? { type: "string" }));
      default: return {};
    }
  };
  return Object.fromEntries((schema.required ?? []).map((name) => [name, sample(schema.properties![name])]));
}

/** The path arguments of spec/mcp.md §3, checked on every tool that takes one. */
const PATH_ARGS = ["path", "prefix", "path_prefix", "secret_path", "paths"];

describeEachBackend("scaivault-mcp guardrails, every tool", (backend) => {
  const current = useVault(backend);
  let vault: TestVault;
  beforeAll(async () => {
    vault = current();
    for (const path of ["agents/app/db", "agents/app/api", "agents/other/x", "agents/apple/z"]) {
      expect((await vault.admin.put(`/v1/secrets/${path}`, { data: { password: `v-${path}` } })).status).toBe(201);
    }
  });

  it("read-only: every tool that is not read-only refuses, sends nothing and leaves no audit entry", async () => {
    const mcp = await connectMcp(vault, { SCAIVAULT_READ_ONLY: "yes" });
    try {
      const { tools } = await mcp.client.listTools();
      const writers = tools.filter((t) => t.annotations?.readOnlyHint === false);
      expect(writers.length).toBeGreaterThan(30);
      const before = await auditCount(vault);
      for (const tool of writers) {
        const refusal = await mcp.refused(tool.name.replace(/^scaivault_/, ""), { ...minimalArgs(tool.inputSchema as Schema), ...(tool.annotations?.destructiveHint ? { confirm: true } : {}) });
        expect(refusal.code, tool.name).toBe("mcp_read_only");
      }
      expect(await auditCount(vault)).toBe(before);
      // Read tools still answer, through the API.
      const mark = mcp.lines.length;
      expect((await mcp.call("read_secret", { path: "agents/app/db" })).structuredContent.data.password).toBe("v-agents/app/db");
      expect(await mcp.apiCallsSince(mark, "read_secret")).toHaveLength(1);
    } finally {
      await mcp.close();
    }
  });

  it("confirmation: every destructive tool without confirm: true refuses and says what would happen; SCAIVAULT_REQUIRE_CONFIRM=false lifts it", async () => {
    const mcp = await connectMcp(vault);
    try {
      const { tools } = await mcp.client.listTools();
      const destructive = tools.filter((t) => t.annotations?.destructiveHint === true);
      expect(destructive.length).toBeGreaterThan(10);
      for (const tool of destructive) {
        const name = tool.name.replace(/^scaivault_/, "");
        for (const confirm of [undefined, false]) {
          const refusal = await mcp.refused(name, { ...minimalArgs(tool.inputSchema as Schema), ...(confirm === undefined ? {} : { confirm }) });
          expect(refusal.code, tool.name).toBe("mcp_confirmation_required");
          expect(refusal.message, tool.name).toMatch(/would /);
        }
      }
    } finally {
      await mcp.close();
    }
    const unconfirmed = await connectMcp(vault, { SCAIVAULT_REQUIRE_CONFIRM: "false" });
    try {
      const deleted = await unconfirmed.call("delete_secret", { path: "agents/apple/z" });
      expect(deleted.isError, JSON.stringify(deleted)).toBeFalsy();
      expect((await vault.admin.get("/v1/secrets/agents/apple/z")).status).toBe(404);
      expect((await vault.admin.post("/v1/secrets/agents/apple/z/undelete")).status).toBe(200);
    } finally {
      await unconfirmed.close();
    }
  });

  it("paths: every tool taking a path argument refuses one outside the allowed paths, or denied, before any API call", async () => {
    const mcp = await connectMcp(vault, { SCAIVAULT_ALLOWED_PATHS: "agents/app", SCAIVAULT_DENIED_PATHS: "agents/app/api", SCAIVAULT_REQUIRE_CONFIRM: "false" });
    try {
      const { tools } = await mcp.client.listTools();
      const checked: string[] = [];
      for (const tool of tools) {
        const schema = tool.inputSchema as Schema;
        const name = tool.name.replace(/^scaivault_/, "");
        for (const arg of PATH_ARGS.filter((a) => schema.properties?.[a])) {
          for (const outside of ["agents/other/x", "agents/app/api", "agents/apple", "agents/app/api/deeper"]) {
            const value = schema.properties![arg].type === "array" ? ["agents/app/db", outside] : outside;
            expect((await mcp.refused(name, { ...minimalArgs(schema), [arg]: value })).code, `${name} ${arg}=${outside}`).toBe("mcp_path_denied");
          }
          checked.push(`${name}.${arg}`);
        }
      }
      // The contract's path arguments, at least: a tool that lost its path argument fails here.
      for (const expected of ["read_secret.path", "write_secret.path", "delete_secret.path", "list_secrets.prefix", "batch_read_secrets.paths", "query_audit_logs.path_prefix", "get_secret_audit_trail.path", "assign_rotation_policy.secret_path", "unassign_rotation_policy.secret_path", "test_policy.path", "create_subscription.paths"]) {
        expect(checked).toContain(expected);
      }
    } finally {
      await mcp.close();
    }
  });

  it("paths: a . or .. segment cannot step out of the allowed paths (the URL would be normalised)", async () => {
    const mcp = await connectMcp(vault, { SCAIVAULT_ALLOWED_PATHS: "agents/app", SCAIVAULT_DENIED_PATHS: "agents/app/api" });
    try {
      for (const path of ["agents/app/../other/x", "agents/app/./api", "agents/app/db/../../other/x", "agents/app/%2e%2e/other/x", "agents/app//api"]) {
        const result = await mcp.call("read_secret", { path });
        expect(result.isError, `${path}: ${JSON.stringify(result)}`).toBe(true);
        expect(JSON.stringify(result)).not.toContain("v-agents/");
        expect((await mcp.refused("read_secret", { path })).code, path).toBe("mcp_path_denied");
      }
      expect((await mcp.refused("batch_read_secrets", { paths: ["agents/app/db", "agents/app/../other/x"] })).code).toBe("mcp_path_denied");
    } finally {
      await mcp.close();
    }
  });

  it("without path guardrails too, a . or .. segment is refused, never sent to another path or route", async () => {
    const mcp = await connectMcp(vault);
    try {
      const before = await auditCount(vault);
      for (const [tool, args, code] of [
        ["read_secret", { path: "agents/app/../other/x" }, "invalid_path"],
        ["get_secret_versions", { path: "agents/./app/db" }, "invalid_path"],
        ["get_rotation_policy", { policy_id: ".." }, "invalid_request"],
        ["get_secret_audit_trail", { path: "agents/app/db/.." }, "invalid_path"],
      ] as const) {
        const mark = mcp.lines.length;
        const result = await mcp.call(tool, args);
        expect(mcp.error(result).code, `${tool} ${JSON.stringify(args)}`).toBe(code);
        expect(mcp.lines.slice(mark).filter((line) => line.msg === "api call"), tool).toEqual([]);
      }
      expect(await auditCount(vault)).toBe(before);
    } finally {
      await mcp.close();
    }
  });

  it("paths: nested prefixes are raw string prefixes, so they must end inside an allowed prefix; an absent one reaches every path", async () => {
    const mcp = await connectMcp(vault, { SCAIVAULT_ALLOWED_PATHS: "agents/app", SCAIVAULT_DENIED_PATHS: "agents/app/api" });
    const hook = { url: "http://127.0.0.1:9/", secret: "whsec_0123456789abcdef", events: ["secret.*"] };
    try {
      for (const [tool, args] of [
        // A webhook's filters.path_prefix matches event paths by string prefix: `agents/app` also reaches `agents/apple/z`.
        ["create_webhook", { name: "raw", ...hook, filters: { path_prefix: "agents/app" } }],
        ["create_webhook", { name: "api", ...hook, filters: { path_prefix: "agents/app/a" } }],
        ["create_webhook", { name: "all", ...hook }],
        ["create_webhook", { name: "tags", ...hook, filters: { tags: ["x"] } }],
        ["update_webhook", { webhook_id: "wh_x", filters: { secret_type: "kv" } }],
        ["export_audit_logs", { format: "jsonl", destination: { type: "file" } }],
        ["export_audit_logs", { format: "jsonl", destination: { type: "file" }, filters: { path_prefix: "agents/app" } }],
        ["update_policy", { policy_id: "pol_x", rules: [{ path_pattern: "agents/*/db", permissions: ["read"] }] }],
        ["create_policy", { name: "q", rules: [{ path_pattern: "agents/app/ap?", permissions: ["read"] }] }],
        ["create_subscription", { name: "s", paths: ["agents/app/**", "agents/**/x"], events: ["secret.*"], delivery: { type: "polling" } }],
        ["create_exchange_trust", { name: "t", issuer: "https://issuer.example", audiences: ["a"], rules: [] }],
        // Without secret_path the certificate secret goes to the API's default, pki/acme/<domain>.
        ["create_acme_order", { account_id: "acme_x", domains: ["*.example.com"] }],
      ] as const) {
        expect((await mcp.refused(tool, args as Record<string, unknown>)).code, `${tool} ${JSON.stringify(args)}`).toBe("mcp_path_denied");
      }
      const inside = await mcp.call("create_webhook", { name: "inside", ...hook, filters: { path_prefix: "agents/app/db" } });
      expect(inside.isError, JSON.stringify(inside)).toBeFalsy();
      const slash = await mcp.call("create_webhook", { name: "slash", ...hook, filters: { path_prefix: "agents/app/d" } });
      expect(slash.isError, JSON.stringify(slash)).toBeFalsy();
      const unchanged = await mcp.call("update_webhook", { webhook_id: inside.structuredContent.id, enabled: false });
      expect(unchanged.isError, JSON.stringify(unchanged)).toBeFalsy();
      const named = await mcp.call("create_acme_order", { account_id: "acme_x", domains: ["www.example.com"], secret_path: "agents/app/cert" });
      expect(mcp.error(named).code).not.toBe("mcp_path_denied");
      const exported = await mcp.call("export_audit_logs", { format: "jsonl", destination: { type: "file" }, filters: { path_prefix: "agents/app/db" } });
      expect(exported.isError === true ? JSON.parse(exported.content[0].text).error.code : "sent").not.toBe("mcp_path_denied");
    } finally {
      await mcp.close();
    }
  });

  it("paths: audit trails, summaries, rotation history and polled events show only covered paths", async () => {
    const whoami = (await vault.admin.get("/v1/auth/whoami")).body as { identity_id: string };
    const sub = await vault.admin.post("/v1/subscriptions", { name: `poll-${backend}`, paths: ["agents/**"], events: ["secret.*"], delivery: { type: "polling" } });
    expect(sub.status, sub.text).toBe(201);
    for (const path of ["agents/app/db", "agents/other/x", "agents/app/api"]) expect((await vault.admin.put(`/v1/secrets/${path}`, { data: { password: `v-${path}` } })).status).toBe(200);
    const rotation = await vault.admin.post("/v1/rotation/policies", { name: `mcp-${backend}`, interval: "90d" });
    expect(rotation.status, rotation.text).toBe(201);
    for (const path of ["agents/app/db", "agents/other/x"]) {
      const assigned = await vault.admin.post(`/v1/rotation/policies/${rotation.body.id}/secrets`, { secret_path: path });
      expect(assigned.status, assigned.text).toBe(201);
      const rotated = await vault.admin.post(`/v1/secrets/${path}/rotate`);
      expect(rotated.status, rotated.text).toBe(202);
    }
    const open = await connectMcp(vault);
    const mcp = await connectMcp(vault, { SCAIVAULT_ALLOWED_PATHS: "agents/app", SCAIVAULT_DENIED_PATHS: "agents/app/api" });
    try {
      const paths = (entries: { secret_path?: string | null; path?: string }[]) => new Set(entries.map((e) => e.secret_path ?? e.path ?? null));
      // Unrestricted, the answers do reach other paths: the filtered ones below are not empty by accident.
      const everyTrail = (await open.call("get_identity_audit_trail", { identity_id: whoami.identity_id })).structuredContent;
      expect(paths(everyTrail.logs).has("agents/other/x")).toBe(true);
      const everySummary = (await open.call("get_audit_summary")).structuredContent;
      expect(paths(everySummary.top_paths).has("agents/other/x")).toBe(true);
      const everyHistory = (await open.call("get_rotation_history", { policy_id: rotation.body.id })).structuredContent;
      expect(paths(everyHistory.data).has("agents/other/x")).toBe(true);

      const trail = (await mcp.call("get_identity_audit_trail", { identity_id: whoami.identity_id })).structuredContent;
      expect(paths(trail.logs).has("agents/app/db")).toBe(true);
      for (const p of ["agents/other/x", "agents/app/api", "agents/apple/z"]) expect(paths(trail.logs).has(p), p).toBe(false);
      const summary = (await mcp.call("get_audit_summary")).structuredContent;
      expect(paths(summary.top_paths).has("agents/app/db")).toBe(true);
      for (const p of ["agents/other/x", "agents/app/api", "agents/apple/z"]) expect(paths(summary.top_paths).has(p), p).toBe(false);
      const history = (await mcp.call("get_rotation_history", { policy_id: rotation.body.id })).structuredContent;
      expect([...paths(history.data)]).toEqual(["agents/app/db"]);
      // Polling never acknowledges: both servers see the same waiting events.
      const everyEvent = (await open.call("poll_subscription", { subscription_id: sub.body.id, timeout: 0 })).structuredContent;
      expect(paths(everyEvent.events).has("agents/other/x")).toBe(true);
      const events = (await mcp.call("poll_subscription", { subscription_id: sub.body.id, timeout: 0 })).structuredContent;
      expect([...paths(events.events)]).toEqual(["agents/app/db"]);
    } finally {
      await mcp.close();
      await open.close();
    }
  });

  it("paths: a batch read's audit entry names only covered paths, and webhook deliveries of other paths are left out", async () => {
    const whoami = (await vault.admin.get("/v1/auth/whoami")).body as { identity_id: string };
    const hook = await vault.admin.post("/v1/webhooks", { name: `deliveries-${backend}`, url: "http://127.0.0.1:9/hook", events: ["secret.*"] });
    expect(hook.status, hook.text).toBe(201);
    for (const path of ["agents/app/batch", "agents/other/batch"]) expect((await vault.admin.put(`/v1/secrets/${path}`, { data: { v: path } })).status).toBe(201);
    const batch = await vault.admin.post("/v1/secrets/batch", { paths: ["agents/app/batch", "agents/other/batch"] });
    expect(batch.status, batch.text).toBe(200);
    const open = await connectMcp(vault);
    const mcp = await connectMcp(vault, { SCAIVAULT_ALLOWED_PATHS: "agents/app" });
    try {
      type Entry = { secret_path: string | null; action: string; extra_data: { paths?: string[] } };
      const batchEntry = (logs: Entry[]) => logs.find((e) => e.secret_path === null && e.action === "read" && e.extra_data.paths?.includes("agents/app/batch"));
      // Unrestricted, the entry names both paths: the cut below is the guardrail's.
      expect(batchEntry((await open.call("get_identity_audit_trail", { identity_id: whoami.identity_id })).structuredContent.logs)?.extra_data.paths?.sort()).toEqual(["agents/app/batch", "agents/other/batch"]);
      expect(batchEntry((await mcp.call("get_identity_audit_trail", { identity_id: whoami.identity_id })).structuredContent.logs)?.extra_data.paths).toEqual(["agents/app/batch"]);
      const secretTrail = (await mcp.call("get_secret_audit_trail", { path: "agents/app/batch" })).structuredContent.logs as Entry[];
      expect(batchEntry(secretTrail)?.extra_data.paths).toEqual(["agents/app/batch"]);

      const deliveryPaths = async (client: typeof mcp) => {
        const answer = (await client.call("list_webhook_deliveries", { webhook_id: hook.body.id })).structuredContent as { deliveries: { path: string | null }[] };
        return new Set(answer.deliveries.map((d) => d.path));
      };
      // Deliveries are written by the fan-out after the commit: wait until both are there unrestricted.
      const deadline = Date.now() + 15_000;
      while (!(await deliveryPaths(open)).has("agents/other/batch")) {
        if (Date.now() > deadline) throw new Error("the webhook's deliveries never appeared");
        await new Promise((r) => setTimeout(r, 100));
      }
      expect([...(await deliveryPaths(mcp))]).toEqual(["agents/app/batch"]);
    } finally {
      await mcp.close();
      await open.close();
    }
  });
});
