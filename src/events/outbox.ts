import { writeDeferred, type Database, type Queryable } from "../storage/contract.js";
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

const COLUMNS = "id, partner_id, tenant_id, event_type, path, identity_id, request_id, data, created_at, created_us";
/** PostgreSQL: numbered later, in commit order, by the fan-out pass (dispatcher.ts). */
const INSERT = `INSERT INTO events (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;
/**
 * SQLite: numbered here. Its one writer commits transactions in the order it runs them, so the
 * number taken inside the transaction is commit order. Only an event whose tenant has an enabled
 * webhook or an active subscription is left for the fan-out pass (`fanout_pending`), so whether
 * an event has targets is decided as it commits (PostgreSQL: when the pass after it runs, moments
 * later). Probed per event on the (tenant_id, name) indexes.
 */
export const INSERT_NUMBERED = `INSERT INTO events (${COLUMNS}, dispatch_seq, fanout_pending) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
  CASE WHEN EXISTS (SELECT 1 FROM webhooks w WHERE w.tenant_id = ? AND w.enabled = 1)
         OR EXISTS (SELECT 1 FROM subscriptions s WHERE s.tenant_id = ? AND s.status = 'active') THEN 1 END)
  RETURNING fanout_pending`;
const NEXT_SEQ = "UPDATE event_dispatch_state SET last_seq = last_seq + 1 WHERE id = 1 RETURNING last_seq";

type Log = (msg: string, extra?: Record<string, unknown>) => void;

/** Whether events get their `dispatch_seq` in the transaction that writes them (SQLite) or from the fan-out pass (PostgreSQL). */
export function numbersAtWrite(dialect: Database["dialect"]): boolean {
  return dialect === "sqlite";
}

/**
 * Puts a lost `event_dispatch_state` row back, so that dispatch neither stops nor numbers events
 * again from 1: at the highest number given so far, plus `taking` (1: the caller takes the next
 * number with it). Returns the row's new `last_seq`.
 */
export async function restoreDispatchState(tx: Queryable, taking: 0 | 1, log?: Log): Promise<number> {
  const row = await tx.get<{ last_seq: number | string }>("INSERT INTO event_dispatch_state (id, last_seq) SELECT 1, COALESCE(MAX(dispatch_seq), 0) + ? FROM events RETURNING last_seq", [taking]);
  const lastSeq = Number(row?.last_seq);
  log?.("event dispatch state was missing; restored from the highest dispatched event", { last_seq: lastSeq - taking });
  return lastSeq;
}

export type EventListener = (event: VaultEvent) => void;

/**
 * Events are written to the outbox inside the transaction of the change that caused them, so a
 * crash cannot separate the two; listeners hear of them only after the commit.
 */
export class EventOutbox {
  private readonly listeners = new Set<EventListener>();
  /** SQLite: events written numbered and with no target to fan out to. */
  private readonly numberedOnly = new WeakSet<VaultEvent>();

  constructor(private readonly db: Database, private readonly log?: Log) {}

  async append(tx: Queryable, event: NewEvent): Promise<VaultEvent> {
    const { ms: now, micros } = nowMicros();
    // Time-ordered: every write inserts one, and a random id lands on a random page of the key's index.
    const stored: VaultEvent = {
      event_id: newSortableId("evt", now), event_type: event.event_type, timestamp: isoMicros(now, micros), tenant_id: event.tenant_id, partner_id: event.partner_id,
      identity_id: event.identity_id, path: event.path, data: event.data, request_id: event.request_id,
    };
    const params = [stored.event_id, stored.partner_id, stored.tenant_id, stored.event_type, stored.path, stored.identity_id, stored.request_id, JSON.stringify(stored.data), now, micros];
    if (numbersAtWrite(this.db.dialect)) {
      const inserted = await tx.get<{ fanout_pending: number | null }>(INSERT_NUMBERED, [...params, await this.nextSeq(tx), stored.tenant_id, stored.tenant_id]);
      if (inserted?.fanout_pending === null) this.numberedOnly.add(stored);
      return stored;
    }
    // Nothing reads an outbox row inside the transaction that writes it, so on PostgreSQL it rides
    // with the transaction's next message instead of costing a round trip of its own.
    await writeDeferred(tx, INSERT, params);
    return stored;
  }

  /** SQLite: the next dispatch number, taken in the writing transaction. */
  private async nextSeq(tx: Queryable): Promise<number> {
    const next = await tx.get<{ last_seq: number }>(NEXT_SEQ);
    return next ? Number(next.last_seq) : restoreDispatchState(tx, 1, this.log);
  }

  /** Whether the fan-out pass has anything to do for this committed event (SQLite: only when its tenant had a target). */
  awaitsFanOut(event: VaultEvent): boolean {
    return !this.numberedOnly.has(event);
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
