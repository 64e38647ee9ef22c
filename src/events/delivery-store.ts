import { isoMicros } from "../shared/time.js";
import { boundedPage } from "../storage/bounded-page.js";
import type { Database, Dialect, Queryable, SqlParam } from "../storage/contract.js";
import { inJsonList } from "../storage/json-list.js";
import { LoopSlices } from "../shared/turn.js";
import { walkStretches } from "../storage/stretches.js";
import type { VaultEvent } from "./outbox.js";

/**
 * Deliveries per statement of a target's figures on SQLite (~2 ms of its loop). PostgreSQL sums
 * them in one statement: the database works while the node serves others.
 */
const STATS_STRETCH = { sqlite: 5000, postgres: null } as const;

export type DeliveryStatus = "pending" | "success" | "failed";
export type TargetKind = "webhook" | "subscription";

export interface DeliveryRow {
  id: string;
  partner_id: string;
  tenant_id: string;
  target_kind: TargetKind;
  target_id: string;
  event_id: string;
  event_type: string;
  ordering_key: string;
  dispatch_seq: number;
  status: DeliveryStatus;
  attempts: number;
  next_attempt_at: number;
  lease_until: number | null;
  lease_owner: string | null;
  response_code: number | null;
  last_error: string | null;
  duration_ms: number | null;
  created_at: number;
  updated_at: number;
  delivered_at: number | null;
}

export interface EventRow {
  id: string;
  partner_id: string;
  tenant_id: string | null;
  event_type: string;
  path: string | null;
  identity_id: string | null;
  request_id: string | null;
  data: string;
  created_at: number;
  /** Microseconds within `created_at`'s millisecond; null on events written before migration 0511. */
  created_us: number | null;
  dispatch_seq: number | null;
}

export type Outcome = Pick<DeliveryRow, "status" | "attempts" | "next_attempt_at" | "response_code" | "last_error" | "duration_ms" | "delivered_at">;

const COLUMNS = ["id", "partner_id", "tenant_id", "target_kind", "target_id", "event_id", "event_type", "ordering_key", "dispatch_seq", "status", "attempts", "next_attempt_at", "lease_until", "lease_owner", "response_code", "last_error", "duration_ms", "created_at", "updated_at", "delivered_at"] as const;

export function toEvent(row: EventRow): VaultEvent {
  return {
    event_id: row.id,
    event_type: row.event_type,
    timestamp: isoMicros(Number(row.created_at), row.created_us),
    tenant_id: row.tenant_id,
    partner_id: row.partner_id,
    identity_id: row.identity_id,
    path: row.path,
    data: JSON.parse(row.data) as Record<string, unknown>,
    request_id: row.request_id,
  };
}

/**
 * Due deliveries whose earlier siblings (same target and path) are all settled, oldest first;
 * PostgreSQL skips rows another node holds. The siblings are probed along the index of pending
 * deliveries only (migration 0522). Parameters: now, now, limit.
 */
export function claimableSql(dialect: Dialect, excludingTenants = false): string {
  // Tenants excluded: one JSON list parameter after now, now (DeliverySlots).
  const excluded = excludingTenants ? ` AND NOT (${inJsonList(dialect, "d.tenant_id")})` : "";
  return `SELECT d.* FROM event_deliveries d
    WHERE d.status = 'pending' AND d.next_attempt_at <= ? AND (d.lease_until IS NULL OR d.lease_until < ?)${excluded}
      AND NOT EXISTS (SELECT 1 FROM event_deliveries e
                       WHERE e.target_id = d.target_id AND e.ordering_key = d.ordering_key
                         AND e.status = 'pending' AND e.dispatch_seq < d.dispatch_seq)
    ORDER BY d.dispatch_seq, d.created_at LIMIT ?${dialect === "postgres" ? " FOR UPDATE OF d SKIP LOCKED" : ""}`;
}

/** Outbox reads, deliveries (pushed) and the polling inbox. */
export class DeliveryStore {
  constructor(private readonly db: Database) {}

  async insert(row: DeliveryRow, tx: Queryable): Promise<void> {
    await tx.run(`INSERT INTO event_deliveries (${COLUMNS.join(", ")}) VALUES (${COLUMNS.map(() => "?").join(", ")})`, COLUMNS.map((c) => row[c]));
  }

  async event(id: string, tx?: Queryable): Promise<EventRow | undefined> {
    return (tx ?? this.db).get<EventRow>("SELECT * FROM events WHERE id = ?", [id]);
  }

