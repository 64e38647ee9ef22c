import type { ServerResponse } from "node:http";
import type { Principal } from "../access/principal.js";
import type { Scope } from "../access/scopes.js";

/** Per-route settings read by the request pipeline (`config` on each Fastify route). */
export interface RoutePolicy {
  /** false for the few public endpoints (health, version, openapi). */
  auth?: boolean;
  /** The token scope the route needs; `admin` satisfies any. */
  scope?: Scope;
  /** The audit action recorded for every request to this route; none for public endpoints. */
  action?: string;
  /** The rate-limit bucket the route draws from. */
  category?: string;
  /** Routes that act at partner level need no tenant. */
  tenantOptional?: boolean;
  /** The path shown in the OpenAPI document when the route URL is a wildcard. */
  docPath?: string;
  /**
   * Streams and long polls: admitted against their own caps (SCAIVAULT_MAX_STREAMS_PER_IDENTITY,
   * SCAIVAULT_MAX_STREAMS_PER_TENANT; beyond them 429 rate_limited), never against request
   * concurrency, and `RequestContext.live` keeps their admission current while they are open.
   */
  longLived?: boolean;
  /**
   * For unauthenticated public routes (`auth: false`) that anyone may call — CA certificates,
   * CRLs, OCSP, ACME challenges, SSH CA keys. `publicRate: true` charges each request to its
   * source address (IPv6 by /64) in the `public` rate category (RATE_LIMIT_PUBLIC, per minute)
   * BEFORE any storage work; past the limit the caller gets `429 rate_limited` + `Retry-After`,
   * and the refused requests are not audited one by one but counted into one coalesced
   * `auth_failure_flood` entry per address per minute (SPEC §5), as unauthenticated failures are.
   * Usage: `config: { auth: false, publicRate: true }`.
   */
  publicRate?: boolean;
}

export interface AuditDraft {
  action: string | null;
  secretPath: string | null;
  extra: Record<string, unknown>;
  /** Set once the entry is written (by a service inside its transaction, or by the pipeline). */
  recorded: boolean;
}

/**
 * A stream's or long poll's admission while it is open. Access changes (a token revoked, the
 * directory's verdict, policies, bindings, a suspended tenant) apply to it as to the next request.
 */
export interface LiveAdmission {
  /**
   * Aborted once re-admission refuses the request (`reason`: the 401/403 VaultError to end with:
   * `token_revoked`, `token_expired`, `tenant_access_denied`, …), checked every recheck interval.
   */
  signal: AbortSignal;
  /**
   * The caller as admitted now: admitted again first when the access counters moved since the last
   * admission, so anything read before this call is judged by access at least as new as it.
   */
  current(): Promise<{ principal: Principal; tenant: TenantRef }>;
}

export interface TenantRef {
  tenantId: string;
  partnerId: string;
}

export interface RequestContext {
  requestId: string;
  /**
   * The matched route's config, read once: Fastify's `request.routeOptions` builds a new object on
   * every access, and the hooks of one request would otherwise ask for it about ten times.
   */
  route: RoutePolicy;
  /** False for requests that matched no route (answered 404). */
  routeMatched: boolean;
  startedAt: bigint;
  sourceIp: string;
  userAgent: string | null;
  /** The MCP tool that made this call (`X-ScaiVault-MCP-Tool`, spec/mcp.md §3), when well-formed. */
  mcpTool?: string | null;
  principal: Principal | null;
  tenant: TenantRef | null;
  /** Tenant named by the `/v1/t/{tenant_id}` prefix, before resolution. */
  tenantFromUrl: string | null;
  bodyInvalid: boolean;
  /** The error code the response carries, set where errors are rendered. */
  errorCode: string | null;
  /** Long-lived routes only (else null): the request's admission, kept as it is now while it stays open. */
  live?: LiveAdmission | null;
  audit: AuditDraft;
  /** "console" when the request was authenticated by a console session cookie (recorded in `extra_data.via`). */
  via?: "console";
  /**
   * The stored `secret_type` of each secret value the answer returns, set by the reader: the reads
   * metric counts these, never text found in the response (a value can look like a type).
   */
  typesReturned?: readonly string[];
  /** The HTTP response being answered; absent for the contexts of background work (scheduler, dispatcher). */
  response?: ServerResponse;
  /** Made on first ask by `abandonmentOf` (src/http/abandonment.ts). */
  abandoned?: AbortSignal;
}

/** What a service sees: a request that passed authentication and tenant resolution. */
export interface Caller {
  principal: Principal;
  tenant: TenantRef;
  requestId: string;
  ctx: RequestContext;
}

export function elapsedMs(ctx: RequestContext): number {
  return Number(process.hrtime.bigint() - ctx.startedAt) / 1e6;
}
