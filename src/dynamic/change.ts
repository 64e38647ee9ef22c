import type { AuditRecorder } from "../audit/recorder.js";
import type { EventOutbox, VaultEvent } from "../events/outbox.js";
import type { Caller } from "../http/context.js";
import type { Emit } from "../secrets/service.js";
import type { Database, Queryable } from "../storage/contract.js";

export interface ChangeDeps {
  db: Database;
  events: EventOutbox;
  audit: AuditRecorder;
}

/** A change, its audit entry and its events in one transaction; events published after the commit. */
export async function change<T>(deps: ChangeDeps, caller: Caller, status: number, work: (tx: Queryable, emit: Emit) => Promise<T>): Promise<T> {
  const stored: VaultEvent[] = [];
  const result = await deps.db.transaction(async (tx) => {
    const value = await work(tx, deps.events.emitter(tx, stored));
    await deps.audit.recordInTransaction(tx, caller, status);
    return value;
  });
  deps.events.published(stored);
  return result;
}

export function eventBase(caller: Caller) {
  return { tenant_id: caller.tenant.tenantId, partner_id: caller.tenant.partnerId, identity_id: caller.principal.identityId, path: null, request_id: caller.requestId };
}
