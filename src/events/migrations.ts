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
];
