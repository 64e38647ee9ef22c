import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { CallToolRequestSchema, ListToolsRequestSchema, type CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { Ajv, type ValidateFunction } from "ajv";
import { ScaiVaultError, Transport, type RequestSpec } from "@scailabs/scaivault";
import type { ErrorCode } from "../http/errors.js";
import type { McpConfig } from "./config.js";
import { Guardrails } from "./guardrails.js";
import { localError, type Json, type Route, type ToolSpec } from "./tool.js";
import { OPS_TOOLS } from "./tools-ops.js";
import { POLICY_TOOLS } from "./tools-access.js";
import { DOMAIN_TOOLS } from "./tools-domains.js";
import { SECRET_TOOLS } from "./tools-secrets.js";

export const ALL_TOOLS: ToolSpec[] = [...SECRET_TOOLS, ...POLICY_TOOLS, ...OPS_TOOLS, ...DOMAIN_TOOLS];
/** Arguments that steer the tool itself, never sent to the API. */
const META_ARGS = new Set(["confirm", "partner", "field"]);
const SECRET_PATH_PARAMS = new Set(["path", "secret_path"]);

export function inputSchemaOf(tool: ToolSpec): Json {
  return { type: "object", properties: tool.properties, ...(tool.required?.length ? { required: tool.required } : {}), additionalProperties: false };
}

export function toolDefinition(tool: ToolSpec) {
  return {
    name: `scaivault_${tool.name}`,
    title: tool.title,
    description: tool.description,
    inputSchema: inputSchemaOf(tool),
    annotations: { title: tool.title, readOnlyHint: tool.kind === "read", destructiveHint: tool.kind === "destructive", idempotentHint: tool.kind === "read" || tool.idempotent === true, openWorldHint: false },
  };
}

/**
 * `{name}` filled from the arguments: secret paths keep their slashes, every segment encoded. A
 * `.`, `..` or empty segment is refused, never sent: URL parsing would resolve it, and the request
 * would reach another path or route than the one the guardrails judged.
 */
function fillPath(template: string, args: Json, used: Set<string>): string {
  return template.replace(/\{(\w+)\}/g, (_, name: string) => {
    used.add(name);
    const value = String(args[name] ?? "");
    const segments = SECRET_PATH_PARAMS.has(name) ? value.split("/") : [value];
    if (segments.some((segment) => segment === "" || segment === "." || segment === "..")) {
      throw SECRET_PATH_PARAMS.has(name) ? localError("invalid_path", `${name}: a path may not have an empty, . or .. segment`) : localError("invalid_request", `${name} may not be empty, . or ..`);
    }
    return segments.map(encodeURIComponent).join("/");
  });
}

/** The API request of one route: path arguments in the URL, `query` ones in the query, the rest (but META_ARGS) in the body. */
export function requestOf(route: Route, args: Json): RequestSpec {
  const used = new Set<string>();
  const path = fillPath(route.path, args, used);
  const query: RequestSpec["query"] = {};
  for (const name of route.query ?? []) {
    used.add(name);
    const value = args[name];
    if (value !== undefined) query[name] = value as string | number | boolean;
  }
  const spec: RequestSpec = { method: route.method, path, query };
  if (route.method !== "GET" && route.method !== "DELETE") spec.body = Object.fromEntries(Object.entries(args).filter(([k]) => !used.has(k) && !META_ARGS.has(k)));
  return spec;
}

function errorResult(code: string, message: string, requestId?: string | null): CallToolResult {
  const error: Json = { code, message };
  if (requestId) error.request_id = requestId;
  return { isError: true, content: [{ type: "text", text: JSON.stringify({ error }) }] };
}

/** The MCP server of spec/mcp.md over the vault's API (through the TypeScript SDK's transport). */
export function createMcpServer(config: McpConfig, version: string, log: (record: Json) => void): Server {
  const guardrails = new Guardrails(config);
  const tools = ALL_TOOLS.filter((tool) => config.toolsets.has(tool.category));
  const byName = new Map(tools.map((tool) => [`scaivault_${tool.name}`, tool]));
  const ajv = new Ajv({ allErrors: true, strict: false });
  const validators = new Map<string, ValidateFunction>(tools.map((tool) => [`scaivault_${tool.name}`, ajv.compile(inputSchemaOf(tool))]));
  const server = new Server({ name: "scaivault", version }, { capabilities: { tools: {} } });

  let transport: Transport | null = null;
  let token = config.token();
  const transportFor = () => {
    if (!transport) {
      const client = server.getClientVersion();
      const userAgent = `scaivault-mcp/${version}${client ? ` ${client.name}/${client.version}` : ""}`;
      transport = new Transport({ baseUrl: config.url, token, tenantId: config.tenantId ?? undefined, partnerId: config.partnerId ?? undefined, userAgent, retries: { maxAttempts: 2, maxDelay: 5 } });
    }
    return transport;
  };

  const call = async (toolName: string, route: Route, args: Json): Promise<unknown> => {
    const spec: RequestSpec = { ...requestOf(route, args), headers: { "x-scaivault-mcp-tool": toolName } };
    if (config.debug) log({ msg: "api call", tool: toolName, method: spec.method, path: spec.path, query: spec.query });
    try {
      return await transportFor().request(spec);
    } catch (error) {
      // A token file may have been replaced: read it again once after a 401.
      if (error instanceof ScaiVaultError && error.status === 401 && config.tokenFile) {
        const fresh = config.token();
        if (fresh !== token) {
          token = fresh;
          transport = null;
          return transportFor().request(spec);
        }
      }
      throw error;
    }
  };

  server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: tools.map(toolDefinition) }));
  server.setRequestHandler(CallToolRequestSchema, async (request): Promise<CallToolResult> => {
    const name = request.params.name;
    const tool = byName.get(name);
    if (!tool) return errorResult("not_found" satisfies ErrorCode, `Tool ${name} not found`);
    const args = guardrails.locked(tool, (request.params.arguments ?? {}) as Json);
    const validate = validators.get(name)!;
    if (!validate(args)) return errorResult("validation_error" satisfies ErrorCode, `Invalid arguments for ${name}: ${ajv.errorsText(validate.errors)}`);
    const refusal = guardrails.check(tool, args);
    if (refusal) {
      log({ msg: "refused", tool: name, code: refusal.code });
      return errorResult(refusal.code, refusal.message);
    }
    try {
      const raw = tool.run ? await tool.run(args, (route, a) => call(name, route, a)) : await call(name, tool.route!, args);
      const result = guardrails.mask(tool, args, guardrails.filter(tool, raw));
      const structured = result && typeof result === "object" && !Array.isArray(result) ? (result as Json) : { result: result ?? null };
      return { content: [{ type: "text", text: JSON.stringify(structured) }], structuredContent: structured };
    } catch (error) {
      if (error instanceof ScaiVaultError) return errorResult(error.code, error.message, error.requestId);
      const code = (error as { code?: unknown }).code;
      return errorResult(typeof code === "string" ? code : "internal_error", (error as Error).message);
    }
  });
  return server;
}
