import type { Caller, RequestContext } from "../http/context.js";
import { elapsedMs } from "../http/context.js";
import type { Queryable } from "../storage/contract.js";
import type { AuditLog } from "./audit-log.js";

/**
 * Turns a request into its audit entry. Services that change state call `recordInTransaction` so
 * the entry commits with the change; the pipeline records every other request before it answers.
 */
export class AuditRecorder {
  constructor(private readonly log: AuditLog, private readonly unauthenticatedPartnerId: string) {}

  async recordRequest(ctx: RequestContext, status: number): Promise<void> {
    await this.write(ctx, status);
  }

  async recordInTransaction(tx: Queryable, caller: Caller, status: number): Promise<void> {
    await this.write(caller.ctx, status, tx);
  }

  private async write(ctx: RequestContext, status: number, tx?: Queryable): Promise<void> {
    if (!ctx.audit.action) return;
    const principal = ctx.principal;
    const success = status < 400;
    const extra = success || !ctx.errorCode ? ctx.audit.extra : { ...ctx.audit.extra, error_code: ctx.errorCode, status };
    await this.log.append(
      {
        partnerId: ctx.tenant?.partnerId ?? principal?.partnerId ?? this.unauthenticatedPartnerId,
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
      },
      tx,
    );
    ctx.audit.recorded = true;
  }
}
