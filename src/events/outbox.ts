import { writeDeferred, type Database, type Queryable, type SqlParam } from "../storage/contract.js";
import { newSortableId } from "../shared/ids.js";
import { isoMicros, nowMicros } from "../shared/time.js";
import { chunked, multiRowInsert } from "../storage/multi-row.js";

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
const FANOUT_WANTED_CASE = `CASE WHEN EXISTS (SELECT 1 FROM webhooks w WHERE w.tenant_id = ? AND w.enabled = 1)
         OR EXISTS (SELECT 1 FROM subscriptions s WHERE s.tenant_id = ? AND s.status = 'active') THEN 1 END`;
export const INSERT_NUMBERED = `INSERT INTO events (${COLUMNS}, dispatch_seq, fanout_pending) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
  ${FANOUT_WANTED_CASE})
  RETURNING fanout_pending`;
const NEXT_SEQ = "UPDATE event_dispatch_state SET last_seq = last_seq + 1 WHERE id = 1 RETURNING last_seq";
const NEXT_SEQS = "UPDATE event_dispatch_state SET last_seq = last_seq + ? WHERE id = 1 RETURNING last_seq";
/** SQLite: INSERT_NUMBERED's decision, once per tenant for a batch (the same snapshot: one writer). */
const FANOUT_WANTED = `SELECT ${FANOUT_WANTED_CASE} AS wanted`;

type Log = (msg: string, extra?: Record<string, unknown>) => void;

/** Whether events get their `dispatch_seq` in the transaction that writes them (SQLite) or from the fan-out pass (PostgreSQL). */
export function numbersAtWrite(dialect: Database["dialect"]): boolean {
  return dialect === "sqlite";
}

/**
 * Puts a lost `event_dispatch_state` row back, so that dispatch neither stops nor numbers events
 * again from 1: at the highest number given so far, plus `taking` (the numbers the caller takes
 * with it). Returns the row's new `last_seq`.
 */
export async function restoreDispatchState(tx: Queryable, taking: number, log?: Log): Promise<number> {
  const row = await tx.get<{ last_seq: number | string }>("INSERT INTO event_dispatch_state (id, last_seq) SELECT 1, COALESCE(MAX(dispatch_seq), 0) + ? FROM events RETURNING last_seq", [taking]);
  const lastSeq = Number(row?.last_seq);
  log?.("event dispatch state was missing; restored from the highest dispatched event", { last_seq: lastSeq - taking });
  return lastSeq;
}

export type EventListener = (event: VaultEvent) => void;

/** How a transaction's work writes its events: one at a time, or many in a few statements. */
export interface Emit {
  (event: NewEvent): Promise<void>;
  many(events: readonly NewEvent[]): Promise<void>;
}

/**
 * Events are written to the outbox inside the transaction of the change that caused them, so a
 * crash cannot separate the two; listeners hear of them only after the commit.
 */
export class EventOutbox {
  private readonly listeners = new Set<EventListener>();
  /** SQLite: events written numbered and with no target to fan out to. */
  private readonly numberedOnly = new WeakSet<VaultEvent>();

  constructor(private readonly db: Database, private readonly log?: Log) {}

  /** What `work` in a transaction writes its events through; `sink` collects them for `published`. */
  emitter(tx: Queryable, sink: VaultEvent[]): Emit {
    const emit = async (event: NewEvent) => void sink.push(await this.append(tx, event));
    return Object.assign(emit, {
      many: async (events: readonly NewEvent[]) => {
        for (const stored of await this.appendAll(tx, events)) sink.push(stored);
      },
    });
  }

  async append(tx: Queryable, event: NewEvent): Promise<VaultEvent> {
    const { stored, params } = this.prepare(event);
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

  /**
   * Many events in a few multi-row inserts (a CA revocation announces every valid leaf): one or
   * two statements per event held a SQLite node for the length of the whole transaction.
   * In order; on SQLite numbered as one run, the fan-out decision taken once per tenant.
   */
  async appendAll(tx: Queryable, events: readonly NewEvent[]): Promise<VaultEvent[]> {
    const prepared = events.map((event) => this.prepare(event));
    if (prepared.length === 0) return [];
    if (!numbersAtWrite(this.db.dialect)) {
      let at = 0;
      for (const size of chunked(prepared.length)) {
        const rows = prepared.slice(at, (at += size));
        await writeDeferred(tx, multiRowInsert("events", COLUMNS, 10, size), rows.flatMap((row) => row.params));
      }
      return prepared.map((row) => row.stored);
    }
    const taken = await tx.get<{ last_seq: number }>(NEXT_SEQS, [prepared.length]);
    const last = taken ? Number(taken.last_seq) : await restoreDispatchState(tx, prepared.length, this.log);
    const wanted = new Map<string | null, number | null>();
    for (const { stored } of prepared) {
      if (wanted.has(stored.tenant_id)) continue;
      const row = await tx.get<{ wanted: number | null }>(FANOUT_WANTED, [stored.tenant_id, stored.tenant_id]);
      wanted.set(stored.tenant_id, row?.wanted ?? null);
    }
    let seq = last - prepared.length;
    let at = 0;
    for (const size of chunked(prepared.length)) {
      const rows = prepared.slice(at, (at += size));
      await tx.run(multiRowInsert("events", `${COLUMNS}, dispatch_seq, fanout_pending`, 12, size), rows.flatMap((row) => [...row.params, ++seq, wanted.get(row.stored.tenant_id) ?? null]));
    }
    for (const { stored } of prepared) if (wanted.get(stored.tenant_id) === null) this.numberedOnly.add(stored);
    return prepared.map((row) => row.stored);
  }

  private prepare(event: NewEvent): { stored: VaultEvent; params: SqlParam[] } {
    const { ms: now, micros } = nowMicros();
    // Time-ordered: every write inserts one, and a random id lands on a random page of the key's index.
    const stored: VaultEvent = {
      event_id: newSortableId("evt", now), event_type: event.event_type, timestamp: isoMicros(now, micros), tenant_id: event.tenant_id, partner_id: event.partner_id,
      identity_id: event.identity_id, path: event.path, data: event.data, request_id: event.request_id,
    };
    return { stored, params: [stored.event_id, stored.partner_id, stored.tenant_id, stored.event_type, stored.path, stored.identity_id, stored.request_id, JSON.stringify(stored.data), now, micros] };
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
