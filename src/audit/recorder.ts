import type { Caller, RequestContext } from "../http/context.js";
import { elapsedMs } from "../http/context.js";
import { VaultError } from "../http/errors.js";
import type { Queryable } from "../storage/contract.js";
import type { AuditEntry, AuditLog } from "./audit-log.js";
import { LruMap } from "../shared/lru.js";

/** Keys whose values must never reach an entry, whatever a caller put in `extra`. */
const FORBIDDEN_KEYS = /^(token|secret|signing_secret|previous_secret|password|client_secret|private_key|data|value|authorization)$/i;

/** An entry's extra data with anything secret-shaped removed, recursively. */
export function scrubExtra(value: unknown, depth = 0): unknown {
  if (depth > 6) return "[truncated]";
  if (Array.isArray(value)) return value.slice(0, 200).map((item) => scrubExtra(item, depth + 1));
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value)) out[key] = FORBIDDEN_KEYS.test(key) ? "[redacted]" : scrubExtra(inner, depth + 1);
    return out;
  }
  if (typeof value === "string" && value.length > 1024) return `${value.slice(0, 1024)}…`;
  return value;
}

/** An entry written outside any HTTP request (schedulers, deliveries). */
export interface SystemEntry {
  partnerId: string;
  tenantId: string | null;
  action: string;
  identityId: string;
  secretPath: string | null;
  success: boolean;
  requestId: string;
  extraData?: Record<string, unknown>;
}

/**
 * Turns a request into its audit entry. Services that change state call `recordInTransaction` so
 * the entry commits with the change; the pipeline records every other request before it answers
 * (group-committed). Values worth correlating go in as HMACs under a vault-held key (`correlate`).
 */
export class AuditRecorder {
  /** Token ids recur on every request a token makes; their HMACs are kept rather than recomputed. */
  private readonly tokenIdHmacs = new LruMap<string, string>(10_000);

  constructor(
    private readonly log: AuditLog,
    private readonly unauthenticatedPartnerId: string,
    private readonly hmac: (value: string) => string,
  ) {}

  /** The HMAC a value is recorded as (e.g. a webhook URL, a token id), so entries can be matched without storing it. */
  correlate(value: string): string {
    return this.hmac(value);
  }

  async recordRequest(ctx: RequestContext, status: number): Promise<void> {
    const entry = this.entryFor(ctx, status);
    if (!entry) return;
    await this.log.append(entry);
    ctx.audit.recorded = true;
  }

  /**
   * Inside the change's transaction. A failure becomes `service_unavailable`, which rolls the
   * change back: nothing happens that the trail does not show.
   */
  async recordInTransaction(tx: Queryable, caller: Caller, status: number, options: { last?: boolean } = {}): Promise<void> {
    const entry = this.entryFor(caller.ctx, status);
    if (!entry) return;
    const unavailable = (error: unknown) =>
      new VaultError("service_unavailable", "The audit trail is unavailable; the request was not completed", { retryAfterSeconds: 1, cause: error });
    try {
      // `last`: nothing follows in this transaction, so the entry may go out with its COMMIT.
      await this.log.appendInTransaction(tx, entry, options.last ? unavailable : undefined);
    } catch (error) {
      throw unavailable(error);
    }
    caller.ctx.audit.recorded = true;
  }

  /**
   * Before a write's first statement, which must be the write's own row lock (see
   * `ChainAppender.lockAhead`): the lane `recordInTransaction` will extend is locked in that
   * statement's message. The entry's chain is the one `entryFor` will name.
   */
  lockChainAhead(tx: Queryable, caller: Caller): void {
    const ctx = caller.ctx;
    if (!ctx.audit.action) return;
    this.log.lockChainAhead(tx, this.partnerOf(ctx), ctx.tenant?.tenantId ?? null);
  }

  /** For work no request carries (rotation scheduler, webhook delivery), in that work's transaction. */
  async recordSystem(tx: Queryable, entry: SystemEntry): Promise<void> {
    await this.log.appendInTransaction(tx, {
      partnerId: entry.partnerId,
      tenantId: entry.tenantId,
      action: entry.action,
      identityType: "system",
      identityId: entry.identityId,
      secretPath: entry.secretPath,
      sourceIp: null,
      userAgent: null,
      success: entry.success,
      status: entry.success ? 200 : 500,
      durationMs: 0,
      requestId: entry.requestId,
      extraData: scrubExtra(entry.extraData ?? {}) as Record<string, unknown>,
    });
  }

  private tokenIdHmac(tokenId: string): string {
    let digest = this.tokenIdHmacs.get(tokenId);
    if (!digest) {
      digest = this.hmac(tokenId);
      this.tokenIdHmacs.set(tokenId, digest);
    }
    return digest;
  }

  /** Waits for the group commit to write everything submitted (shutdown). */
  drain(): Promise<void> {
    return this.log.drain();
  }

  /** The partner whose chain a request's entry joins (with its tenant, when it has one). */
  private partnerOf(ctx: RequestContext): string {
    return ctx.tenant?.partnerId ?? ctx.principal?.partnerId ?? this.unauthenticatedPartnerId;
  }

  private entryFor(ctx: RequestContext, status: number): AuditEntry | null {
    if (!ctx.audit.action) return null;
    const principal = ctx.principal;
    const success = status < 400;
    const extra: Record<string, unknown> = { ...(scrubExtra(ctx.audit.extra) as Record<string, unknown>) };
    if (!success) {
      extra.error_code = ctx.errorCode ?? `http_${status}`;
      extra.status = status;
    }
    if (principal?.tokenId) extra.token_id_hmac = this.tokenIdHmac(principal.tokenId);
    if (ctx.mcpTool) extra.mcp_tool = ctx.mcpTool;
    if (ctx.via) extra.via = ctx.via;
    return {
      partnerId: this.partnerOf(ctx),
      tenantId: ctx.tenant?.tenantId ?? null,
      action: ctx.audit.action,
      identityType: principal?.identityType ?? null,
      identityId: principal?.identityId ?? null,
      secretPath: ctx.audit.secretPath,
      sourceIp: ctx.sourceIp,
      userAgent: ctx.userAgent,
      success,
      status,
      durationMs: elapsedMs(ctx),
      requestId: ctx.requestId,
      extraData: extra,
    };
  }
}
