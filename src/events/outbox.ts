import type { Database, Queryable } from "../storage/contract.js";
import { newSortableId } from "../shared/ids.js";
import { isoMicros, nowMicros } from "../shared/time.js";

export interface VaultEvent {
  event_id: string;
  event_type: string;
  timestamp: string;
  tenant_id: string | null;
  partner_id: string;
  identity_id: string | null;
  path: string | null;
  data: Record<string, unknown>;
  request_id: string | null;
}

export type NewEvent = Omit<VaultEvent, "event_id" | "timestamp">;

export type EventListener = (event: VaultEvent) => void;

/**
 * Events are written to the outbox inside the transaction of the change that caused them, so a
 * crash cannot separate the two; listeners hear of them only after the commit.
 */
export class EventOutbox {
  private readonly listeners = new Set<EventListener>();

  constructor(private readonly db: Database) {}

  async append(tx: Queryable, event: NewEvent): Promise<VaultEvent> {
    const { ms: now, micros } = nowMicros();
    // Time-ordered: every write inserts one, and a random id lands on a random page of the key's index.
    const stored: VaultEvent = {
      event_id: newSortableId("evt", now), event_type: event.event_type, timestamp: isoMicros(now, micros), tenant_id: event.tenant_id, partner_id: event.partner_id,
      identity_id: event.identity_id, path: event.path, data: event.data, request_id: event.request_id,
    };
    const insert = "INSERT INTO events (id, partner_id, tenant_id, event_type, path, identity_id, request_id, data, created_at, created_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    const params = [stored.event_id, stored.partner_id, stored.tenant_id, stored.event_type, stored.path, stored.identity_id, stored.request_id, JSON.stringify(stored.data), now, micros];
    // Nothing reads an outbox row inside the transaction that writes it, so on PostgreSQL it rides
    // with the COMMIT instead of costing a round trip of its own.
    if (!tx.deferToCommit?.(insert, params)) await tx.run(insert, params);
    return stored;
  }

  /** Called by the service once its transaction has committed. */
  published(events: readonly VaultEvent[]): void {
    for (const event of events) for (const listener of this.listeners) listener(event);
  }

  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
