import type { Migration } from "../storage/contract.js";

/** resilience (src/ops): migration range 0080–0089. */
export const opsMigrations: Migration[] = [
  {
    id: "0080_resilience",
    up: () => [
      // Readiness writes here: a node whose storage cannot take a write is not ready.
      "CREATE TABLE resilience_probe (id INTEGER PRIMARY KEY, at BIGINT NOT NULL)",
      "INSERT INTO resilience_probe (id, at) VALUES (1, 0)",
      // Periodic maintenance (pruning) runs on one node at a time: whoever holds the lease.
      "CREATE TABLE maintenance_leases (name TEXT PRIMARY KEY, owner TEXT, lease_until BIGINT NOT NULL, last_run_at BIGINT NOT NULL)",
      // Retention scans by age.
      "CREATE INDEX events_created ON events (created_at)",
      "CREATE INDEX event_deliveries_settled ON event_deliveries (status, updated_at)",
      "CREATE INDEX subscription_inbox_acked ON subscription_inbox (acked_at)",
    ],
  },
  {
    id: "0081_retention_lookups",
    up: () => [
      // Retention keeps an event while a delivery or inbox row still refers to it.
      "CREATE INDEX event_deliveries_event ON event_deliveries (event_id)",
      "CREATE INDEX subscription_inbox_event ON subscription_inbox (event_id)",
      "CREATE INDEX subscription_inbox_created ON subscription_inbox (created_at)",
    ],
  },
];