  /**
   * Takes due deliveries whose earlier siblings (same target and path) are all settled, and leases
   * them to `owner`. PostgreSQL skips rows another node holds, so two nodes never take the same one.
   */
  async claim(
    owner: string, now: number, leaseMs: number, limit: number,
    slots: { excluded: readonly string[]; accept: (tenantId: string) => boolean } = { excluded: [], accept: () => true },
  ): Promise<{ claimed: DeliveryRow[]; refused: number }> {
    // A plain read first: most rounds find nothing due (for the tenants that may take a slot), and
    // need not hold a transaction to learn it.
    const excluding = slots.excluded.length > 0;
    const excludedList: SqlParam[] = excluding ? [JSON.stringify(slots.excluded)] : [];
    const due = await this.db.get(
      `SELECT id FROM event_deliveries WHERE status = 'pending' AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until < ?)${excluding ? ` AND NOT (${inJsonList(this.db.dialect, "tenant_id")})` : ""} LIMIT 1`,
      [now, now, ...excludedList],
    );
    if (!due) return { claimed: [], refused: 0 };
    return this.db.transaction(async (tx) => {
      const rows = await tx.all<DeliveryRow>(claimableSql(this.db.dialect, excluding), [now, now, ...excludedList, limit]);
      // Rows whose tenant may not take a slot now stay unleased (PostgreSQL's row locks end with the transaction).
      const claimed = rows.filter((row) => slots.accept(row.tenant_id));
      for (const row of claimed) {
        await tx.run("UPDATE event_deliveries SET lease_until = ?, lease_owner = ?, updated_at = ? WHERE id = ?", [now + leaseMs, owner, now, row.id]);
      }
      return { claimed: claimed.map((row) => ({ ...row, lease_owner: owner, lease_until: now + leaseMs })), refused: rows.length - claimed.length };
    });
  }

  /** Whether a later delivery to the row's target and path waits (its order held it behind this one). */
  async hasLaterSibling(row: Pick<DeliveryRow, "target_id" | "ordering_key" | "dispatch_seq">): Promise<boolean> {
    return Boolean(await this.db.get("SELECT 1 AS later FROM event_deliveries WHERE target_id = ? AND ordering_key = ? AND status = 'pending' AND dispatch_seq > ? LIMIT 1", [row.target_id, row.ordering_key, row.dispatch_seq]));
  }

  /** Records an attempt's outcome, unless the lease was lost to another node meanwhile. */
  async settle(id: string, owner: string, outcome: Outcome, tx?: Queryable): Promise<boolean> {
    const result = await (tx ?? this.db).run(
      `UPDATE event_deliveries SET status = ?, attempts = ?, next_attempt_at = ?, response_code = ?, last_error = ?, duration_ms = ?, delivered_at = ?,
              lease_until = NULL, lease_owner = NULL, updated_at = ? WHERE id = ? AND lease_owner = ?`,
      [outcome.status, outcome.attempts, outcome.next_attempt_at, outcome.response_code, outcome.last_error, outcome.duration_ms, outcome.delivered_at, Date.now(), id, owner],
    );
    return result.changes > 0;
  }

  /** A disabled or deleted target's open deliveries are closed so later ones are not held back. */
  async failOpen(targetId: string, reason: string, tx?: Queryable): Promise<void> {
    await (tx ?? this.db).run("UPDATE event_deliveries SET status = 'failed', last_error = ?, lease_until = NULL, lease_owner = NULL, updated_at = ? WHERE target_id = ? AND status = 'pending'", [reason, Date.now(), targetId]);
  }

  async get(targetId: string, id: string): Promise<DeliveryRow | undefined> {
    return this.db.get<DeliveryRow>("SELECT * FROM event_deliveries WHERE target_id = ? AND id = ?", [targetId, id]);
  }

  /**
   * One page of a target's deliveries, newest first; a status filter is checked on a bounded walk
   * (storage/bounded-page.ts): the failed ones among a month of delivered get short pages.
   */
  async list(targetId: string, status: DeliveryStatus | undefined, after: { created_at: number; id: string } | null, limit: number): Promise<{ rows: DeliveryRow[]; next: { created_at: number; id: string } | null }> {
    const page = await boundedPage<DeliveryRow>(this.db, {
      table: "event_deliveries",
      index: "event_deliveries_target_list",
      columns: "*",
      scope: [{ sql: "target_id = ?", params: [targetId] }],
      filters: status ? [{ sql: "status = ?", params: [status] }] : [],
      order: ["created_at", "id"],
      descending: true,
      after: after ? [after.created_at, after.id] : null,
      limit,
    });
    return { rows: page.rows, next: page.next === null ? null : { created_at: Number(page.next[0]), id: String(page.next[1]) } };
  }

