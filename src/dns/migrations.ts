import type { Migration } from "../storage/contract.js";

/** DNS providers (spec/pki.md P7; migration range 0250–0259). Credentials are stored only sealed under the tenant's key. */
export const dnsMigrations: Migration[] = [
  {
    id: "0250_dns_providers",
    up: (t) => [
      `CREATE TABLE dns_providers (
        id TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL,
        partner_id TEXT NOT NULL,
        name TEXT NOT NULL,
        provider_type TEXT NOT NULL,
        config TEXT NOT NULL,
        managed_zones TEXT NOT NULL,
        credentials_ciphertext ${t.blob} NOT NULL,
        credentials_wrapped ${t.blob} NOT NULL,
        credentials_key_id TEXT NOT NULL,
        is_active INTEGER NOT NULL,
        created_by TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
      )`,
      "CREATE UNIQUE INDEX dns_providers_name ON dns_providers (tenant_id, name)",
    ],
  },
];
