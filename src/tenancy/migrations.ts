import type { Migration } from "../storage/contract.js";

export const tenancyMigrations: Migration[] = [
  {
    id: "0001_tenancy",
    up: () => [
      `CREATE TABLE partners (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        created_at BIGINT NOT NULL
      )`,
      `CREATE TABLE tenants (
        id TEXT PRIMARY KEY,
        partner_id TEXT NOT NULL REFERENCES partners (id),
        name TEXT NOT NULL,
        created_at BIGINT NOT NULL
      )`,
      "CREATE INDEX tenants_partner ON tenants (partner_id, id)",
    ],
  },
];
