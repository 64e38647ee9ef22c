import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { EVENT_TYPES } from "../events/catalogue.js";
import { useVault } from "../testing/harness.js";

const DOC = readFileSync(fileURLToPath(new URL("../../docs/conformance.md", import.meta.url)), "utf8");

// The table is about the API's surface, which does not depend on the storage backend.
describe("docs/conformance.md lists every endpoint and event the server has [sqlite]", () => {
  const vault = useVault("sqlite");

  it("has a row for every operation of the OpenAPI document, and no row for one that is gone", async () => {
    const openapi = await vault().anonymous.get("/v1/openapi.json");
    expect(openapi.status).toBe(200);
    const served = Object.entries(openapi.body.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
    const documented = [...DOC.matchAll(/^\| (GET|POST|PUT|PATCH|DELETE) \| `([^`]+)` \| (conforms|extends|differs) \|/gm)].map((m) => `${m[1]} ${m[2]}`);
    expect(served.length).toBeGreaterThan(100);
    expect(served.filter((op) => !documented.includes(op))).toEqual([]);
    expect(documented.filter((op) => !served.includes(op))).toEqual([]);
    // Documented endpoints the server does not answer are listed as absent, and must really be absent.
    const absent = [...DOC.matchAll(/^\| (GET|POST|PUT|PATCH|DELETE) \| `([^`]+)` \| absent \|/gm)].map((m) => `${m[1]} ${m[2]}`);
    expect(absent.length).toBeGreaterThan(0);
    expect(absent.filter((op) => served.includes(op))).toEqual([]);
    for (const op of absent) {
      const [method, path] = op.split(" ");
      const answer = await vault().admin.request(method, path.replace(/\{[^}]+\}/g, "probe_1"), method === "GET" || method === "DELETE" ? {} : { body: {} });
      expect([op, answer.status, answer.body.error?.code]).toEqual([op, 404, "not_found"]);
    }
  });

  it("lists the documented behaviours that differ, with the contract's reason", () => {
    const differs = DOC.slice(DOC.indexOf("## Differs, and why"), DOC.indexOf("## Endpoints"));
    for (const row of ["partner secrets readable from every tenant", '`"path": null`', '`redis: "disabled"`']) expect(differs, row).toContain(row);
  });

  it("has a row for every event type", () => {
    const documented = [...DOC.matchAll(/^\| `([a-z_.]+)` \| (conforms|extends|differs) \|/gm)].map((m) => m[1]);
    expect([...EVENT_TYPES].sort()).toEqual(documented.sort());
  });
});
