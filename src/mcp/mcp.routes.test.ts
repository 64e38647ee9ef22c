import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CredsBody, RenewBody } from "../dynamic/schemas.js";
import { startVault, type TestVault } from "../testing/harness.js";
import { ALL_TOOLS, requestOf } from "./server.js";
import type { Json, Route } from "./tool.js";

type Operation = { parameters?: { in: string; name: string }[]; requestBody?: { content?: Record<string, { schema?: { properties?: Record<string, unknown> } }> } };

/** Every property of a tool with a plain value, so that every argument reaches the request. */
function fullArgs(properties: Record<string, Json>): Json {
  const sample = (name: string, s: Json): unknown => {
    if (name === "path" || name === "secret_path") return "app/db";
    switch (s.type) {
      case "string": return "x";
      case "integer": case "number": return 1;
      case "boolean": return true;
      case "array": return [sample("", (s.items as Json) ?? { type: "string" })];
      default: return {};
    }
  };
  return Object.fromEntries(Object.entries(properties).map(([name, s]) => [name, sample(name, s)]));
}

/**
 * Routes whose body is optional are checked by hand against their schema and leave it out of the
 * OpenAPI document (src/dynamic/routes.ts `optionalBody`): their fields come from that schema.
 */
const OPTIONAL_BODIES: Record<string, { properties: Record<string, unknown> }> = {
  "POST /v1/dynamic/engines/{}/creds/{}": CredsBody,
  "POST /v1/dynamic/leases/{}/renew": RenewBody,
};

/** Arguments that steer the tool itself (server.ts META_ARGS), never sent. */
const STEERING = ["confirm", "partner", "field"];

/** `{policy_id}` and `{id}` name the same slot: routes are compared by their shape. */
const shape = (path: string) => path.replace(/\{[^}]+\}/g, "{}");

// The vault's OpenAPI document is generated from its routes' schemas; it does not depend on the
// storage backend, so one (SQLite) serves.
describe("every MCP tool calls an API route that exists, with the route's own argument names", () => {
  let vault: TestVault;
  let operations: Map<string, Operation>;
  beforeAll(async () => {
    vault = await startVault("sqlite");
    const doc = (await vault.anonymous.get("/v1/openapi.json")).body as { paths: Record<string, Record<string, Operation>> };
    operations = new Map(Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => [`${method.toUpperCase()} ${shape(path)}`, op] as const)));
  });
  afterAll(async () => {
    await vault?.close();
  });

  it("maps each tool (each call of a composite one, tenant and partner) to a documented operation, query and body fields", async () => {
    const problems: string[] = [];
    let calls = 0;
    for (const tool of ALL_TOOLS) {
      for (const partner of tool.properties.partner ? [false, true] : [undefined]) {
        const args = { ...fullArgs(tool.properties), ...(partner === undefined ? {} : { partner }) };
        const routes: { route: Route; args: Json }[] = [];
        if (tool.route) routes.push({ route: tool.route, args });
        else await tool.run!(args, async (route, a) => (routes.push({ route, args: a }), { data: { x: "v" }, version: 1, secret_type: "kv" }));
        expect(routes.length, tool.name).toBeGreaterThan(0);
        for (const { route, args: sent } of routes) {
          calls++;
          const key = `${route.method} ${shape(route.path)}`;
          const op = operations.get(key);
          if (!op) {
            problems.push(`${tool.name}: no operation ${key}`);
            continue;
          }
          const request = requestOf(route, sent);
          const queryNames = new Set((op.parameters ?? []).filter((p) => p.in === "query").map((p) => p.name));
          for (const name of Object.keys(request.query ?? {})) if (!queryNames.has(name)) problems.push(`${tool.name}: ${key} has no query parameter ${name}`);
          if (route.method === "GET" || route.method === "DELETE") {
            // No body: an argument that is neither in the URL nor in the query would be dropped unseen.
            const carried = new Set([...[...route.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]), ...(route.query ?? []), ...STEERING]);
            for (const name of Object.keys(sent)) if (!carried.has(name)) problems.push(`${tool.name}: ${key} drops argument ${name}`);
          }
          const bodyFields = Object.keys((request.body as Json | undefined) ?? {});
          const schema = op.requestBody?.content?.["application/json"]?.schema ?? OPTIONAL_BODIES[key];
          if (bodyFields.length > 0 && !schema) problems.push(`${tool.name}: ${key} takes no JSON body, sent ${bodyFields.join(", ")}`);
          if (schema?.properties) for (const name of bodyFields) if (!(name in schema.properties)) problems.push(`${tool.name}: ${key} body has no field ${name}`);
        }
      }
    }
    expect(problems).toEqual([]);
    expect(calls).toBeGreaterThanOrEqual(ALL_TOOLS.length);
  });
});
