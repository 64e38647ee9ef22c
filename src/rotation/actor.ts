import type { Caller } from "../http/context.js";
import type { EventOutbox, NewEvent, VaultEvent } from "../events/outbox.js";
import type { Database, Queryable } from "../storage/contract.js";
import { randomBase62 } from "../shared/ids.js";
import type { Emit } from "../secrets/service.js";

export const SCHEDULER_IDENTITY = "system:rotation-scheduler";

/**
 * The vault acting on its own (the scheduler): shaped like a request's caller so the secrets
 * machinery (events, version authorship) treats it the same, with a fresh `req_` id per action.
 */
export function systemCaller(identityId: string, tenantId: string, partnerId: string): Caller {
  const requestId = `req_${randomBase62(20)}`;
  const tenant = { tenantId, partnerId };
  const principal = {
    identityId,
    identityType: "system" as const,
    displayName: identityId,
    partnerId,
    tenantId,
    scopes: new Set<string>(),
    groups: [],
    roles: [],
    mfaVerifiedAt: null,
    tokenExpiresAt: null,
    tokenKind: "system" as const,
    tokenId: null,
  };
  return {
    principal,
    tenant,
    requestId,
    ctx: {
      requestId,
      route: {},
      routeMatched: true,
      startedAt: process.hrtime.bigint(),
      sourceIp: "",
      userAgent: null,
      principal,
      tenant,
      tenantFromUrl: null,
      bodyInvalid: false,
      errorCode: null,
      // No request to audit: scheduler entries are written explicitly (AuditRecorder.recordSystem).
      audit: { action: null, secretPath: null, extra: {}, recorded: true },
    },
  };
}

export function eventBase(caller: Caller, path: string | null): Pick<NewEvent, "tenant_id" | "partner_id" | "identity_id" | "path" | "request_id"> {
  return { tenant_id: caller.tenant.tenantId, partner_id: caller.tenant.partnerId, identity_id: caller.principal.identityId, path, request_id: caller.requestId };
}

/** A transaction whose events are stored with it and published after the commit. */
export async function withEvents<T>(db: Database, events: EventOutbox, work: (tx: Queryable, emit: Emit) => Promise<T>): Promise<T> {
  const stored: VaultEvent[] = [];
  const result = await db.transaction(async (tx) => work(tx, events.emitter(tx, stored)));
  events.published(stored);
  return result;
}
