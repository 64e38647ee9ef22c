import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { decodeURIComponentSafe } from "../shared/uri.js";
import type { Principal } from "../access/principal.js";
import type { Authenticator } from "../access/authenticator.js";
import { scopesAllow } from "../access/scopes.js";
import type { AuditRecorder } from "../audit/recorder.js";
import type { TenantResolver } from "../tenancy/resolver.js";
import type { Caller, RequestContext, RoutePolicy, TenantRef } from "./context.js";
import { sendError, toVaultError } from "./error-handler.js";
import { VaultError } from "./errors.js";

declare module "fastify" {
  interface FastifyRequest {
    vault: RequestContext;
  }
  interface FastifyContextConfig extends RoutePolicy {}
}

/** The route's config: from the request context once the pipeline has made it, else from Fastify. */
export function routeOf(request: FastifyRequest): RoutePolicy {
  return request.vault?.route ?? request.routeOptions.config ?? {};
}

const TENANT_PREFIX = /^\/v1\/t\/([^/?#]+)(\/.*)?$/;

/** Fastify `rewriteUrl`: `/v1/t/{tenant}/secrets/x` is served by `/v1/secrets/x` with the tenant noted. */
export function rewriteTenantPrefix(raw: { url?: string; headers: Record<string, unknown> }): string {
  const url = raw.url ?? "/";
  const match = TENANT_PREFIX.exec(url);
  if (!match) return url;
  (raw as { tenantFromUrl?: string }).tenantFromUrl = decodeURIComponentSafe(match[1]);
  return `/v1${match[2] ?? "/"}`;
}

/** Rate limits and admission (src/ops). */
export interface RequestLimits {
  /** Before authenticating: a source address whose failure budget is spent gets 429 without any storage work. */
  gate?(request: FastifyRequest, reply: FastifyReply): Promise<void>;
  charge(request: FastifyRequest, reply: FastifyReply, principal: Principal): Promise<void>;
  /**
   * An unauthenticated route with a budget of its own (the token exchange) charged to the source
   * address; a refusal is coalesced per source, as failed authentications are, not audited alone.
   */
  chargeSource(request: FastifyRequest, reply: FastifyReply, category: "exchange"): Promise<void>;
  /** A failed authentication is charged to its source IP; throws rate_limited once that is spent. */
  chargeFailedAuth(request: FastifyRequest, reply: FastifyReply, error: unknown): Promise<void>;
  /**
   * After tenant and scope: a request-concurrency slot, or a stream slot for long-lived routes,
   * which re-run the request's own admission with `readmit` while they stay open.
   */
  admit?(request: FastifyRequest, reply: FastifyReply, readmit: (request: FastifyRequest) => Promise<Admission>): void;
}

/** Who a request is and where it acts, as authentication, tenant resolution and scope decided. */
export interface Admission {
  principal: Principal;
  tenant: TenantRef | null;
}

/** Console cookie sessions (src/console): used only when a request sends no Authorization header. */
export interface CookieSessions {
  presented(request: FastifyRequest): boolean;
  /** Checks CSRF and origin, then the session's stored credential; throws the contract's errors. */
  authenticate(request: FastifyRequest): Promise<{ principal: Principal }>;
}

export interface PipelineDeps {
  authenticator: Authenticator;
  tenants: TenantResolver;
  audit: AuditRecorder;
  limits?: RequestLimits;
  sessions?: CookieSessions;
}

/**
 * The request pipeline, in the contract's order: request id → authenticate → resolve tenant →
 * scope → body shape → (schema validation, by Fastify) → handler (policy, existence) → audit
 * before the response leaves → error rendering (error-handler.ts).
 *
 * Authentication runs in `preParsing`, before a byte of the body is read: an unauthenticated
 * client is answered without reading (or waiting for) its body, so slow or oversized bodies
 * cost authenticated clients nothing, and only authenticated requests take a concurrency slot.
 */
export function installPipeline(app: FastifyInstance, deps: PipelineDeps): void {
  app.decorateRequest("vault", null as unknown as RequestContext);

  // Hooks that usually have nothing to wait for take Fastify's callback form and return a promise
  // only when they do: an async hook costs a promise and a microtask per request even when idle.
  app.addHook("onRequest", (request, reply, done) => {
    const requestId = request.id;
    const options = request.routeOptions;
    const route: RoutePolicy = options.config ?? {};
    const routeMatched = options.url !== undefined;
    request.vault = {
      requestId,
      route,
      routeMatched,
      startedAt: process.hrtime.bigint(),
      sourceIp: request.ip,
      userAgent: typeof request.headers["user-agent"] === "string" ? request.headers["user-agent"].slice(0, 512) : null,
      mcpTool: mcpToolOf(request.headers["x-scaivault-mcp-tool"]),
      principal: null,
      tenant: null,
      tenantFromUrl: (request.raw as { tenantFromUrl?: string }).tenantFromUrl ?? null,
      bodyInvalid: false,
      errorCode: null,
      // Unknown routes are requests that reached the API too: audited as route_not_found.
      audit: { action: route.action ?? (routeMatched ? null : "route_not_found"), secretPath: null, extra: {}, recorded: false },
      response: reply.raw,
    };
    reply.header("X-Request-ID", requestId);
    done();
  });

  app.addHook("preParsing", (request, reply, payload, done) => {
    if (request.vault.route.auth === false) return done(null, payload);
    return admit(request, reply);
  });

  /** Authenticate → charge → resolve tenant → scope → admission, before a byte of the body is read. */
  async function admit(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const ctx = request.vault;
    await deps.limits?.gate?.(request, reply);
    // Console sessions: the cookie stands in for a bearer only when Authorization is absent.
    const viaConsole = Boolean(deps.sessions && request.headers.authorization === undefined && deps.sessions.presented(request));
    if (viaConsole) ctx.via = "console";
    try {
      ctx.principal = await identify(request, viaConsole);
    } catch (error) {
      await deps.limits?.chargeFailedAuth(request, reply, error);
      throw error;
    }
    await deps.limits?.charge(request, reply, ctx.principal);
    ctx.tenant = await place(request, ctx.principal);
    deps.limits?.admit?.(request, reply, readmit);
  }

  /**
   * The same checks again, for a stream or long poll that outlives the moment it was admitted: its
   * credential (as the request presented it), the directory's verdict, the tenant and the scope as
   * they are then (not charged again).
   */
  async function readmit(request: FastifyRequest): Promise<Admission> {
    const principal = await identify(request, request.vault.via === "console");
    return { principal, tenant: await place(request, principal) };
  }

  async function identify(request: FastifyRequest, viaConsole: boolean): Promise<Principal> {
    if (viaConsole && deps.sessions) return (await deps.sessions.authenticate(request)).principal;
    return deps.authenticator.authenticate(request.headers.authorization);
  }

  /** The tenant the request acts in (named by the URL prefix or X-Tenant-ID), then the route's scope. */
  async function place(request: FastifyRequest, principal: Principal): Promise<TenantRef | null> {
    const ctx = request.vault;
    const headerTenant = request.headers["x-tenant-id"];
    const named = ctx.tenantFromUrl ?? (typeof headerTenant === "string" && headerTenant !== "" ? headerTenant : null);
    const tenant = await deps.tenants.resolve(principal, named);
    if (!tenant && !ctx.route.tenantOptional) {
      throw new VaultError("invalid_request", "This credential belongs to no tenant: name one with X-Tenant-ID or /v1/t/{tenant_id}");
    }
    if (ctx.route.scope && !scopesAllow(principal.scopes, ctx.route.scope)) {
      throw new VaultError("insufficient_scope", `This token lacks the ${ctx.route.scope} scope`, { details: { required_scope: ctx.route.scope } });
    }
    return tenant;
  }

  app.addHook("preValidation", (request, _reply, done) => {
    const ctx = request.vault;
    if (ctx.route.auth === false) return done();
    if (ctx.bodyInvalid || (request.routeOptions.schema?.body && !isPlainObject(request.body))) {
      throw new VaultError("invalid_request", "The request body must be a JSON object");
    }
    done();
  });

  // Audit before the response leaves: if the entry cannot be written, the caller gets a 503, not the data.
  app.addHook("onSend", (request, reply, payload, done) => {
    const ctx = request.vault;
    // An entry written inside a service's transaction is gone if that transaction rolled back, which
    // is what an error answer means: the failure is then recorded here.
    if (!ctx || (ctx.audit.recorded && reply.statusCode < 400) || !ctx.audit.action) return done(null, payload);
    return recordOrWithhold(request, reply, payload);
  });

  async function recordOrWithhold(request: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> {
    const ctx = request.vault;
    try {
      await deps.audit.recordRequest(ctx, reply.statusCode);
      return payload;
    } catch (error) {
      request.log.error({ err: { name: (error as Error).name, kind: (error as { kind?: string }).kind } }, "audit write failed; withholding response");
      ctx.audit.recorded = true;
      const failure = new VaultError("service_unavailable", "The audit trail is unavailable; the request was not completed", { retryAfterSeconds: 1 });
      reply.header("Retry-After", "1").code(503);
      return JSON.stringify({ error: { code: failure.code, message: failure.message, details: {}, request_id: ctx.requestId } });
    }
  }

  installBodyParser(app);
}

/** Bodies are parsed as JSON whatever the content type says (as Vault does); a bad body is reported after authentication. */
function installBodyParser(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  // Bytes, decoded strictly: a lenient decode would store U+FFFD in place of invalid UTF-8.
  const utf8 = new TextDecoder("utf-8", { fatal: true });
  app.addContentTypeParser("*", { parseAs: "buffer" }, (request: FastifyRequest, body: string | Buffer, done) => {
    try {
      const text = typeof body === "string" ? body : utf8.decode(body);
      if (text.trim() === "") return done(null, undefined);
      if (nestingExceeds(text, MAX_JSON_DEPTH)) throw new Error("nested too deeply");
      done(null, JSON.parse(text));
    } catch {
      request.vault.bodyInvalid = true;
      done(null, undefined);
    }
  });
}

/** Only a value of the tools' naming pattern reaches the audit entry; anything else is dropped. */
const MCP_TOOL = /^scaivault_[a-z0-9_]{1,60}$/;
function mcpToolOf(header: string | string[] | undefined): string | null {
  return typeof header === "string" && MCP_TOOL.test(header) ? header : null;
}

/**
 * Deeper JSON than any request needs. Parsing copes with deep nesting, but everything after it
 * that recurses (serialising, validating, encrypting) would overflow the stack and answer 500.
 */
const MAX_JSON_DEPTH = 64;

/** One linear pass: the bracket depth outside strings. */
function nestingExceeds(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) {
      if (++depth > limit) return true;
    } else if (c === 125 || c === 93) depth--;
  }
  return false;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The caller of an authenticated route; the pipeline guarantees principal and tenant are set. */
export function callerOf(request: FastifyRequest): Caller {
  const ctx = request.vault;
  if (!ctx.principal || !ctx.tenant) throw toVaultError(new Error("route reached without an authenticated tenant caller"));
  return { principal: ctx.principal, tenant: ctx.tenant, requestId: ctx.requestId, ctx };
}

export { sendError };
