import { readFileSync, writeFileSync } from "node:fs";
import { expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault, type ApiClient, type TestVault } from "../testing/harness.js";
import { DOCUMENTED_ACTIONS, isDocumentedAction } from "./actions.js";
import { identityWith } from "./test-fixtures.js";
import { eventually, TestReceiver } from "../events/test-receiver.js";

const DOC = new URL("../../docs/audit-actions.md", import.meta.url).pathname;
const BEGIN = "<!-- route-table:begin -->";
const END = "<!-- route-table:end -->";
const HEADER = "| Method | Route | Action | Documented |\n|---|---|---|---|";

interface RouteRow {
  method: string;
  route: string;
  action: string;
}

function rowText(row: RouteRow): string {
  const documented = row.action === "—" ? "not audited" : isDocumentedAction(row.action) ? "yes" : "ext";
  return `| ${row.method} | \`${row.route}\` | ${row.action === "—" ? "—" : `\`${row.action}\``} | ${documented} |`;
}

/** A concrete URL for a documented route: `{path}` spans segments, other parameters are one. */
function concrete(route: string): string {
  return route.replace("{path}", "audit-table/probe").replace(/\{[^}]+\}/g, "probe_1");
}

/**
 * The table as the running server has it: every route of the OpenAPI document is called with a
 * token that holds no scope (so nothing runs past the scope check), and the action of the entry
 * written for that request id is read from the trail.
 */
async function serverTable(t: TestVault, caller: ApiClient): Promise<RouteRow[]> {
  const spec = (await t.anonymous.get("/v1/openapi.json")).body as { paths: Record<string, Record<string, unknown>> };
  const rows: RouteRow[] = [];
  for (const [route, methods] of Object.entries(spec.paths)) {
    for (const method of Object.keys(methods).map((m) => m.toUpperCase())) {
      if (method === "HEAD") continue;
      const response = await caller.request(method, concrete(route), method === "GET" || method === "DELETE" ? {} : { body: {} });
      const requestId = response.headers.get("x-request-id");
      const entry = requestId ? await t.vault.db.get<{ action: string }>("SELECT action FROM audit_log WHERE request_id = ?", [requestId]) : undefined;
      rows.push({ method, route, action: entry?.action ?? "—" });
    }
  }
  return rows.sort((a, b) => a.route.localeCompare(b.route) || a.method.localeCompare(b.method));
}

function documentedTable(): string[] {
  const text = readFileSync(DOC, "utf8");
  const start = text.indexOf(BEGIN);
  const end = text.indexOf(END);
  if (start < 0 || end < start) throw new Error(`${DOC} lacks the ${BEGIN} … ${END} markers`);
  return text.slice(start + BEGIN.length, end).split("\n").filter((line) => line.startsWith("| ") && !line.startsWith("| Method")).map((l) => l.trim());
}

describeEachBackend("audit: documented action names", (backend) => {
  const vault = useVault(backend);

  it("records binding and unbinding as policy_bind and policy_unbind, found by ?action=", async () => {
    const t = vault();
    const policy = await t.admin.post("/v1/policies", { name: "bind-names", rules: [{ path_pattern: "names/*", permissions: ["read"] }] });
    expect(policy.status).toBe(201);
    const bound = await t.admin.post(`/v1/policies/${policy.body.id}/bindings`, { identity_type: "service_account", identity_id: "sa:names" });
    expect(bound.status).toBe(201);
    expect((await t.admin.delete(`/v1/policies/${policy.body.id}/bindings/${bound.body.id}`)).status).toBeLessThan(300);
    const binds = await t.admin.get("/v1/audit/logs?action=policy_bind");
    expect(binds.body.logs.map((l: { request_id: string }) => l.request_id)).toContain(bound.headers.get("x-request-id"));
    const unbinds = await t.admin.get("/v1/audit/logs?action=policy_unbind");
    expect(unbinds.body.logs).toHaveLength(1);
    expect((await t.admin.get("/v1/audit/logs?action=binding_create,binding_delete")).body.logs).toEqual([]);
  });

  it("records each subscription delivery to a URL as subscription_event (a system entry)", async () => {
    const t = vault();
    const receiver = await new TestReceiver().start();
    try {
      const sub = await t.admin.post("/v1/subscriptions", { name: "audit-sub-event", paths: ["subev/**"], events: ["secret.created"], delivery: { type: "webhook", url: `${receiver.url}/sub`, secret: "whsec_audit_subscription_event_0123" } });
      expect(sub.status, sub.text).toBe(201);
      expect((await t.admin.put("/v1/secrets/subev/one", { data: { v: 1 } })).status).toBe(201);
      await receiver.waitFor((r) => r.length >= 1);
      const audit = await eventually(() => t.admin.get("/v1/audit/logs?action=subscription_event"), (res) => res.body.logs.length >= 1);
      expect(audit.body.logs).toHaveLength(1);
      expect(audit.body.logs[0]).toMatchObject({ action: "subscription_event", success: true, identity_id: "system:event-delivery", secret_path: "subev/one" });
    } finally {
      await receiver.stop();
    }
  });

  it("docs/audit-actions.md lists every route with the action the server records", async () => {
    const t = vault();
    const scopeless = await identityWith(t, { id: "sa:action-table", type: "service_account", scopes: [] });
    const rows = (await serverTable(t, scopeless)).map(rowText);
    if (process.env.SCAIVAULT_WRITE_ACTION_TABLE === "1" && backend === "sqlite") {
      // Regenerates the table after routes change (run this file once with the variable set).
      const text = readFileSync(DOC, "utf8");
      writeFileSync(DOC, `${text.slice(0, text.indexOf(BEGIN) + BEGIN.length)}\n${HEADER}\n${rows.join("\n")}\n${text.slice(text.indexOf(END))}`);
    }
    const documented = documentedTable();
    expect({ missingFromDocs: rows.filter((r) => !documented.includes(r)), notOnServer: documented.filter((r) => !rows.includes(r)) }).toEqual({ missingFromDocs: [], notOnServer: [] });
  }, 60_000);

  it("the docs' list of the 22 documented actions says where each is recorded", () => {
    const text = readFileSync(DOC, "utf8");
    const table = documentedTable().join("\n");
    for (const action of DOCUMENTED_ACTIONS) {
      const line = text.split("\n").find((l) => l.startsWith(`| \`${action}\` |`));
      expect(line, action).toBeDefined();
      // An action said to be recorded by a route must be in the route table under that name.
      if (line!.includes("route:")) expect(table, action).toContain(`| \`${action}\` |`);
    }
    expect(DOCUMENTED_ACTIONS).toHaveLength(22);
  });
});
