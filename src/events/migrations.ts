import type { Migration } from "../storage/contract.js";

export const eventMigrations: Migration[] = [
  {
    id: "0005_events",
    up: () => [
      // The outbox: an event is stored in the same transaction as the change that caused it.
      `CREATE TABLE events (
        id TEXT PRIMARY KEY,
        partner_id TEXT NOT NULL,
        tenant_id TEXT,
        event_type TEXT NOT NULL,
        path TEXT,
        identity_id TEXT,
        request_id TEXT,
        data TEXT NOT NULL,
        created_at BIGINT NOT NULL
      )`,
      "CREATE INDEX events_tenant_time ON events (tenant_id, created_at)",
    ],
  },
  {
    id: "0050_event_delivery",
    up: ({ dialect }) => [
      // NULL until the fan-out pass handles the event. Fan-out runs under one global lock and gives
      // each event the next number at commit, so readers of `dispatch_seq > n` never skip an event
      // whose transaction committed late (the outbox's own insert order is not commit order).
      "ALTER TABLE events ADD COLUMN dispatch_seq BIGINT",
      // Insert order, which for one path is commit order (writes to a path hold its row lock);
      // SQLite's rowid already is that.
      ...(dialect === "postgres" ? ["ALTER TABLE events ADD COLUMN outbox_seq BIGSERIAL"] : []),
      "CREATE INDEX events_undispatched ON events (created_at) WHERE dispatch_seq IS NULL",
      "CREATE INDEX events_dispatch_seq ON events (tenant_id, dispatch_seq)",
      `CREATE TABLE event_dispatch_state (id INTEGER PRIMARY KEY, last_seq BIGINT NOT NULL)`,
      "INSERT INTO event_dispatch_state (id, last_seq) VALUES (1, 0)",
      `CREATE TABLE webhooks (
        id TEXT PRIMARY KEY,
        partner_id TEXT NOT NULL,
        tenant_id TEXT NOT NULL,
        name TEXT NOT NULL,
        url TEXT NOT NULL,
        events TEXT NOT NULL,
        filters TEXT NOT NULL,
        enabled INTEGER NOT NULL,
        signature_scheme TEXT NOT NULL,
        secret_sealed ${dialect === "postgres" ? "BYTEA" : "BLOB"} NOT NULL,
        previous_secret_sealed ${dialect === "postgres" ? "BYTEA" : "BLOB"},
        previous_secret_expires_at BIGINT,
        disabled_reason TEXT,
        created_by TEXT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
      )`,
      "CREATE UNIQUE INDEX webhooks_name ON webhooks (tenant_id, name)",
      `CREATE TABLE subscriptions (
        id TEXT PRIMARY KEY,
        partner_id TEXT NOT NULL,
        tenant_id TEXT NOT NULL,
        name TEXT NOT NULL,
        paths TEXT NOT NULL,
        events TEXT NOT NULL,
        filters TEXT NOT NULL,
        delivery_type TEXT NOT NULL,
        url TEXT,
        signature_scheme TEXT NOT NULL,
        secret_sealed ${dialect === "postgres" ? "BYTEA" : "BLOB"},
        buffer_size INTEGER NOT NULL,
        status TEXT NOT NULL,
        owner_id TEXT NOT NULL,
        owner_type TEXT NOT NULL,
        owner_groups TEXT NOT NULL,
        owner_roles TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
      )`,
      "CREATE UNIQUE INDEX subscriptions_name ON subscriptions (tenant_id, name)",
      // One row per (target, event) for pushed deliveries; `ordering_key` is the path (or '') so the
      // worker can hold back a delivery while an earlier one for the same target and path is open.
      `CREATE TABLE event_deliveries (
        id TEXT PRIMARY KEY,
        partner_id TEXT NOT NULL,
        tenant_id TEXT NOT NULL,
        target_kind TEXT NOT NULL,
        target_id TEXT NOT NULL,
        event_id TEXT NOT NULL,
        event_type TEXT NOT NULL,
        ordering_key TEXT NOT NULL,
        dispatch_seq BIGINT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        next_attempt_at BIGINT NOT NULL,
        lease_until BIGINT,
        lease_owner TEXT,
        response_code INTEGER,
        last_error TEXT,
        duration_ms INTEGER,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        delivered_at BIGINT
      )`,
      "CREATE INDEX event_deliveries_due ON event_deliveries (status, next_attempt_at)",
      "CREATE INDEX event_deliveries_order ON event_deliveries (target_id, ordering_key, dispatch_seq)",
      "CREATE INDEX event_deliveries_target ON event_deliveries (target_id, created_at)",
      // Polling subscriptions: the events waiting for the owner to poll and acknowledge.
      `CREATE TABLE subscription_inbox (
        subscription_id TEXT NOT NULL,
        event_id TEXT NOT NULL,
        dispatch_seq BIGINT NOT NULL,
        created_at BIGINT NOT NULL,
        acked_at BIGINT,
        PRIMARY KEY (subscription_id, event_id)
      )`,
      "CREATE INDEX subscription_inbox_seq ON subscription_inbox (subscription_id, dispatch_seq)",
    ],
  },
  {
    id: "0051_events_undispatched_order",
    // The fan-out pass reads undispatched events in outbox order. Without an index in that order
    // SQLite scanned every event ever written (rowid order, filtering): each pass grew with the
    // outbox. Index entries for one key value are kept in rowid order, so this one serves both the
    // filter and the order; on PostgreSQL the same is an index on outbox_seq.
    up: ({ dialect }) => [
      dialect === "postgres"
        ? "CREATE INDEX events_undispatched_order ON events (outbox_seq) WHERE dispatch_seq IS NULL"
        : "CREATE INDEX events_undispatched_order ON events (dispatch_seq) WHERE dispatch_seq IS NULL",
    ],
  },
  {
    id: "0052_events_drop_unused_indexes",
    // No query reads events by (tenant, time), and events_undispatched_order replaced the
    // undispatched index by time; both only cost every outbox insert and every dispatch update.
    up: () => ["DROP INDEX IF EXISTS events_undispatched", "DROP INDEX IF EXISTS events_tenant_time"],
  },
  {
    // The scopes the owner held when subscribing: events about no path go to owners holding the
    // event domain's scope (SPEC §7). Older subscriptions hold none and keep receiving none.
    id: "0510_subscription_owner_scopes",
    up: () => ["ALTER TABLE subscriptions ADD COLUMN owner_scopes TEXT NOT NULL DEFAULT '[]'"],
  },
  {
    // The microseconds within `created_at`'s millisecond, for the envelope's timestamp (the docs'
    // precision). Events written before read as `…000Z`.
    id: "0511_events_created_micros",
    up: () => ["ALTER TABLE events ADD COLUMN created_us INTEGER"],
  },
  {
    // SQLite numbers events as they are written (outbox.ts): the pass then only fans out events of
    // tenants with a target, marked here, and no longer rewrites every event's row and indexes in
    // a transaction of its own (issue 14). PostgreSQL keeps numbering at commit in the pass; the
    // column stays NULL there, so retention and tests read both backends alike. Events waiting at
    // the upgrade are numbered now, in outbox order, and left for the pass.
    id: "0512_events_numbered_at_insert",
    up: ({ dialect }) => [
      "ALTER TABLE events ADD COLUMN fanout_pending INTEGER",
      ...(dialect === "postgres"
        ? []
        : [
            "DROP INDEX IF EXISTS events_undispatched_order",
            "CREATE INDEX events_fanout_pending ON events (dispatch_seq) WHERE fanout_pending IS NOT NULL",
            `UPDATE events SET fanout_pending = 1, dispatch_seq = waiting.seq FROM (
               SELECT rowid AS rid, ROW_NUMBER() OVER (ORDER BY rowid) + MAX(
                 COALESCE((SELECT last_seq FROM event_dispatch_state WHERE id = 1), 0),
                 COALESCE((SELECT MAX(dispatch_seq) FROM events), 0)) AS seq
               FROM events WHERE dispatch_seq IS NULL) AS waiting
             WHERE events.rowid = waiting.rid`,
            "UPDATE event_dispatch_state SET last_seq = MAX(last_seq, COALESCE((SELECT MAX(dispatch_seq) FROM events), 0)) WHERE id = 1",
          ]),
    ],
  },
  {
    // A target's deliveries listed newest first, by (created_at, id): along one index that holds
    // both, so a page (and each step of a status filter's bounded walk) starts at its cursor (round 24).
    id: "0516_deliveries_by_target",
    up: () => ["DROP INDEX event_deliveries_target", "CREATE INDEX event_deliveries_target_list ON event_deliveries (target_id, created_at, id)"],
  },
  {
    // The tenants that ever created a webhook or a subscription: PostgreSQL's fan-out peek asks
    // this (one row per such tenant) whether an event's tenant may have targets, instead of hashing
    // every active subscription of every tenant for each pass (targets-store.ts).
    id: "0518_event_target_tenants",
    up: () => [
      "CREATE TABLE event_target_tenants (tenant_id TEXT PRIMARY KEY)",
      "INSERT INTO event_target_tenants (tenant_id) SELECT tenant_id FROM webhooks UNION SELECT tenant_id FROM subscriptions",
    ],
  },
  {
    // A webhook's last delivery (GET /v1/webhooks/{id}): the newest attempt along its own index,
    // not a sort of every delivery the target ever had (300 ms of SQLite's loop at 500,000).
    id: "0520_deliveries_last_attempt",
    up: () => ["CREATE INDEX event_deliveries_target_updated ON event_deliveries (target_id, updated_at)"],
  },
  {
    // What is still open, along indexes of what is open only. A delivery is claimed when no earlier
    // one of its target and path is pending, and a disabled target fails its pending ones; a poll
    // and a full buffer's trim read a subscription's unacknowledged events. Each walked everything
    // the target or subscription had settled or acknowledged within retention on SQLite (200,000:
    // 20-49 ms per statement, on every claim, poll and inbox write; round 34). The full indexes
    // they replace served nothing else: a subscription's rows are also found by its primary key.
    id: "0522_open_deliveries_and_inbox",
    up: () => [
      "CREATE INDEX event_deliveries_pending_order ON event_deliveries (target_id, ordering_key, dispatch_seq) WHERE status = 'pending'",
      "DROP INDEX event_deliveries_order",
      "CREATE INDEX subscription_inbox_pending ON subscription_inbox (subscription_id, dispatch_seq) WHERE acked_at IS NULL",
      "DROP INDEX subscription_inbox_seq",
    ],
  },
  {
    // Inbox positions (DeliveryStore.addToInbox): each subscription numbers the events it receives,
    // and a full buffer drops the unacknowledged rows `buffer_size` positions back, a range at the
    // bottom of this index, instead of finding its bound at an OFFSET of `buffer_size` from the top.
    // Rows stored before are numbered in their dispatch order, per subscription.
    id: "0530_inbox_positions",
    up: () => [
      "ALTER TABLE subscriptions ADD COLUMN inbox_pos BIGINT NOT NULL DEFAULT 0",
      "ALTER TABLE subscription_inbox ADD COLUMN inbox_pos BIGINT NOT NULL DEFAULT 0",
      `UPDATE subscription_inbox SET inbox_pos = numbered.pos FROM (
         SELECT subscription_id, event_id, ROW_NUMBER() OVER (PARTITION BY subscription_id ORDER BY dispatch_seq) AS pos FROM subscription_inbox
       ) AS numbered WHERE subscription_inbox.subscription_id = numbered.subscription_id AND subscription_inbox.event_id = numbered.event_id`,
      "UPDATE subscriptions SET inbox_pos = COALESCE((SELECT MAX(inbox_pos) FROM subscription_inbox WHERE subscription_id = subscriptions.id), 0)",
      "CREATE INDEX subscription_inbox_pending_pos ON subscription_inbox (subscription_id, inbox_pos) WHERE acked_at IS NULL",
    ],
  },
];
