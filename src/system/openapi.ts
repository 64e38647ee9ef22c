/**
 * The OpenAPI document's shape (served at /v1/openapi.json): lint-clean under Redocly's
 * recommended rules. Wildcard routes (`*`) are documented by their `docPath` (`{path}` etc.);
 * every operation gets an operationId and the contract's error envelope for 4XX/5XX answers;
 * `servers` is BASE_URL when set, else relative to the document.
 */
import { ERROR_CODES } from "../http/errors.js";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const METHODS = ["get", "put", "post", "patch", "delete", "head", "options"];

const ERROR_ENVELOPE = {
  type: "object",
  required: ["error"],
  properties: {
    error: {
      type: "object",
      required: ["code", "message"],
      properties: {
        code: { type: "string", enum: ERROR_CODES, description: "a stable code from one closed list" },
        message: { type: "string" },
        details: { type: "object", additionalProperties: true },
        request_id: { type: "string" },
      },
    },
  },
};

const WILDCARD_DESCRIPTION = "A secret path, slashes included (a/b/c). Generated clients may send each / as %2F, which the server reads as / (decoded once; %252F and other escapes are refused).";

/** `GET /v1/secrets/{path}/versions` → `getSecretsByPathVersions`. */
export function operationIdFor(method: string, url: string): string {
  const words = url.split("/").filter((s) => s && s !== "v1").map((segment) => {
    const name = /^\{(.+)\}$/.exec(segment)?.[1];
    const word = (name ? `by_${name}` : segment).replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ""));
    return word.charAt(0).toUpperCase() + word.slice(1);
  });
  return method.toLowerCase() + words.join("");
}

/** For `transform`: a wildcard route is documented under its `docPath`. */
export function transformRoute({ schema, url, route }: { schema: Json; url: string; route: { config?: unknown } }): { schema: Json; url: string } {
  const docPath = (route.config as { docPath?: string } | undefined)?.docPath;
  return docPath ? { schema, url: docPath } : { schema, url };
}

/** For `transformObject`: the whole document, finished. */
export function finishDocument(document: Json, baseUrl: string | null): Json {
  document.servers = [{ url: baseUrl ?? "/", description: baseUrl ? "this vault (BASE_URL)" : "the server that served this document" }];
  document.info = { ...document.info, license: { name: "Proprietary", url: "https://scailabs.ai" } };
  document.components = { ...document.components, schemas: { ...document.components?.schemas, Error: ERROR_ENVELOPE } };
  const errorResponse = (description: string) => ({ description, content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } });
  for (const [url, item] of Object.entries<Json>(document.paths ?? {})) {
    const names = [...url.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
    for (const method of METHODS) {
      const operation = item[method] as Json | undefined;
      if (!operation) continue;
      operation.operationId ??= operationIdFor(method, url);
      // Path parameters are exactly the names in the URL: `*` goes, a wildcard's name comes in.
      const others = ((operation.parameters ?? []) as Json[]).filter((p) => p.in !== "path" || names.includes(p.name));
      const present = new Set(others.filter((p) => p.in === "path").map((p) => p.name));
      const added = names.filter((n) => !present.has(n)).map((name) => ({ name, in: "path", required: true, schema: { type: "string" }, description: /path/.test(name) ? WILDCARD_DESCRIPTION : name }));
      operation.parameters = [...others, ...added];
      if (!operation.parameters.length) delete operation.parameters;
      operation.responses ??= {};
      if (!Object.keys(operation.responses).some((code) => /^4/.test(code))) operation.responses["4XX"] = errorResponse("An error in the contract's envelope: {error: {code, message, details, request_id}}");
      if (!Object.keys(operation.responses).some((code) => /^5/.test(code))) operation.responses["5XX"] = errorResponse("Storage or dependency unavailable (503/502), same envelope");
      if (!Object.keys(operation.responses).some((code) => /^2/.test(code))) operation.responses["200"] = { description: "OK" };
    }
  }
  return document;
}