  /**
   * A target's deliveries settled since `since`, and its newest attempted delivery. The figures are
   * summed a stretch of `STATS_STRETCH` deliveries at a time along (target_id, created_at, id) on
   * SQLite, with turns of the loop between: in one statement a webhook with 500,000 deliveries a day
   * held a SQLite node 175 ms per read of the webhook (docs/benchmarks.md round 33).
   */
  async stats(targetId: string, since: number): Promise<{ total: number; succeeded: number; avgMs: number | null; last: DeliveryRow | undefined }> {
    const size: number | null = STATS_STRETCH[this.db.dialect];
    const slices = new LoopSlices(2);
    let total = 0;
    let succeeded = 0;
    let durationSum = 0;
    let timed = 0;
    const from = "FROM event_deliveries WHERE target_id = ?";
    await walkStretches(this.db, { from, params: [targetId], key: ["created_at", "id"], start: { sql: " AND created_at >= ?", params: [since] }, size, slices }, async (bounds) => {
      const row = await this.db.get<{ total: number | string; succeeded: number | string | null; duration_sum: number | string | null; timed: number | string }>(
        `SELECT COUNT(*) AS total, SUM(CASE WHEN status = 'success' THEN 1 ELSE 0 END) AS succeeded, SUM(duration_ms) AS duration_sum, COUNT(duration_ms) AS timed
           ${from}${bounds.sql} AND status <> 'pending'`,
        [targetId, ...bounds.params],
      );
      total += Number(row?.total ?? 0);
      succeeded += Number(row?.succeeded ?? 0);
      durationSum += Number(row?.duration_sum ?? 0);
      timed += Number(row?.timed ?? 0);
    });
    const last = await this.db.get<DeliveryRow>("SELECT * FROM event_deliveries WHERE target_id = ? AND attempts > 0 ORDER BY updated_at DESC LIMIT 1", [targetId]);
    return { total, succeeded, avgMs: timed === 0 ? null : Math.round(durationSum / timed), last };
  }

  /**
   * Each event a polling subscription receives takes the subscription's next inbox position, and an
   * unacknowledged event is dropped once `bufferSize` newer ones have arrived: the buffer never holds
   * more, as a bounded queue must. The drop is a range at the bottom of the unacknowledged rows'
   * index, usually one row. It was an OFFSET of `bufferSize` from the top on every event: with 100
   * full buffers of 10,000 (a weak caller's quota), every event cost 49 ms of a SQLite node and
   * ~240 ms of PostgreSQL, inside the one fan-out transaction all tenants share.
   */
  async addToInbox(subscriptionId: string, eventId: string, dispatchSeq: number, bufferSize: number, tx: Queryable): Promise<void> {
    const taken = await tx.get<{ inbox_pos: number | string }>("UPDATE subscriptions SET inbox_pos = inbox_pos + 1 WHERE id = ? RETURNING inbox_pos", [subscriptionId]);
    if (!taken) return; // deleted meanwhile: nobody polls its inbox any more
    const position = Number(taken.inbox_pos);
    await tx.run(
      "INSERT INTO subscription_inbox (subscription_id, event_id, dispatch_seq, inbox_pos, created_at, acked_at) VALUES (?, ?, ?, ?, ?, NULL)",
      [subscriptionId, eventId, dispatchSeq, position, Date.now()],
    );
    await tx.run("DELETE FROM subscription_inbox WHERE subscription_id = ? AND acked_at IS NULL AND inbox_pos <= ?", [subscriptionId, position - bufferSize]);
  }

  async inbox(subscriptionId: string, afterSeq: number, limit: number): Promise<(EventRow & { inbox_seq: number })[]> {
    return this.db.all<EventRow & { inbox_seq: number }>(
      `SELECT e.*, i.dispatch_seq AS inbox_seq FROM subscription_inbox i JOIN events e ON e.id = i.event_id
        WHERE i.subscription_id = ? AND i.acked_at IS NULL AND i.dispatch_seq > ? ORDER BY i.dispatch_seq LIMIT ?`,
      [subscriptionId, afterSeq, limit],
    );
  }

  async ack(subscriptionId: string, eventIds: readonly string[]): Promise<number> {
    const marks = eventIds.map(() => "?").join(", ");
    return (await this.db.run(`UPDATE subscription_inbox SET acked_at = ? WHERE subscription_id = ? AND acked_at IS NULL AND event_id IN (${marks})`, [Date.now(), subscriptionId, ...eventIds])).changes;
  }

  /** Stored events after a dispatch position, for one tenant, in commit order. */
  async eventsAfter(tenantId: string, afterSeq: number, limit: number): Promise<EventRow[]> {
    return this.db.all<EventRow>("SELECT * FROM events WHERE tenant_id = ? AND dispatch_seq > ? ORDER BY dispatch_seq LIMIT ?", [tenantId, afterSeq, limit]);
  }

  async lastDispatchSeq(): Promise<number> {
    const row = await this.db.get<{ last_seq: number | string }>("SELECT last_seq FROM event_dispatch_state WHERE id = 1");
    return Number(row?.last_seq ?? 0);
  }
}
